// The one place the process environment is read. Every variable the app uses is declared here with its
// fix-it hint, so a bad value produces one message that lists every problem at once.
import { readFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { parseLimitNames } from "../workspace/limit-names.js";
import { parseRegistryHosts } from "../workspace/registry-proxy.js";

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === "" ? undefined : value));

const url = (hint: string) => optionalText.refine((value) => value === undefined || URL.canParse(value), { message: hint });

const boolFlag = z
  .enum(["true", "false", "1", "0", ""])
  .optional()
  .transform((value) => value === "true" || value === "1");

/** How to fix each variable, shown next to the problem. */
const hints: Record<string, string> = {
  APP_ID: "set APP_ID to the numeric App ID from the GitHub App settings page, or unset it to open the setup page",
  PRIVATE_KEY: "set PRIVATE_KEY to the PEM text of the app's private key (or use PRIVATE_KEY_PATH)",
  PRIVATE_KEY_PATH: "set PRIVATE_KEY_PATH to a readable .pem file downloaded from the GitHub App settings page",
  WEBHOOK_SECRET: "set WEBHOOK_SECRET to the webhook secret configured for the GitHub App",
  DATABASE_URL: "set DATABASE_URL to a postgres:// URL, or unset it to use the embedded PostgreSQL",
  MIGRATION_DATABASE_URL:
    "set MIGRATION_DATABASE_URL to the postgres:// URL of the role that owns the database (it runs the migrations; DATABASE_URL is then the app's role, aura_app), or unset it",
  AURA_DATA_DIR: "set AURA_DATA_DIR to a writable directory (default ./.data)",
  PORT: "set PORT to a whole number from 1 to 65535 (default 3000)",
  LOG_LEVEL: "set LOG_LEVEL to one of trace, debug, info, warn, error, fatal, silent",
  GHE_HOST: "set GHE_HOST to a host name such as github.example.com or github.example.com:8443, without a protocol or path",
  GHE_PROTOCOL: "set GHE_PROTOCOL to https or http",
  OPENAI_BASE_URL: "set OPENAI_BASE_URL to an http(s) URL such as https://api.openai.com/v1",
  GEMINI_BASE_URL: "set GEMINI_BASE_URL to an http(s) URL such as https://generativelanguage.googleapis.com",
  OLLAMA_HOST: "set OLLAMA_HOST to an http(s) URL such as http://127.0.0.1:11434",
  AURA_ALLOW_UNSANDBOXED: "set AURA_ALLOW_UNSANDBOXED to true or false",
  AURA_ALLOW_LOCAL_CLONE: "set AURA_ALLOW_LOCAL_CLONE to true or false",
  AURA_SETUP_NETWORK: "set AURA_SETUP_NETWORK to true or false",
  AURA_SETUP_REGISTRY_HOSTS: "set AURA_SETUP_REGISTRY_HOSTS to comma-separated host or host:port entries (port 443 when omitted), e.g. registry.npmjs.org:443",
  AURA_SETUP_INSTALL_SCRIPTS: "set AURA_SETUP_INSTALL_SCRIPTS to true or false",
  AURA_SANDBOX_ACCEPT_MISSING:
    "set AURA_SANDBOX_ACCEPT_MISSING to a comma-separated list of the sandbox limits runs in bubblewrap may go without (e.g. cgroup,workspace,uid), or leave it empty so every limit must hold",
  AURA_SANDBOX_CGROUP: "set AURA_SANDBOX_CGROUP to the absolute path of a cgroup v2 directory delegated to the app, e.g. /sys/fs/cgroup/aura.service",
  AURA_SANDBOX_UID_BASE: "set AURA_SANDBOX_UID_BASE to a whole number from 1000 to 4294000000 (default 200000), the first host uid sandbox runs take",
  AURA_SANDBOX_UID_COUNT: "set AURA_SANDBOX_UID_COUNT to a whole number from 1 to 65536 (default 64), how many sandbox runs this host may have at once",
  AURA_SANDBOX: "set AURA_SANDBOX to bwrap (commands run in bubblewrap on this host, the default) or kubernetes (each command runs as a Kubernetes Job)",
  AURA_SANDBOX_K8S_NAMESPACE:
    "set AURA_SANDBOX_K8S_NAMESPACE to a Kubernetes namespace name, or unset it to use the app's own (the service account's namespace file)",
  AURA_SANDBOX_K8S_IMAGE:
    "set AURA_SANDBOX_K8S_IMAGE to the image the sandbox Jobs run commands in (it needs /bin/sh and the repositories' toolchains), e.g. ghcr.io/example/aura-sandbox:1",
  AURA_SANDBOX_K8S_PVC:
    "set AURA_SANDBOX_K8S_PVC to the name of the ReadWriteMany PersistentVolumeClaim holding the workspace root (deploy/kubernetes/job-sandbox/workspaces-pvc.yaml)",
  AURA_SANDBOX_K8S_MOUNT_PATH:
    "set AURA_SANDBOX_K8S_MOUNT_PATH to the absolute path where that claim is mounted in the app's pod; the workspace root (AURA_DATA_DIR/workspaces) must be at or below it",
  AURA_SANDBOX_K8S_RUN_AS_USER:
    "set AURA_SANDBOX_K8S_RUN_AS_USER to a whole number from 1 to 2147483647 (default 10001, the image's aura user), the uid sandbox Jobs run as",
  AURA_SANDBOX_K8S_CPU: 'set AURA_SANDBOX_K8S_CPU to a Kubernetes CPU quantity such as 2 or 500m (default "2")',
  AURA_SANDBOX_K8S_START_TIMEOUT_SECONDS:
    "set AURA_SANDBOX_K8S_START_TIMEOUT_SECONDS to whole seconds from 5 to 3600 (default 120), how long a sandbox pod may take to be scheduled and pull its image",
  AURA_SANDBOX_K8S_API_URL:
    "set AURA_SANDBOX_K8S_API_URL to the https:// URL of the Kubernetes API server, or unset it inside a cluster (KUBERNETES_SERVICE_HOST/PORT are used)",
  AURA_SANDBOX_K8S_SERVICE_ACCOUNT_DIR:
    "set AURA_SANDBOX_K8S_SERVICE_ACCOUNT_DIR to an absolute directory holding token, ca.crt and namespace (default /var/run/secrets/kubernetes.io/serviceaccount)",
  KUBERNETES_SERVICE_HOST: "KUBERNETES_SERVICE_HOST is set by Kubernetes in every pod; unset it outside a cluster",
  KUBERNETES_SERVICE_PORT: "KUBERNETES_SERVICE_PORT is set by Kubernetes in every pod: a whole number from 1 to 65535",
  AURA_AUDIT_RETENTION_DAYS: "set AURA_AUDIT_RETENTION_DAYS to a whole number of days, at least 30",
  AURA_PG_PORT: "set AURA_PG_PORT to a whole number from 1 to 65535",
  AURA_GITHUB_WRITE_INTERVAL_MS:
    "set AURA_GITHUB_WRITE_INTERVAL_MS to whole milliseconds from 0 to 60000 (default 1000; 0 turns write pacing off, for a fake GitHub only)",
  AURA_GITHUB_WRITES_PER_MINUTE:
    "set AURA_GITHUB_WRITES_PER_MINUTE to a whole number from 1 to 80, GitHub's secondary limit of content-creating requests a minute per installation (default 60)",
  AURA_GITHUB_WRITES_PER_HOUR:
    "set AURA_GITHUB_WRITES_PER_HOUR to a whole number from 1 to 500, GitHub's secondary limit of content-creating requests an hour per installation (default 450)",
  AURA_EDIT_MAX_FILE_BYTES: "set AURA_EDIT_MAX_FILE_BYTES to whole bytes from 1 to 1073741824 (default 1048576, 1 MiB)",
  AURA_EDIT_MAX_CHANGE_BYTES: "set AURA_EDIT_MAX_CHANGE_BYTES to whole bytes from 1 to 1073741824 (default 5242880, 5 MiB)",
  AURA_BODY_BYTES_IN_FLIGHT:
    "set AURA_BODY_BYTES_IN_FLIGHT to whole bytes from 26214400 (one payload of GitHub's 25 MB maximum) to 4294967296 (default 67108864, 64 MiB)",
  AURA_READY_DETAIL: "set AURA_READY_DETAIL to local (requests from this host that no proxy forwarded see /ready's detail) or none",
  LOG_FORMAT: "set LOG_FORMAT to json or pretty, or unset it (pretty on a terminal, JSON otherwise)",
  AURA_METRICS_TOKEN:
    "set AURA_METRICS_TOKEN to at least 16 random characters (e.g. the output of `openssl rand -hex 32`), or unset it so only this host can read /metrics",
  OTEL_EXPORTER_OTLP_ENDPOINT:
    "set OTEL_EXPORTER_OTLP_ENDPOINT to the http(s) URL of an OTLP/HTTP collector, e.g. http://127.0.0.1:4318, or unset it to export no traces",
  AURA_APP_SLUG: "set AURA_APP_SLUG to the app's slug as shown in its public URL (lower-case letters, digits, dashes)",
  GITHUB_CLIENT_ID: "set GITHUB_CLIENT_ID to the Client ID shown on the GitHub App settings page (the setup page writes it), with GITHUB_CLIENT_SECRET",
  GITHUB_CLIENT_SECRET:
    "set GITHUB_CLIENT_SECRET to a client secret generated on the GitHub App settings page (the setup page writes it), with GITHUB_CLIENT_ID",
  AURA_CONSOLE_SECRET:
    "set AURA_CONSOLE_SECRET to at least 32 random characters (e.g. the output of `openssl rand -hex 32`), or unset it to derive the console's key from the App's private key",
  AURA_CONSOLE_URL:
    "set AURA_CONSOLE_URL to the console's public address ending in /console, e.g. https://aura.example.com/console (its /callback must be a callback URL of the GitHub App), or unset it",
};

const hostLabel = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const hostWithPort = new RegExp(`^(?:${hostLabel}(?:\\.${hostLabel})*|\\[[0-9A-Fa-f:.]+\\])(?::(\\d{1,5}))?$`);

/** `ghe.example.com`, `ghe.example.com:8443`, `10.0.0.5:8443` or `[::1]:8443`; no protocol, path or user. */
function isHostWithPort(value: string): boolean {
  const match = hostWithPort.exec(value);
  if (!match) return false;
  const port = match[1];
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
}

export const Env = z
  .object({
    APP_ID: optionalText.refine((value) => value === undefined || /^\d+$/.test(value), {
      message: "must be a number",
    }),
    PRIVATE_KEY: optionalText,
    PRIVATE_KEY_PATH: optionalText,
    WEBHOOK_SECRET: optionalText,
    DATABASE_URL: optionalText.refine((value) => value === undefined || /^postgres(ql)?:\/\//.test(value), {
      message: "must start with postgres:// or postgresql://",
    }),
    MIGRATION_DATABASE_URL: optionalText.refine((value) => value === undefined || /^postgres(ql)?:\/\//.test(value), {
      message: "must start with postgres:// or postgresql://",
    }),
    AURA_DATA_DIR: z.string().default(".data"),
    AURA_PG_PORT: z.coerce.number().int().min(1).max(65535).optional(),
    PORT: z.coerce.number().int().min(1).max(65535).default(3000),
    HOST: optionalText,
    LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
    AURA_READY_DETAIL: z.enum(["local", "none"]).default("local"),
    LOG_FORMAT: z
      .enum(["json", "pretty", ""])
      .optional()
      .transform((value) => (value === "" ? undefined : value)),
    // Who may read /metrics besides this host (src/observability/metrics-route.ts).
    AURA_METRICS_TOKEN: optionalText.refine((value) => value === undefined || value.length >= 16, { message: "is shorter than 16 characters" }),
    // The standard OpenTelemetry variable: traces are exported only when it is set (src/observability/tracing.ts).
    OTEL_EXPORTER_OTLP_ENDPOINT: optionalText.refine((value) => value === undefined || /^https?:\/\//.test(value), { message: "must be an http(s) URL" }),
    // Request bodies held at once over all connections (src/server/body-limit.ts); one GitHub payload must fit.
    AURA_BODY_BYTES_IN_FLIGHT: z.coerce
      .number()
      .int()
      .min(25 * 1024 ** 2)
      .max(4 * 1024 ** 3)
      .default(64 * 1024 ** 2),
    // A host name or address with an optional port, as Probot uses it (`https://${GHE_HOST}/api/v3`).
    GHE_HOST: optionalText.refine((value) => value === undefined || isHostWithPort(value), {
      message: "must be a host name with an optional port",
    }),
    GHE_PROTOCOL: z.enum(["https", "http"]).default("https"),
    OPENAI_API_KEY: optionalText,
    OPENAI_BASE_URL: url("must be a URL"),
    GEMINI_API_KEY: optionalText,
    GEMINI_BASE_URL: url("must be a URL"),
    OLLAMA_HOST: url("must be a URL").transform((value) => value ?? "http://127.0.0.1:11434"),
    AURA_ALLOW_UNSANDBOXED: boolFlag,
    AURA_ALLOW_LOCAL_CLONE: boolFlag,
    AURA_SETUP_NETWORK: boolFlag,
    // The only destinations the setup phase's proxy lets through (see src/workspace/registry-proxy.ts).
    AURA_SETUP_REGISTRY_HOSTS: z
      .string()
      .optional()
      .transform((value, ctx) => {
        try {
          const hosts = parseRegistryHosts(value === undefined || value.trim() === "" ? "registry.npmjs.org:443" : value);
          if (hosts.length > 0) return hosts;
          ctx.addIssue({ code: "custom", message: "names no host" });
        } catch (error) {
          ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
        }
        return z.NEVER;
      }),
    AURA_SETUP_INSTALL_SCRIPTS: boolFlag,
    // Narrower than AURA_ALLOW_UNSANDBOXED: these limits may be missing, bubblewrap itself never.
    AURA_SANDBOX_ACCEPT_MISSING: z
      .string()
      .optional()
      .transform((value, ctx) => {
        try {
          return parseLimitNames(value ?? "");
        } catch (error) {
          ctx.addIssue({ code: "custom", message: error instanceof Error ? error.message : String(error) });
          return z.NEVER;
        }
      }),
    AURA_SANDBOX_CGROUP: optionalText.refine((value) => value === undefined || path.isAbsolute(value), { message: "must be an absolute path" }),
    AURA_SANDBOX_UID_BASE: z.coerce.number().int().min(1000).max(4_294_000_000).default(200_000),
    AURA_SANDBOX_UID_COUNT: z.coerce.number().int().min(1).max(65_536).default(64),
    // Which back end runs setup and test commands (src/workspace/sandbox.ts, kubernetes-sandbox.ts).
    AURA_SANDBOX: z.enum(["bwrap", "kubernetes"]).default("bwrap"),
    AURA_SANDBOX_K8S_NAMESPACE: optionalText.refine((value) => value === undefined || /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(value), {
      message: "is not a namespace name",
    }),
    AURA_SANDBOX_K8S_IMAGE: optionalText,
    AURA_SANDBOX_K8S_PVC: optionalText.refine((value) => value === undefined || /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(value), {
      message: "is not a PersistentVolumeClaim name",
    }),
    AURA_SANDBOX_K8S_MOUNT_PATH: optionalText.refine((value) => value === undefined || path.isAbsolute(value), { message: "must be an absolute path" }),
    AURA_SANDBOX_K8S_RUN_AS_USER: z.coerce.number().int().min(1).max(2_147_483_647).default(10_001),
    AURA_SANDBOX_K8S_CPU: optionalText
      .refine((value) => value === undefined || /^(\d+(\.\d+)?|\d+m)$/.test(value), { message: "is not a CPU quantity" })
      .transform((value) => value ?? "2"),
    AURA_SANDBOX_K8S_START_TIMEOUT_SECONDS: z.coerce.number().int().min(5).max(3600).default(120),
    AURA_SANDBOX_K8S_API_URL: optionalText.refine((value) => value === undefined || /^https?:\/\/[^/]+\/?$/.test(value), {
      message: "must be an http(s) URL with no path",
    }),
    AURA_SANDBOX_K8S_SERVICE_ACCOUNT_DIR: optionalText
      .refine((value) => value === undefined || path.isAbsolute(value), { message: "must be an absolute path" })
      .transform((value) => value ?? "/var/run/secrets/kubernetes.io/serviceaccount"),
    KUBERNETES_SERVICE_HOST: optionalText,
    KUBERNETES_SERVICE_PORT: z.coerce.number().int().min(1).max(65535).default(443),
    AURA_AUDIT_RETENTION_DAYS: z.coerce.number().int().min(30).default(365),
    AURA_GITHUB_WRITE_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(1_000),
    AURA_GITHUB_WRITES_PER_MINUTE: z.coerce.number().int().min(1).max(80).default(60),
    AURA_GITHUB_WRITES_PER_HOUR: z.coerce.number().int().min(1).max(500).default(450),
    AURA_EDIT_MAX_FILE_BYTES: z.coerce
      .number()
      .int()
      .min(1)
      .max(1024 ** 3)
      .default(1024 ** 2),
    AURA_EDIT_MAX_CHANGE_BYTES: z.coerce
      .number()
      .int()
      .min(1)
      .max(1024 ** 3)
      .default(5 * 1024 ** 2),
    AURA_APP_SLUG: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]*$/)
      .default("aura-orchestra"),
    // The console's sign-in (src/console/): the App's own OAuth client, as Probot's manifest flow writes it.
    GITHUB_CLIENT_ID: optionalText,
    GITHUB_CLIENT_SECRET: optionalText,
    AURA_CONSOLE_SECRET: optionalText.refine((value) => value === undefined || value.length >= 32, { message: "is shorter than 32 characters" }),
    AURA_CONSOLE_URL: optionalText.refine((value) => value === undefined || /^https?:\/\/[^/?#]+(\/[^?#]*)?\/console$/.test(value), {
      message: "must be an http(s) URL whose path ends in /console",
    }),
    // `aura mcp` (stdio, started by a person's IDE): who the caller is (a personal token, else the GitHub token's
    // user), and the person's own GitHub token, with which submit_requirement files issues as them.
    AURA_MCP_TOKEN: optionalText,
    GITHUB_TOKEN: optionalText,
  })
  .superRefine((env, ctx) => {
    if (env.AURA_SANDBOX === "kubernetes") requireKubernetesSandbox(env, ctx);
    if (env.MIGRATION_DATABASE_URL !== undefined && env.DATABASE_URL === undefined) {
      ctx.addIssue({ code: "custom", path: ["MIGRATION_DATABASE_URL"], message: "needs DATABASE_URL (the app's own role) as well" });
    }
    if (env.APP_ID !== undefined && env.PRIVATE_KEY === undefined && env.PRIVATE_KEY_PATH === undefined) {
      ctx.addIssue({ code: "custom", path: ["PRIVATE_KEY"], message: "is required when APP_ID is set" });
    }
    // Probot falls back to a well-known default secret; a real app must never accept forged deliveries.
    if (env.APP_ID !== undefined && env.WEBHOOK_SECRET === undefined) {
      ctx.addIssue({ code: "custom", path: ["WEBHOOK_SECRET"], message: "is required when APP_ID is set" });
    }
    if (env.PRIVATE_KEY_PATH !== undefined && env.PRIVATE_KEY === undefined) {
      try {
        readFileSync(path.resolve(env.PRIVATE_KEY_PATH));
      } catch {
        ctx.addIssue({ code: "custom", path: ["PRIVATE_KEY_PATH"], message: "cannot be read" });
      }
    }
  });

export type Env = z.infer<typeof Env>;

export type AppConfig = Env & {
  /** The private key PEM, read from PRIVATE_KEY or PRIVATE_KEY_PATH. */
  privateKey: string | undefined;
  /** Whether the app has GitHub credentials; without them the setup page is served. */
  hasCredentials: boolean;
  /** REST base URL for GitHub or GitHub Enterprise Server. */
  githubApiUrl: string;
  /** Web base URL (clone URLs, links). */
  githubWebUrl: string;
  /** The app's bot login (`<slug>[bot]`): author of its commits, comments and statuses. */
  botLogin: string;
  /** The bot's git identity. */
  botIdentity: { name: string; email: string };
};

/** AURA_SANDBOX=kubernetes needs an image, the shared claim holding the workspace root, and an API server. */
function requireKubernetesSandbox(
  env: Pick<
    z.infer<typeof Env>,
    "AURA_SANDBOX_K8S_IMAGE" | "AURA_SANDBOX_K8S_PVC" | "AURA_SANDBOX_K8S_MOUNT_PATH" | "AURA_SANDBOX_K8S_API_URL" | "KUBERNETES_SERVICE_HOST" | "AURA_DATA_DIR"
  >,
  ctx: z.RefinementCtx,
): void {
  const need = (variable: string, value: string | undefined) => {
    if (value === undefined) ctx.addIssue({ code: "custom", path: [variable], message: "is required when AURA_SANDBOX=kubernetes" });
  };
  need("AURA_SANDBOX_K8S_IMAGE", env.AURA_SANDBOX_K8S_IMAGE);
  need("AURA_SANDBOX_K8S_PVC", env.AURA_SANDBOX_K8S_PVC);
  need("AURA_SANDBOX_K8S_MOUNT_PATH", env.AURA_SANDBOX_K8S_MOUNT_PATH);
  if (env.AURA_SANDBOX_K8S_API_URL === undefined && env.KUBERNETES_SERVICE_HOST === undefined)
    ctx.addIssue({
      code: "custom",
      path: ["AURA_SANDBOX_K8S_API_URL"],
      message: "is required when AURA_SANDBOX=kubernetes outside a cluster (no KUBERNETES_SERVICE_HOST)",
    });
  const mount = env.AURA_SANDBOX_K8S_MOUNT_PATH;
  const relative = mount === undefined ? "" : path.relative(mount, path.resolve(env.AURA_DATA_DIR, "workspaces"));
  if (mount !== undefined && path.isAbsolute(mount) && (relative.startsWith("..") || path.isAbsolute(relative)))
    ctx.addIssue({
      code: "custom",
      path: ["AURA_SANDBOX_K8S_MOUNT_PATH"],
      message: `does not hold the workspace root ${path.resolve(env.AURA_DATA_DIR, "workspaces")} (AURA_DATA_DIR/workspaces), so the Jobs could not see the work trees`,
    });
}

/** A configuration problem a person must fix; its message lists every bad variable. */
export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; problem: string; fix: string }[]) {
    super(
      [
        `Aura Orchestra cannot start: ${problems.length} configuration problem${problems.length === 1 ? "" : "s"}.`,
        ...problems.map((p) => `  - ${p.variable} ${p.problem}: ${p.fix}.`),
        "See .env.example for every variable and its default.",
      ].join("\n"),
    );
    this.name = "ConfigError";
  }
}

/** Parses the environment. Throws ConfigError listing every problem. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): AppConfig {
  const result = Env.safeParse(source);
  if (!result.success) {
    const seen = new Set<string>();
    const problems = [];
    for (const issue of result.error.issues) {
      const variable = String(issue.path[0] ?? "environment");
      if (seen.has(variable)) continue;
      seen.add(variable);
      problems.push({
        variable,
        problem: issue.code === "invalid_value" || issue.code === "invalid_type" ? "is invalid" : issue.message,
        fix: hints[variable] ?? "check its value",
      });
    }
    throw new ConfigError(problems);
  }
  const env = result.data;
  const privateKey = env.PRIVATE_KEY?.replace(/\\n/g, "\n") ?? (env.PRIVATE_KEY_PATH ? readFileSync(path.resolve(env.PRIVATE_KEY_PATH), "utf8") : undefined);
  const webHost = env.GHE_HOST ?? "github.com";
  return {
    ...env,
    privateKey,
    hasCredentials: env.APP_ID !== undefined && privateKey !== undefined,
    githubApiUrl: env.GHE_HOST ? `${env.GHE_PROTOCOL}://${env.GHE_HOST}/api/v3` : "https://api.github.com",
    githubWebUrl: `${env.GHE_PROTOCOL}://${webHost}`,
    botLogin: `${env.AURA_APP_SLUG}[bot]`,
    botIdentity: {
      name: `${env.AURA_APP_SLUG}[bot]`,
      // An e-mail domain has no port.
      email: `${env.APP_ID ?? "0"}+${env.AURA_APP_SLUG}[bot]@users.noreply.${env.GHE_HOST?.replace(/:\d+$/, "") ?? "github.com"}`,
    },
  };
}
