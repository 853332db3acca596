// Gate jobs that ran out of attempts get another round from the leader (src/queue/revive.ts): real PostgreSQL,
// graphile-worker's own queue and a real worker.
import { quickAddJob } from "graphile-worker";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gateRevivalDuty, GATE_REVIVAL, reviveFailedJobs } from "../../src/queue/revive.js";
import { startWorker } from "../../src/queue/worker.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const silent = pino({ level: "silent" });
let db: TestDatabase;
const now = { ...GATE_REVIVAL, failedForMs: 0 };

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

async function failedJob(task: string, maxAttempts: number): Promise<string> {
  const job = await quickAddJob({ pgPool: db.pool }, task, { installationId: 1, repo: "o/r", pullNumber: 1 }, { maxAttempts });
  await db.pool.query("SELECT graphile_worker.permanently_fail_jobs(ARRAY[$1::bigint], 'GitHub secondary rate limit')", [job.id]);
  return String(job.id);
}

const jobRow = async (id: string) =>
  (
    await db.pool.query<{ attempts: number; max_attempts: number; due: boolean }>(
      "SELECT attempts, max_attempts, run_at <= now() AS due FROM graphile_worker.jobs WHERE id = $1",
      [id],
    )
  ).rows[0];

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("failed gate jobs", () => {
  it("a pull.evaluate job that failed all its attempts runs again after a revival and finishes", async () => {
    let refuse = true;
    const runs: string[] = [];
    const worker = await startWorker({
      pool: db.pool,
      log: silent,
      pollInterval: 100,
      tasks: {
        "pull.evaluate": async () => {
          runs.push(refuse ? "refused" : "done");
          if (refuse) throw new Error("GitHub secondary rate limit");
        },
      },
    });
    try {
      const job = await quickAddJob({ pgPool: db.pool }, "pull.evaluate", { installationId: 1, repo: "o/r", pullNumber: 7 }, { maxAttempts: 1 });
      await waitUntil(async () => (await jobRow(String(job.id)))?.attempts === 1);
      expect(runs).toEqual(["refused"]);

      refuse = false;
      const { revived } = await reviveFailedJobs(db.pool, now);
      expect(revived.map((r) => r.id)).toContain(String(job.id));
      await waitUntil(async () => (await jobRow(String(job.id))) === undefined);
      expect(runs).toEqual(["refused", "done"]);
    } finally {
      await worker.stop();
    }
  });

  it("adds a round of attempts, due at once, and only to failed gate jobs failed long enough", async () => {
    const gate = await failedJob("pull.audit", 5);
    const other = await failedJob("task.work", 5);

    expect((await reviveFailedJobs(db.pool, { ...GATE_REVIVAL, failedForMs: 3_600_000 })).revived.map((r) => r.id)).not.toContain(gate);
    const { revived } = await reviveFailedJobs(db.pool, now);

    expect(revived.map((r) => r.id)).toContain(gate);
    expect(revived.map((r) => r.id)).not.toContain(other);
    expect(await jobRow(gate)).toEqual({ attempts: 5, max_attempts: 10, due: true });
    expect(await jobRow(other)).toMatchObject({ attempts: 5, max_attempts: 5 });
    // Revived once: not failed any more, so not revived again.
    expect((await reviveFailedJobs(db.pool, now)).revived.map((r) => r.id)).not.toContain(gate);
  });

  it("stops at the cap and says once, as an error, that the pull request has no current verdict", async () => {
    const capped = await failedJob("pull.evaluate", GATE_REVIVAL.maxTotalAttempts);
    const lines: { msg: string; job?: string }[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) });
    const duty = gateRevivalDuty(db.pool, log, now);

    await duty.run();
    await duty.run();

    expect(await jobRow(capped)).toMatchObject({ attempts: 20, max_attempts: 20 });
    const said = lines.filter((line) => line.job === capped);
    expect(said).toHaveLength(1);
    expect(said[0]?.msg).toMatch(/failed 20 attempts and is not retried again: its pull request has no current verdict/);
  });
});

describe("the worker's job-end callback (local mode's watch loop wakes on it)", () => {
  it("is called once for each job that ends, whether it succeeded or threw", async () => {
    const ended: string[] = [];
    const finished = new Set<string>();
    const worker = await startWorker({
      pool: db.pool,
      log: silent,
      pollInterval: 100,
      onJobEnd: () => ended.push(`after ${[...finished].sort().join("+")}`),
      tasks: {
        "test.ok": async () => void finished.add("ok"),
        "test.throws": async () => {
          finished.add("throws");
          throw new Error("this job fails");
        },
      },
    });
    try {
      const ok = await quickAddJob({ pgPool: db.pool }, "test.ok", {});
      await waitUntil(async () => (await jobRow(String(ok.id))) === undefined);
      const throws = await quickAddJob({ pgPool: db.pool }, "test.throws", {}, { maxAttempts: 1 });
      await waitUntil(async () => (await jobRow(String(throws.id)))?.attempts === 1 && ended.length === 2);

      expect(ended).toEqual(["after ok", "after ok+throws"]);
    } finally {
      await worker.stop();
    }
  });
});
