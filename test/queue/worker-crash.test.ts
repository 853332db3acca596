import { spawn } from "node:child_process";
import { quickAddJob } from "graphile-worker";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLeaderElection } from "../../src/queue/leader.js";
import { startWorker, unlockDeadWorkers } from "../../src/queue/worker.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const silent = pino({ level: "silent" });
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query("CREATE TABLE crash_log (id serial, note text, payload json, at timestamptz DEFAULT clock_timestamp())");
});

afterAll(async () => {
  await db.drop();
});

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("a worker process killed mid-job", () => {
  it("has its job unlocked by the leader and finished by another worker", async () => {
    await quickAddJob({ pgPool: db.pool }, "crash-test", { requirement: 42 }, { jobKey: "issue:42" });
    const child = spawn(process.execPath, ["--import", "tsx", "test/fixtures/processes/worker-process.ts", db.url], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    await waitFor(async () => ((await db.pool.query("SELECT 1 FROM crash_log WHERE note = 'started'")).rowCount ? true : undefined), 20_000);

    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("exit", resolve));
    const leader = startLeaderElection({
      databaseUrl: db.url,
      log: silent,
      retryMs: 100,
      duties: [{ name: "unlock-dead-workers", everyMs: 500, run: async () => void (await unlockDeadWorkers(db.pool, 1_500)) }],
    });
    const survivor = await startWorker({
      pool: db.pool,
      log: silent,
      pollInterval: 200,
      // Beats well inside the leader's 1.5 s staleness here (the default 2 s beat is longer than it, so the
      // survivor itself could be taken for dead between two beats and its row removed: a red CI run under load).
      heartbeatMs: 300,
      tasks: {
        "crash-test": async (payload) => {
          await db.pool.query("INSERT INTO crash_log (note, payload) VALUES ('finished', $1)", [payload]);
        },
      },
    });
    try {
      const finished = await waitFor(async () => (await db.pool.query("SELECT payload FROM crash_log WHERE note = 'finished'")).rows[0], 20_000);

      expect(finished.payload).toEqual({ requirement: 42 });
      expect(leader.isLeader()).toBe(true);
      // The job row goes once the handler's completion is committed, just after the handler returns.
      await waitFor(async () => ((await db.pool.query("SELECT count(*)::int AS n FROM graphile_worker.jobs")).rows[0].n === 0 ? true : undefined), 5_000);
      const processes = await db.pool.query("SELECT process_id FROM aura_processes");
      expect(processes.rows.map((r) => r.process_id)).toEqual([survivor.processId]);
    } finally {
      await survivor.stop();
      await leader.stop();
    }
  });

  it("elects exactly one leader among several candidates", async () => {
    const candidates = [0, 1, 2].map(() => startLeaderElection({ databaseUrl: db.url, log: silent, retryMs: 100, duties: [] }));
    try {
      await waitFor(async () => (candidates.some((c) => c.isLeader()) ? true : undefined), 5_000);
      await new Promise((resolve) => setTimeout(resolve, 300));

      expect(candidates.filter((c) => c.isLeader())).toHaveLength(1);

      const first = candidates.find((c) => c.isLeader());
      await first?.stop();
      await waitFor(async () => (candidates.some((c) => c !== first && c.isLeader()) ? true : undefined), 5_000);
      expect(candidates.filter((c) => c.isLeader())).toHaveLength(1);
    } finally {
      await Promise.all(candidates.map((c) => c.stop()));
    }
  });
});
