// What the task and agent benchmarks share: the 1,000-file fixture, the services one task is worked with (a
// throwaway database, the app's real GitHub access behind nock, the real sandbox), and the running app for the
// label → pull request measurement.
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import nock from "nock";
import pino from "pino";
import { AuditLog } from "../src/audit/append.js";
import { loadConfig, type AppConfig } from "../src/config/env.js";
import type { Employee, WorkMode } from "../src/config/policy-files.js";
import { createPool } from "../src/db/pool.js";
import { CircuitBreaker } from "../src/models/circuit-breaker.js";
import type { ModelClient } from "../src/models/model-client.js";
import { createGitHubAccess } from "../src/github/octokit.js";
import { createModelRegistry, defaultWorkspaceOptions, type Services } from "../src/services.js";
import { startAura, type RunningAura } from "../src/server/start.js";
import { probeBwrap } from "../src/workspace/sandbox.js";
import { testPolicies } from "../test/helpers/services.js";
import { testSecret } from "../test/helpers/webhooks.js";
import { benchDatabase } from "./database.js";

export const FILES = 1_000;

type ModelOverride = (employee: Employee) => ModelClient;

/** `base` padded to FILES files with small modules. */
export function fixtureFiles(base: Record<string, string>): Record<string, string> {
  const files: Record<string, string> = { ...base };
  for (let i = 0; Object.keys(files).length < FILES; i++) {
    files[`lib/module-${i % 25}/file-${i}.js`] = `// module ${i}\nexports.value${i} = ${i};\n`;
  }
  return files;
}

export type WorkBench = {
  probe: ReturnType<typeof probeBwrap>;
  db: { url: string; stop: () => Promise<void> };
  pool: ReturnType<typeof createPool>;
  temp: string;
  privateKey: string;
  services: Services;
  /** Ends the pool, stops the database, removes the temp dir and clears nock. */
  close: () => Promise<void>;
};

/**
 * A throwaway database and the services runTaskWork needs, GitHub only on nock (local connections allowed):
 * the app's real GitHub access (throttling, retries and the no-merge guard, as in production), the real sandbox
 * where bubblewrap works, and the models from the registry (with `modelOverride` where given); `tools` sets how
 * every employee works (the registry's own modes when not given).
 */
export async function workBench(tempPrefix: string, modelOverride?: ModelOverride, options: { tools?: WorkMode } = {}): Promise<WorkBench> {
  const probe = probeBwrap();
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 8 });
  const temp = mkdtempSync(path.join(os.tmpdir(), tempPrefix));
  chmodSync(temp, 0o711);
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }) as string;
  const config = loadConfig({
    APP_ID: "123",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: "bench",
    DATABASE_URL: db.url,
    AURA_DATA_DIR: path.join(temp, "data"),
    AURA_ALLOW_LOCAL_CLONE: "true",
    AURA_ALLOW_UNSANDBOXED: probe.ok ? "false" : "true",
    OPENAI_API_KEY: "sk-bench",
    LOG_LEVEL: "silent",
  });
  const log = pino({ level: "silent" });
  const breaker = new CircuitBreaker();
  const services: Services = {
    config,
    pool,
    audit: new AuditLog(pool),
    log,
    github: createGitHubAccess({ appId: 123, privateKey, baseUrl: config.githubApiUrl, log }),
    policies: testPolicies(options.tools),
    breaker,
    modelFor: createModelRegistry(config, breaker, modelOverride),
    workspace: defaultWorkspaceOptions(config, config.botIdentity),
    sandbox: { allowUnsandboxed: config.AURA_ALLOW_UNSANDBOXED },
    now: () => new Date(),
  };
  const close = async () => {
    await pool.end();
    await db.stop();
    rmSync(temp, { recursive: true, force: true });
    nock.cleanAll();
  };
  return { probe, db, pool, temp, privateKey, services, close };
}

/**
 * Runs `fn` against the app itself (Probot server, worker, leader) on the bench's database, with its models
 * from `modelOverride(config)`, and a small pool of its own; stops both afterwards.
 */
export async function withRunningApp<T>(
  bench: Pick<WorkBench, "db" | "temp" | "privateKey" | "probe">,
  modelOverride: (config: AppConfig) => ModelOverride,
  fn: (aura: RunningAura, pool: ReturnType<typeof createPool>) => Promise<T>,
  options: { tools?: WorkMode } = {},
): Promise<T> {
  const dataDir = path.join(bench.temp, "app");
  mkdirSync(dataDir, { mode: 0o755 });
  const config = loadConfig({
    APP_ID: "123",
    PRIVATE_KEY: bench.privateKey,
    WEBHOOK_SECRET: testSecret,
    DATABASE_URL: bench.db.url,
    AURA_DATA_DIR: dataDir,
    AURA_ALLOW_LOCAL_CLONE: "true",
    AURA_ALLOW_UNSANDBOXED: bench.probe.ok ? "false" : "true",
    // Pacing changes when requests are sent, not how many; unpaced keeps the benchmark short.
    AURA_GITHUB_WRITE_INTERVAL_MS: "0",
    OPENAI_API_KEY: "sk-bench",
    LOG_LEVEL: "silent",
  });
  const aura = await startAura(config, {
    log: pino({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
    workerPollMs: 20,
    leaderRetryMs: 100,
    modelOverride: modelOverride(config),
    policies: testPolicies(options.tools),
  });
  try {
    const pool = createPool(bench.db.url, { max: 2 });
    try {
      return await fn(aura, pool);
    } finally {
      await pool.end();
    }
  } finally {
    await aura.stop();
  }
}
