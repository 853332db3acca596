// Composition root: database (embedded or DATABASE_URL), migrations, the Probot server with the Aura app
// (or Probot's setup page when there are no GitHub credentials), health routes, and clean shutdown.
// Migrations run as the database owner; on the embedded default, and with MIGRATION_DATABASE_URL (the owner)
// beside DATABASE_URL, the app itself then connects as the non-owner role aura_app, so it can append to the
// audit log only through the chain function.
import type pg from "pg";
import type { Logger } from "pino";
import { Probot, Server } from "probot";
import { runMigrations as runGraphileMigrations } from "graphile-worker";
import { AuditLog } from "../audit/append.js";
import type { AppConfig } from "../config/env.js";
import { actsAsAppRole, checkAppRole, grantAppRole, prepareAppRole, requireSeparateAppRole, type AppRoleCheck } from "../db/app-role.js";
import { setAuditRetention } from "../audit/retention.js";
import { getFreePort, startEmbeddedPostgres } from "../db/embedded.js";
import { migrate } from "../db/migrate.js";
import { createPool } from "../db/pool.js";
import { createApp } from "../app.js";
import type { Dispatcher } from "../queue/dispatch.js";
import { retireAuditPartitions } from "../audit/retention.js";
import { loadPolicySet, type Employee, type PolicySet } from "../config/policy-files.js";
import { CircuitBreaker } from "../models/circuit-breaker.js";
import type { ModelClient } from "../models/model-client.js";
import { createGitHubAccess } from "../github/octokit.js";
import { createWritePacer, type WritePacing } from "../github/write-pacer.js";
import { startLeaderElection, type Duty } from "../queue/leader.js";
import { pruneDeliveries } from "../queue/prune-deliveries.js";
import { gateRevivalDuty } from "../queue/revive.js";
import { startWorker, unlockDeadWorkers } from "../queue/worker.js";
import { allDuties, allTasks, dispatchAll } from "../roles.js";
import { createModelRegistry, defaultWorkspaceOptions, type Services } from "../services.js";
import { sandboxStatus, type KubernetesSandboxConfig, type SandboxOptions } from "../workspace/index.js";
import { BodyBudget, withBodyLimit } from "./body-limit.js";
import { healthHandler, mayReadDetail } from "./health.js";
import { createLogger, withJobContext } from "../observability/log.js";
import { metricsHandler } from "../observability/metrics-route.js";
import { startTracing } from "../observability/tracing.js";
import { mcpHttpHandler } from "../console/mcp-http.js";
import { LiveHub } from "../console/live.js";
import { consoleHandler, setupModeConsole } from "../console/server.js";
import { closedSetupRoutes, closeSetupOnceConfigured } from "./setup-routes.js";

export type RunningAura = {
  port: number;
  /** The connection string of the app's pool (aura_app on the embedded default). */
  databaseUrl: string;
  /** The owner's connection string, used for migrations. */
  ownerDatabaseUrl: string;
  mode: "app" | "setup";
  /** Request bodies held now, the most held at once, and AURA_BODY_BYTES_IN_FLIGHT. */
  requestBodies: Pick<BodyBudget, "held" | "peak" | "limit">;
  stop: () => Promise<void>;
};

type SetupAppFactory = (options: Record<string, unknown>) => Parameters<Server["loadHandlerFactory"]>[0];
type UpdateEnv = (env: Record<string, string>) => Record<string, string>;

/**
 * Probot's setup app (manifest registration) and the function it writes `.env` with are not in its public
 * exports; load them from the package.
 */
async function loadSetupApp(): Promise<{ setupAppFactory: SetupAppFactory; updateEnv: UpdateEnv }> {
  const entry = import.meta.resolve("probot");
  const { setupAppFactory } = (await import(new URL("./apps/setup.js", entry).href)) as { setupAppFactory: SetupAppFactory };
  const { updateEnv } = (await import(new URL("./helpers/update-env.js", entry).href)) as { updateEnv: UpdateEnv };
  return { setupAppFactory, updateEnv };
}

type StartOptions = {
  log?: Logger;
  dispatch?: Dispatcher;
  host?: string;
  /** Listen port; 0 picks a free one (tests). Defaults to PORT. */
  port?: number;
  /** Where Probot's setup page writes the registered app's credentials (default: ./.env). */
  updateEnv?: (env: Record<string, string>) => Record<string, string>;
  /** Run job workers and take part in leader election in this process (default true). */
  workers?: boolean;
  /** Tests and benchmarks: replace the model client of an employee. */
  modelOverride?: (employee: Employee) => ModelClient;
  /** Tests and benchmarks: the policies to run with instead of those read from policies/. */
  policies?: PolicySet;
  now?: () => Date;
  workerPollMs?: number;
  /** Called after each job this process ran has ended (succeeded, failed or will be retried): local mode's watch loop. */
  onJobEnd?: () => void;
  /** Run only these job types (tests of one role); every other job stays queued. */
  onlyTasks?: readonly string[];
  leaderRetryMs?: number;
  /** Tests and benchmarks against a fake GitHub: shorter windows for the shared write pacer (src/github/write-pacer.ts). */
  githubWriteWindows?: Pick<WritePacing, "minuteMs" | "hourMs" | "jitterMs">;
};

/** Shutdown steps, run last-registered first. */
type Cleanups = (() => Promise<void>)[];

export async function startAura(config: AppConfig, options: StartOptions = {}): Promise<RunningAura> {
  // A job's lines carry its ids, through every child of this logger (src/observability/log.ts).
  const log = withJobContext(options.log ?? (await createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT })));
  const cleanups: Cleanups = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((error: unknown) => log.error({ err: error }, "shutdown step failed"));
    }
    cleanups.length = 0;
  };

  try {
    cleanups.push(await startTracing(config.OTEL_EXPORTER_OTLP_ENDPOINT, log));
    const { ownerDatabaseUrl, databaseUrl } = await prepareDatabase(config, log, cleanups);
    const { pool, audit, role } = await connectAsApp(config, databaseUrl, log, cleanups);
    const sandbox = sandboxOptions(config, log);
    logSandboxAtStart(sandboxStatus(sandbox), log);

    // Probot's Server treats port 0 as "use 3000", so a free port is chosen here.
    const port = options.port === 0 ? await getFreePort() : (options.port ?? config.PORT);
    const requestBodies = new BodyBudget(config.AURA_BODY_BYTES_IN_FLIGHT);
    const server = createServer(config, { host: options.host, port, log, requestBodies });
    const mode = config.hasCredentials ? "app" : "setup";
    if (mode === "app") {
      await loadApp(server, { config, options, log, pool, audit, sandbox, databaseUrl, cleanups });
    } else {
      await loadSetupPage(server, { port, log, updateEnv: options.updateEnv });
    }
    server.addHandler(healthRoutes(config, pool, sandbox, role));
    server.addHandler(metricsHandler({ pool, token: config.AURA_METRICS_TOKEN, local: (req) => mayReadDetail(req, config.AURA_READY_DETAIL), log }));
    await server.start();
    cleanups.push(() => server.stop());
    log.info(
      { port: server.port, mode },
      mode === "app" ? "Aura Orchestra is running" : "Aura Orchestra is in setup mode: open the page above to register the GitHub App",
    );
    return { port: server.port, databaseUrl, ownerDatabaseUrl, mode, requestBodies, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Starts the embedded database when no URL is given, migrates as the owner, sets the audit retention, and
 * returns the owner's URL and the one the app connects with.
 */
async function prepareDatabase(config: AppConfig, log: Logger, cleanups: Cleanups): Promise<{ ownerDatabaseUrl: string; databaseUrl: string }> {
  let ownerDatabaseUrl = config.MIGRATION_DATABASE_URL ?? config.DATABASE_URL;
  if (!ownerDatabaseUrl) {
    log.info({ dataDir: config.AURA_DATA_DIR }, "starting embedded PostgreSQL");
    const embedded = await startEmbeddedPostgres({ dataDir: config.AURA_DATA_DIR, port: config.AURA_PG_PORT });
    cleanups.push(embedded.stop);
    ownerDatabaseUrl = embedded.url;
  }
  const applied = await migrate(ownerDatabaseUrl);
  if (applied.length > 0) log.info({ applied }, "migrations applied");
  await runGraphileMigrations({ connectionString: ownerDatabaseUrl });
  // The retention period is the owner's to set: the database refuses the app role any earlier cutoff.
  await setAuditRetention(ownerDatabaseUrl, config.AURA_AUDIT_RETENTION_DAYS);
  // The embedded default switches to its non-owner role; with MIGRATION_DATABASE_URL the owner grants
  // aura_app what the worker needs and DATABASE_URL must be aura_app; DATABASE_URL alone is used as given.
  const databaseUrl = await appDatabaseUrl(config, ownerDatabaseUrl);
  return { ownerDatabaseUrl, databaseUrl };
}

/** The app's pool and audit log, and which database role it turned out to be (logged, and refused if wrong). */
async function connectAsApp(config: AppConfig, databaseUrl: string, log: Logger, cleanups: Cleanups) {
  const pool = createPool(databaseUrl, { onError: (error) => log.warn({ reason: error.message }, "a database connection failed") });
  cleanups.push(() => pool.end());
  const audit = new AuditLog(pool);
  const role = await checkAppRole(pool);
  if (config.MIGRATION_DATABASE_URL) requireSeparateAppRole(role, await actsAsAppRole(pool));
  if (role.warnings.length > 0) log.warn({ role: role.role, warnings: role.warnings }, "the app's database role can write the audit log directly");
  else log.info({ role: role.role }, "the app connects as a non-owner role; audit appends go through audit.append_events");
  return { pool, audit, role };
}

/** The sandbox settings from the environment (also the command line's, for `aura eval`). */
export function sandboxOptions(config: AppConfig, log: Logger): SandboxOptions {
  return {
    allowUnsandboxed: config.AURA_ALLOW_UNSANDBOXED,
    acceptMissing: config.AURA_SANDBOX_ACCEPT_MISSING,
    allowSetupNetwork: config.AURA_SETUP_NETWORK,
    registryHosts: config.AURA_SETUP_REGISTRY_HOSTS,
    allowInstallScripts: config.AURA_SETUP_INSTALL_SCRIPTS,
    ...(config.AURA_SANDBOX_CGROUP ? { cgroupDir: config.AURA_SANDBOX_CGROUP } : {}),
    uidPool: { base: config.AURA_SANDBOX_UID_BASE, count: config.AURA_SANDBOX_UID_COUNT },
    ...(config.AURA_SANDBOX === "kubernetes" ? { kubernetes: kubernetesSandboxConfig(config) } : {}),
    onEgress: (event) => {
      if (event.decision === "refused") log.warn({ egress: event }, "setup sandbox: refused a connection to a host that is not an allowed registry");
      else log.debug({ egress: event }, "setup sandbox: registry connection");
    },
  };
}

/** AURA_SANDBOX=kubernetes: the Jobs' settings (loadConfig has checked that the required ones are set). */
function kubernetesSandboxConfig(config: AppConfig): KubernetesSandboxConfig {
  const host = config.KUBERNETES_SERVICE_HOST ?? "";
  return {
    apiUrl: config.AURA_SANDBOX_K8S_API_URL ?? `https://${host.includes(":") ? `[${host}]` : host}:${config.KUBERNETES_SERVICE_PORT}`,
    serviceAccountDir: config.AURA_SANDBOX_K8S_SERVICE_ACCOUNT_DIR,
    ...(config.AURA_SANDBOX_K8S_NAMESPACE ? { namespace: config.AURA_SANDBOX_K8S_NAMESPACE } : {}),
    image: config.AURA_SANDBOX_K8S_IMAGE ?? "",
    pvc: config.AURA_SANDBOX_K8S_PVC ?? "",
    mountPath: config.AURA_SANDBOX_K8S_MOUNT_PATH ?? "",
    runAsUser: config.AURA_SANDBOX_K8S_RUN_AS_USER,
    cpu: config.AURA_SANDBOX_K8S_CPU,
    startTimeoutMs: config.AURA_SANDBOX_K8S_START_TIMEOUT_SECONDS * 1000,
  };
}

/** Detected once, at start: whether bubblewrap starts and which limit mechanism works. */
function logSandboxAtStart(sandboxAtStart: ReturnType<typeof sandboxStatus>, log: Logger): void {
  if (sandboxAtStart.mode === "bwrap" || sandboxAtStart.mode === "kubernetes") log.info({ sandbox: sandboxAtStart }, "sandbox ready");
  else if (sandboxAtStart.mode === "unavailable") log.warn({ sandbox: sandboxAtStart }, "no complete sandbox: setup and test commands are refused");
  else if (sandboxAtStart.missing === "")
    log.warn(
      { sandbox: sandboxAtStart },
      "sandbox incomplete: runs go without the limits AURA_SANDBOX_ACCEPT_MISSING accepts, and every PR says which held and which were missing",
    );
  else log.warn({ sandbox: sandboxAtStart }, "sandbox incomplete: runs are allowed by AURA_ALLOW_UNSANDBOXED and every PR says which limits held");
}

function createServer(config: AppConfig, at: { host: string | undefined; port: number; log: Logger; requestBodies: BodyBudget }): Server {
  const { log } = at;
  return new Server({
    host: at.host ?? config.HOST ?? "0.0.0.0",
    port: at.port,
    log,
    Probot: withBodyLimit(
      Probot.defaults({
        appId: config.hasCredentials ? Number(config.APP_ID) : 1,
        privateKey: config.privateKey ?? "setup mode: no private key yet",
        secret: config.WEBHOOK_SECRET ?? "setup mode: webhooks are not accepted",
        baseUrl: config.githubApiUrl,
        log,
      }),
      { budget: at.requestBodies, log },
    ),
  });
}

/** The Aura app on the webhook route and, unless turned off, this process's job workers and leader duties. */
async function loadApp(
  server: Server,
  at: {
    config: AppConfig;
    options: StartOptions;
    log: Logger;
    pool: pg.Pool;
    audit: AuditLog;
    sandbox: SandboxOptions;
    databaseUrl: string;
    cleanups: Cleanups;
  },
): Promise<void> {
  const { config, options, log, pool, audit, cleanups } = at;
  await server.load(createApp({ pool, audit, dispatch: options.dispatch ?? dispatchAll }));
  server.addHandler(closedSetupRoutes());
  const breaker = new CircuitBreaker();
  const services: Services = {
    config,
    pool,
    audit,
    log,
    github: createGitHubAccess({
      appId: Number(config.APP_ID),
      privateKey: config.privateKey ?? "",
      baseUrl: config.githubApiUrl,
      log,
      writeIntervalMs: config.AURA_GITHUB_WRITE_INTERVAL_MS,
      // An interval of 0 is for a fake GitHub (tests, benchmarks): no pacing, and no database call per write.
      pacer:
        config.AURA_GITHUB_WRITE_INTERVAL_MS > 0
          ? createWritePacer({
              pool,
              log,
              pacing: { perMinute: config.AURA_GITHUB_WRITES_PER_MINUTE, perHour: config.AURA_GITHUB_WRITES_PER_HOUR, ...options.githubWriteWindows },
              intervalMs: config.AURA_GITHUB_WRITE_INTERVAL_MS,
            })
          : undefined,
    }),
    policies: options.policies ?? loadPolicySet(),
    breaker,
    modelFor: createModelRegistry(config, breaker, options.modelOverride),
    workspace: defaultWorkspaceOptions(config, config.botIdentity),
    sandbox: at.sandbox,
    now: options.now ?? (() => new Date()),
  };
  // MCP over streamable HTTP for holders of a personal token (src/console/mcp-http.ts).
  server.addHandler(mcpHttpHandler(services));
  // The Director's console under /console, with its live stream (src/console/).
  const live = new LiveHub(pool, at.databaseUrl, { onError: (message, error) => log.warn({ err: error }, message) });
  await live.start();
  cleanups.push(() => live.close());
  server.addHandler(consoleHandler({ services, live }));
  if (options.workers === false) return;
  const worker = await startWorker({
    pool,
    log,
    tasks: allTasks(services, options.onlyTasks),
    pollInterval: options.workerPollMs,
    ...(options.onJobEnd ? { onJobEnd: options.onJobEnd } : {}),
  });
  cleanups.push(worker.stop);
  const leadership = startLeaderElection({
    databaseUrl: at.databaseUrl,
    log,
    retryMs: options.leaderRetryMs,
    duties: [...coreDuties(services), ...allDuties(services)],
  });
  cleanups.push(leadership.stop);
}

/** Probot's setup page, which registers the GitHub App and writes its credentials to .env. */
async function loadSetupPage(server: Server, at: { port: number; log: Logger; updateEnv: UpdateEnv | undefined }): Promise<void> {
  const { setupAppFactory, updateEnv } = await loadSetupApp();
  // Once the page has written credentials it takes no others; the restart picks them up from .env.
  let configured = false;
  const setupApp = setupAppFactory({
    host: server.host,
    port: at.port,
    log: at.log.child({ component: "setup" }),
    updateEnv: (env: Record<string, string>) => {
      const written = (at.updateEnv ?? updateEnv)(env);
      if (env.APP_ID) configured = true;
      return written;
    },
  });
  await server.loadHandlerFactory(async (...args) => closeSetupOnceConfigured(await setupApp(...args), () => configured));
  server.addHandler(setupModeConsole());
}

function healthRoutes(config: AppConfig, pool: pg.Pool, sandbox: SandboxOptions, role: AppRoleCheck) {
  return healthHandler({
    pool,
    sandboxMode: () => sandboxStatus(sandbox).mode,
    sandboxDetail: () => {
      const { bwrap, limits, held, missing, accepted, setupEgress, fix } = sandboxStatus(sandbox);
      const acceptedNote = accepted && `${accepted} (accepted by the operator in AURA_SANDBOX_ACCEPT_MISSING)`;
      return {
        bwrap,
        cgroup: limits,
        limitsHeld: held,
        limitsMissing: missing || "none",
        limitsMissingAccepted: acceptedNote || "none",
        setupEgress,
        ...(fix ? { fix } : {}),
      };
    },
    databaseRole: { role: role.role, warnings: role.warnings },
    detail: config.AURA_READY_DETAIL,
  });
}

async function appDatabaseUrl(config: AppConfig, ownerDatabaseUrl: string): Promise<string> {
  if (!config.DATABASE_URL) return prepareAppRole(ownerDatabaseUrl, { dataDir: config.AURA_DATA_DIR });
  if (config.MIGRATION_DATABASE_URL) await grantAppRole(ownerDatabaseUrl);
  return config.DATABASE_URL;
}

/** Duties of the leader that belong to no single role. */
function coreDuties(services: Services): Duty[] {
  return [
    gateRevivalDuty(services.pool, services.log),
    {
      name: "unlock-dead-workers",
      everyMs: 2_000,
      run: async () => {
        const dead = await unlockDeadWorkers(services.pool, 10_000);
        if (dead.length > 0) services.log.warn({ processes: dead }, "unlocked the jobs of dead worker processes");
      },
    },
    {
      name: "webhook-inbox-retention",
      everyMs: 3_600_000,
      run: async () => {
        let removed = 0;
        // Batches keep each statement short; a backlog is worked off over several runs.
        for (let batch = 0; batch < 50; batch++) {
          const n = await pruneDeliveries(services.pool, { now: services.now() });
          removed += n;
          if (n < 1_000) break;
        }
        if (removed > 0) services.log.info({ removed }, "pruned processed webhook deliveries past the redelivery window");
      },
    },
    {
      name: "audit-retention",
      everyMs: 6 * 3_600_000,
      run: async () => {
        const checkpoints = await retireAuditPartitions(services.pool, services.config.AURA_AUDIT_RETENTION_DAYS);
        if (checkpoints.length > 0) services.log.info({ checkpoints }, "retired audit partitions behind checkpoints");
      },
    },
  ];
}
