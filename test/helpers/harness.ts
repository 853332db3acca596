// End-to-end harness: the whole app in-process (Probot server, job worker, leader) on a fresh database,
// GitHub behind nock, deliveries signed like GitHub's, and a way to wait until every job has run.
import { chmodSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import nock from "nock";
import pino, { type Logger } from "pino";
import { afterAll, beforeAll } from "vitest";
import { loadConfig, type AppConfig } from "../../src/config/env.js";
import type { Employee, WorkMode } from "../../src/config/policy-files.js";
import type { ModelClient } from "../../src/models/model-client.js";
import { createGitHubAccess, type GitHubAccess } from "../../src/github/octokit.js";
import { clearPermissionCache } from "../../src/github/permissions.js";
import { JOBS } from "../../src/queue/enqueue.js";
import { startAura, type RunningAura } from "../../src/server/start.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import { testPolicies } from "./services.js";
import { deliver, testPrivateKey, testSecret } from "./webhooks.js";

export const GITHUB_API = "https://api.github.com";

export type Harness = {
  db: TestDatabase;
  aura: RunningAura;
  config: AppConfig;
  dataDir: string;
  deliver: (event: string, payload: unknown, options?: { id?: string }) => Promise<{ status: number; id: string }>;
  /** Resolves when no job is waiting or running; throws with the job's error if one failed. */
  waitForIdle: (timeoutMs?: number) => Promise<void>;
  stop: () => Promise<void>;
};

export type HarnessOptions = {
  env?: Record<string, string>;
  modelOverride?: (employee: Employee) => ModelClient;
  /** Every employee's `tools`; with a modelOverride the default is `none` (see testPolicies). */
  employeeTools?: WorkMode;
  now?: () => Date;
  /** Run only these job types; the others stay queued and `waitForIdle` ignores them. */
  onlyTasks?: readonly string[];
  /** Run every job type but these (they stay queued, as with `onlyTasks`). */
  exceptTasks?: readonly string[];
  /** The app's logger (default: silent, or AURA_TEST_LOG's level). */
  log?: Logger;
};

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const except = options.exceptTasks;
  const onlyTasks = except ? Object.keys(JOBS).filter((name) => !except.includes(name)) : options.onlyTasks;
  const db = await createTestDatabase();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "aura-harness-"));
  // The sandbox runs as an unprivileged user that must be able to reach the work trees.
  chmodSync(dataDir, 0o755);
  const config = loadConfig({
    APP_ID: "123",
    PRIVATE_KEY: testPrivateKey,
    WEBHOOK_SECRET: testSecret,
    DATABASE_URL: db.url,
    AURA_DATA_DIR: dataDir,
    AURA_ALLOW_LOCAL_CLONE: "true",
    // GitHub is nock here: no need to pace writes a second apart.
    AURA_GITHUB_WRITE_INTERVAL_MS: "0",
    ...options.env,
  });
  const aura = await startAura(config, {
    log: options.log ?? pino({ level: process.env.AURA_TEST_LOG ?? "silent" }),
    port: 0,
    host: "127.0.0.1",
    workerPollMs: 100,
    leaderRetryMs: 100,
    modelOverride: options.modelOverride,
    policies: testPolicies(options.employeeTools ?? (options.modelOverride ? "none" : undefined)),
    now: options.now,
    onlyTasks,
  });
  mockInstallationTokens();
  return {
    db,
    aura,
    config,
    dataDir,
    deliver: (event, payload, deliverOptions) => deliver(aura.port, event, payload, deliverOptions),
    waitForIdle: (timeoutMs = 20_000) => waitForIdle(db, timeoutMs, onlyTasks),
    stop: async () => {
      await aura.stop();
      await db.drop();
    },
  };
}

/** `value` once a hook has set it up; before that (or when nothing sets it up), an error carrying `unset`. */
export function setUp<T>(value: T | undefined, unset: string): T {
  if (value === undefined) throw new Error(unset);
  return value;
}

/**
 * One harness for the whole test file: started before its first test, stopped after its last. Read `harness`
 * in hooks and tests only (it does not exist while the file is being collected).
 */
export function useHarness(options: HarnessOptions = {}): { readonly harness: Harness } {
  let harness: Harness | undefined;
  beforeAll(async () => {
    harness = await startHarness(options);
  });
  afterAll(async () => {
    await harness?.stop();
  });
  return {
    get harness(): Harness {
      return setUp(harness, "the harness is started in beforeAll: read it in a hook or a test");
    },
  };
}

/**
 * The app's server on a fresh database for one describe block (or file): `start` runs before its first test; the
 * app is stopped and the database dropped after its last. Read `db` and `aura` in hooks and tests only.
 */
export function useRunningAura(start: (db: TestDatabase) => Promise<RunningAura>): { readonly db: TestDatabase; readonly aura: RunningAura } {
  let db: TestDatabase | undefined;
  let aura: RunningAura | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
    aura = await start(db);
  });
  afterAll(async () => {
    await aura?.stop();
    await db?.drop();
  });
  const unset = "the app is started in beforeAll: read it in a hook or a test";
  return {
    get db(): TestDatabase {
      return setUp(db, unset);
    },
    get aura(): RunningAura {
      return setUp(aura, unset);
    },
  };
}

/** The app in setup mode (no GitHub credentials) on `db`; every `.env` the setup page writes is kept in `written`. */
export function startSetupMode(db: TestDatabase, written: Record<string, string>[], options: { workers?: false } = {}): Promise<RunningAura> {
  return startAura(loadConfig({ DATABASE_URL: db.url }), {
    log: pino({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
    ...options,
    updateEnv: (env) => {
      written.push(env);
      return env;
    },
  });
}

/** Before each test: no GitHub mock left from the last test but installation tokens, and no permission remembered from it. */
export function resetGitHub(): void {
  nock.cleanAll();
  mockInstallationTokens();
  clearPermissionCache();
}

/** Installation access tokens for any installation, as often as asked (never a pending mock). */
export function mockInstallationTokens(): void {
  nock(GITHUB_API)
    .persist()
    .post(/^\/app\/installations\/\d+\/access_tokens$/)
    .optionally()
    .reply(201, {
      token: "ghs_testinstallationtoken000000000000000",
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      permissions: { contents: "write", issues: "write", pull_requests: "write", statuses: "write", metadata: "read" },
      repository_selection: "all",
    });
}

async function waitForIdle(db: TestDatabase, timeoutMs: number, onlyTasks?: readonly string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.pool.query<{ task_identifier: string; last_error: string | null; attempts: number; locked: boolean }>(
      "SELECT task_identifier, last_error, attempts, locked_at IS NOT NULL AS locked FROM graphile_worker.jobs",
    );
    const relevant = onlyTasks ? rows.filter((row) => onlyTasks.includes(row.task_identifier)) : rows;
    const failed = relevant.find((row) => row.last_error !== null && !row.locked);
    if (failed) throw new Error(`job ${failed.task_identifier} failed (attempt ${failed.attempts}): ${failed.last_error}`);
    if (relevant.length === 0) return;
    if (Date.now() > deadline) throw new Error(`jobs still pending after ${timeoutMs} ms: ${relevant.map((r) => r.task_identifier).join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The app's GitHub access (app auth, throttling, retry, the no-merge guard) without pauses between writes. */
export function unthrottledGitHub(): GitHubAccess {
  return createGitHubAccess({
    appId: 123,
    privateKey: testPrivateKey,
    baseUrl: GITHUB_API,
    log: pino({ level: "silent" }),
    writeIntervalMs: 0,
    retryUnitMs: 1,
  });
}
