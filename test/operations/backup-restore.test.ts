// The restore drill: a database with requirements, tasks, ledger rows, audit events and a queued job is backed
// up with `aura backup`, restored with `aura restore` into a fresh empty database, and checked: the same rows,
// `aura audit verify --anchor` passes against the backup's anchor, the app starts ready on it and a worker
// finishes the job that was queued at backup time. A restore into a database or data directory that already
// holds one is refused and changes nothing.
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { recordOutcome } from "../../src/accountant/ledger.js";
import { appendEvents } from "../../src/audit/append.js";
import { runCli } from "../../src/cli.js";
import { loadConfig } from "../../src/config/env.js";
import { startEmbeddedPostgres } from "../../src/db/embedded.js";
import { createPool } from "../../src/db/pool.js";
import { runBackupCommand, runRestoreCommand } from "../../src/operations/command.js";
import { enqueue } from "../../src/queue/enqueue.js";
import { startWorker } from "../../src/queue/worker.js";
import { startAura } from "../../src/server/start.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { insertRequirement } from "../helpers/services.js";
import { testPrivateKey, testSecret } from "../helpers/webhooks.js";

const silent = pino({ level: "silent" });
let source: TestDatabase;
let dir: string;
let backupFile: string;
let backupOutput: string;

function capture(): { out: PassThrough; text: () => string } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (chunk: Buffer) => chunks.push(chunk));
  return { out, text: () => Buffer.concat(chunks).toString("utf8") };
}

const configFor = (url: string, env: Record<string, string> = {}) => loadConfig({ DATABASE_URL: url, AURA_DATA_DIR: dir, ...env });

/** What a restore must bring back, read the same way from either database. */
async function contents(db: TestDatabase) {
  const q = async (sql: string) => (await db.pool.query(sql)).rows;
  return {
    requirements: await q("SELECT id, installation_id, repo, issue_number, title, state FROM requirements ORDER BY id"),
    tasks: await q("SELECT id, requirement_id, task_key, title, state FROM tasks ORDER BY id"),
    ledger: await q("SELECT id, employee_id, task_id, result, cost_usd, event_key FROM outcome_ledger ORDER BY id"),
    audit: await q("SELECT seq, hash, canonical, actor, action FROM audit.events ORDER BY seq"),
    head: await q("SELECT seq, hash FROM audit.head"),
    jobs: await q(
      "SELECT j.id, j.task_identifier, j.key, j.attempts, q.payload FROM graphile_worker.jobs j JOIN queued_jobs q ON q.job_id = j.id ORDER BY j.id",
    ),
  };
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "aura-backup-test-"));
  backupFile = path.join(dir, "drill.aura-backup");
  source = await createTestDatabase();
  const { requirementId, taskIds } = await insertRequirement(source, { tasks: [{ key: "a" }, { key: "b", dependsOn: ["a"] }] });
  const client = await source.pool.connect();
  try {
    await client.query("BEGIN");
    await recordOutcome(client, {
      installationId: 1,
      employeeId: "ada",
      taskClass: "bugfix",
      taskId: Number(taskIds.a),
      requirementId,
      result: "merged",
      revisionRounds: 1,
      costUsd: 0.42,
      latencyMs: 1_000,
      assignedAt: new Date("2026-01-05T10:00:00Z"),
      prOpenedAt: new Date("2026-01-05T11:00:00Z"),
      closedAt: new Date("2026-01-05T12:00:00Z"),
      repo: "octo-org/widgets",
      prNumber: 12,
      closedBy: "director",
      eventKey: "pr:1:octo-org/widgets#12:closed",
    });
    await client.query("COMMIT");
  } finally {
    client.release();
  }
  await appendEvents(source.pool, [
    { actor: "aura/test", action: "drill.first", subject: "octo-org/widgets#7", payload: { note: "before the backup" } },
    { actor: "aura/test", action: "drill.second", subject: "octo-org/widgets#7", payload: { text: 'ünïcode, "quotes" and \\ tabs\t' } },
  ]);
  await enqueue(source.pool, "installation.sync", { installationId: 1 });

  const { out, text } = capture();
  expect(await runBackupCommand(configFor(source.url, { PRIVATE_KEY: testPrivateKey }), ["--out", backupFile], out)).toBe(0);
  backupOutput = text();
}, 60_000);

afterAll(async () => {
  vi.unstubAllEnvs();
  await source?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("aura backup and aura restore", () => {
  it("restore a fresh empty database with the same rows, and the backup's anchor verifies there", async () => {
    const target = await createTestDatabase({ migrate: false });
    try {
      const anchorFile = path.join(dir, "restored-anchor.json");
      const restore = capture();

      const code = await runRestoreCommand(configFor(target.url), [backupFile, "--anchor-out", anchorFile], restore.out);

      expect(code).toBe(0);
      expect(restore.text()).toContain(`aura audit verify --anchor ${anchorFile}`);
      const before = await contents(source);
      const after = await contents(target);
      expect(after).toEqual({ ...before, head: after.head });
      expect(before.audit.length).toBeGreaterThanOrEqual(3);
      expect(after.jobs).toEqual([expect.objectContaining({ task_identifier: "installation.sync", payload: { installationId: 1 } })]);
      const anchor = JSON.parse(readFileSync(anchorFile, "utf8"));
      expect(backupOutput).toContain(`audit anchor seq ${anchor.seq}`);
      expect(anchor.signature).toBeTruthy();
      // The restored head is the snapshot's head; the source has moved on since (the anchor was recorded there).
      expect(after.head).toEqual([{ seq: anchor.seq, hash: Buffer.from(anchor.hash, "hex") }]);
      vi.stubEnv("DATABASE_URL", target.url);
      const verify = capture();
      expect(await runCli(["audit", "verify", "--anchor", anchorFile], verify.out)).toBe(0);
      expect(verify.text()).toContain("1 anchors checked");
      expect(verify.text()).toContain("OK: the chain is intact.");
      // New events continue the restored chain, and the sequences carry on past the restored ids.
      await appendEvents(target.pool, [{ actor: "aura/test", action: "drill.after", subject: "octo-org/widgets#7", payload: {} }]);
      const next = await insertRequirement(target, { issueNumber: 8, tasks: [{ key: "c" }] });
      expect(next.requirementId).toBeGreaterThan(Number(before.requirements.at(-1)?.id));
      expect(await runCli(["audit", "verify", "--anchor", anchorFile], capture().out)).toBe(0);

      const aura = await startAura(
        configFor(target.url, { APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: testSecret, AURA_DATA_DIR: path.join(dir, "app") }),
        { log: silent, port: 0, host: "127.0.0.1", onlyTasks: ["pull.forgery"] },
      );
      try {
        const ready = await fetch(`http://127.0.0.1:${aura.port}/ready`);
        expect(ready.status).toBe(200);
      } finally {
        await aura.stop();
      }
      const finished: unknown[] = [];
      const worker = await startWorker({
        pool: target.pool,
        log: silent,
        pollInterval: 100,
        tasks: { "installation.sync": async (payload) => void finished.push(payload) },
      });
      try {
        await vi.waitUntil(async () => (await target.pool.query("SELECT 1 FROM graphile_worker.jobs")).rowCount === 0, { timeout: 15_000, interval: 100 });
      } finally {
        await worker.stop();
      }
      expect(finished).toEqual([{ installationId: 1 }]);
    } finally {
      vi.unstubAllEnvs();
      await target.drop();
    }
  }, 60_000);

  it("restores into an empty AURA_DATA_DIR with the embedded server, and the anchor verifies there", async () => {
    chmodSync(dir, 0o755);
    const dataDir = path.join(dir, "embedded");
    const anchorFile = path.join(dir, "embedded-anchor.json");
    const restore = capture();

    const code = await runRestoreCommand(loadConfig({ AURA_DATA_DIR: dataDir }), [backupFile, "--anchor-out", anchorFile], restore.out);

    expect(code, restore.text()).toBe(0);
    const embedded = await startEmbeddedPostgres({ dataDir });
    try {
      vi.stubEnv("DATABASE_URL", embedded.url);
      const verify = capture();
      expect(await runCli(["audit", "verify", "--anchor", anchorFile], verify.out)).toBe(0);
      expect(verify.text()).toContain("OK: the chain is intact.");
      const pool = createPool(embedded.url, { max: 1 });
      try {
        const before = (await source.pool.query("SELECT id, title FROM tasks ORDER BY id")).rows;
        expect((await pool.query("SELECT id, title FROM tasks ORDER BY id")).rows).toEqual(before);
      } finally {
        await pool.end();
      }
    } finally {
      vi.unstubAllEnvs();
      await embedded.stop();
    }
  }, 60_000);

  it("refuses a database that already holds tables, naming what it found, and changes nothing", async () => {
    const before = await contents(source);
    const tables = (await source.pool.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")).rows[0];
    const { out, text } = capture();

    const code = await runRestoreCommand(configFor(source.url), [backupFile, "--anchor-out", path.join(dir, "refused.json")], out);

    expect(code).toBe(1);
    expect(text()).toMatch(/^Refusing to restore into database aura_test_\w+: it is not empty \(found \d+ tables: [\w.]+, /);
    expect(text()).toContain("Nothing was changed.");
    expect(await contents(source)).toEqual(before);
    expect((await source.pool.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')")).rows[0]).toEqual(
      tables,
    );
  });

  it("refuses an AURA_DATA_DIR that already holds a database cluster, before starting anything", async () => {
    const dataDir = path.join(dir, "used-data-dir");
    mkdirSync(path.join(dataDir, "postgres"), { recursive: true });
    writeFileSync(path.join(dataDir, "postgres", "PG_VERSION"), "17\n");
    const { out, text } = capture();

    const code = await runRestoreCommand(loadConfig({ AURA_DATA_DIR: dataDir }), [backupFile], out);

    expect(code).toBe(1);
    expect(text()).toContain(
      `Refusing to restore into AURA_DATA_DIR=${dataDir}: it already holds a database (${path.join(dataDir, "postgres", "PG_VERSION")}). Nothing was changed.`,
    );
    expect(readFileSync(path.join(dataDir, "postgres", "PG_VERSION"), "utf8")).toBe("17\n");
  });

  it("refuses a file that is not an Aura backup", async () => {
    const target = await createTestDatabase({ migrate: false });
    try {
      const bogus = path.join(dir, "not-a-backup");
      writeFileSync(bogus, "hello");
      const { out, text } = capture();

      const code = await runRestoreCommand(configFor(target.url), [bogus], out);

      expect(code).toBe(1);
      expect(text()).toContain(`${bogus} is not an Aura backup`);
    } finally {
      await target.drop();
    }
  });
});
