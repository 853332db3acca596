// A leader duty with a first delay (the redelivery of failed webhooks waits 2 minutes after a process takes the
// lead) runs at once when its last run under any leader is older than its interval (leader_duty_runs, migration
// 029): with leaders changing faster than the delay it used to never run. Real PostgreSQL, real elections.
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLeaderElection, type Duty, type Leadership } from "../../src/queue/leader.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const silent = pino({ level: "silent" });
let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const ranAt = async (duty: string) => (await db.pool.query<{ ran_at: Date }>("SELECT ran_at FROM leader_duty_runs WHERE duty = $1", [duty])).rows[0]?.ran_at;

/** One leader with a duty that runs at once (a marker that the duties were scheduled) and a delayed one. */
function lead(name: string, runs: string[]): Leadership {
  const duties: Duty[] = [
    { name: `${name}-at-once`, everyMs: 60_000, run: async () => void runs.push("at-once") },
    { name, everyMs: 5 * 60_000, firstRunAfterMs: 2 * 60_000, run: async () => void runs.push("delayed") },
  ];
  return startLeaderElection({ databaseUrl: db.url, log: silent, retryMs: 100, duties });
}

describe("a leader duty with a first delay", () => {
  it("waits its delay after the lead is taken when it never ran before", async () => {
    const runs: string[] = [];
    const leader = lead("never-ran", runs);
    try {
      await waitFor(() => runs.includes("at-once"));
      await new Promise((resolve) => setTimeout(resolve, 300));

      expect(runs).toEqual(["at-once"]);
      expect(await ranAt("never-ran")).toBeUndefined();
    } finally {
      await leader.stop();
    }
  });

  it("runs at once when its last run under an earlier leader is older than its interval, and records the run", async () => {
    await db.pool.query("INSERT INTO leader_duty_runs (duty, ran_at) VALUES ('overdue', now() - interval '6 minutes')");
    const before = await ranAt("overdue");
    const runs: string[] = [];
    const leader = lead("overdue", runs);
    try {
      await waitFor(() => runs.includes("delayed"));
      const after = await (async () => {
        for (let i = 0; i < 100; i++) {
          const value = await ranAt("overdue");
          if (value && before && value > before) return value;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        return undefined;
      })();

      expect(runs.filter((run) => run === "delayed")).toHaveLength(1);
      expect(after).toBeInstanceOf(Date);
    } finally {
      await leader.stop();
    }
  });

  it("waits when its last run is recent: a new leader does not run it again before its interval", async () => {
    await db.pool.query("INSERT INTO leader_duty_runs (duty, ran_at) VALUES ('recent', now())");
    const runs: string[] = [];
    const leader = lead("recent", runs);
    try {
      await waitFor(() => runs.includes("at-once"));
      await new Promise((resolve) => setTimeout(resolve, 300));

      expect(runs).toEqual(["at-once"]);
    } finally {
      await leader.stop();
    }
  });
});
