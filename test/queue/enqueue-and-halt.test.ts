// The enqueue module (typed jobs, one default per job, a record per job joined to graphile-worker's public view)
// and the halt declared once per job where it is registered.
import type { JobHelpers } from "graphile-worker";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { stopInstallationJobs } from "../../src/manager/installation-store.js";
import { enqueue, enqueueMany, JOBS } from "../../src/queue/enqueue.js";
import { HALT_RECHECK_MS } from "../../src/queue/halt.js";
import { jobWaitingFor } from "../../src/queue/inbox.js";
import { allJobs, allTasks } from "../../src/roles.js";
import type { Services } from "../../src/services.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const INSTALLATION = 31;

describe("the enqueue module and the halt", () => {
  let db: TestDatabase;
  let services: Services;

  beforeAll(async () => {
    db = await createTestDatabase();
    services = { pool: db.pool, log: pino({ level: "silent" }) } as Services;
  });
  afterAll(async () => {
    await db.drop();
  });
  beforeEach(async () => {
    await db.pool.query("SELECT graphile_worker.complete_jobs(ARRAY(SELECT id FROM graphile_worker.jobs))");
    await db.pool.query("TRUNCATE queued_jobs, webhook_deliveries CASCADE");
    await db.pool.query("DELETE FROM installations");
    await db.pool.query("INSERT INTO installations (id, account, halted_at) VALUES ($1, 'acme', now())", [INSTALLATION]);
  });

  async function jobs() {
    const { rows } = await db.pool.query<{ task_identifier: string; key: string | null; max_attempts: number; payload: unknown; later: boolean }>(
      `SELECT j.task_identifier, j.key, j.max_attempts, q.payload, j.run_at > now() + interval '10 seconds' AS later
       FROM graphile_worker.jobs j JOIN queued_jobs q ON q.job_id = j.id ORDER BY j.id`,
    );
    return rows;
  }

  it("registers exactly the jobs the enqueue module names", () => {
    expect(Object.keys(allJobs(services)).sort()).toEqual(Object.keys(JOBS).sort());
  });

  it("declares, per job, whether it stops while halted: forgery correction, commands and the sync fan-out never do", () => {
    const never = Object.entries(allJobs(services))
      .filter(([, job]) => job.stopsWhileHalted === false)
      .map(([name]) => name)
      .sort();
    expect(never).toEqual(["base.moved", "branch.pushed", "director.command", "pull.forgery"]);
  });

  it("queues with the job's default key and attempts, records the payload, and collapses by key", async () => {
    await enqueue(db.pool, "pull.evaluate", { installationId: INSTALLATION, repo: "acme/app", pullNumber: 4, deliveryId: "d-1" });
    await enqueueMany(db.pool, [
      { name: "pull.evaluate", payload: { installationId: INSTALLATION, repo: "acme/app", pullNumber: 4, deliveryId: "d-2" } },
      { name: "task.work", payload: { taskId: 9 } },
    ]);

    expect(await jobs()).toEqual([
      {
        task_identifier: "pull.evaluate",
        key: "pull:acme/app#4",
        max_attempts: 5,
        payload: { installationId: INSTALLATION, repo: "acme/app", pullNumber: 4, deliveryId: "d-2" },
        later: false,
      },
      { task_identifier: "task.work", key: "task:9", max_attempts: 5, payload: { taskId: 9 }, later: false },
    ]);
    // The collapsed job now names the newer delivery only, as its payload does.
    const waiting = await db.pool.query(`SELECT ${jobWaitingFor("'d-1'")} AS d1, ${jobWaitingFor("'d-2'")} AS d2`);
    expect(waiting.rows[0]).toEqual({ d1: false, d2: true });
  });

  it("stops an installation's waiting jobs found through the record, not graphile-worker's tables", async () => {
    await enqueue(db.pool, "label.sync", { installationId: INSTALLATION, repo: "acme/app" });
    await enqueue(db.pool, "label.sync", { installationId: INSTALLATION + 1, repo: "acme/other" });

    expect(await stopInstallationJobs(db.pool, INSTALLATION)).toBe(1);
    expect((await jobs()).map((job) => job.key)).toEqual(["label:acme/other"]);
  });

  it("puts a halted job back under its own key, runs nothing, and leaves its delivery unprocessed; after resume it runs", async () => {
    await db.pool.query(
      "INSERT INTO webhook_deliveries (delivery_id, event, installation_id, repository, payload) VALUES ('d-9', 'pull_request', $1, 'acme/app', '{}')",
      [INSTALLATION],
    );
    const tasks = allTasks({ ...services, pool: db.pool }, ["pull.gate-closed"]);
    const payload = { installationId: INSTALLATION, repo: "acme/app", pullNumber: 8, deliveryId: "d-9" };
    const processed = async () => (await db.pool.query("SELECT processed_at FROM webhook_deliveries WHERE delivery_id = 'd-9'")).rows[0].processed_at;

    const before = Date.now();
    await tasks["pull.gate-closed"]?.(payload, {} as JobHelpers);

    const [requeued, ...others] = await jobs();
    expect(others).toEqual([]);
    expect(requeued).toEqual({ task_identifier: "pull.gate-closed", key: "gate-closed:acme/app#8", max_attempts: 5, payload, later: true });
    const runAt = (await db.pool.query<{ run_at: Date }>("SELECT run_at FROM graphile_worker.jobs")).rows[0]?.run_at as Date;
    expect(runAt.getTime()).toBeGreaterThanOrEqual(before + HALT_RECHECK_MS - 1_000);
    expect(await processed()).toBeNull();

    // `/aura resume` only clears the mark; the job queued again then runs (here: nothing recorded to recompute).
    await db.pool.query("UPDATE installations SET halted_at = NULL WHERE id = $1", [INSTALLATION]);
    await tasks["pull.gate-closed"]?.(requeued?.payload, {} as JobHelpers);

    expect(await jobs()).toHaveLength(1);
    expect(await processed()).not.toBeNull();
  });

  it("runs forgery correction while halted", async () => {
    const tasks = allTasks(services, ["pull.forgery"]);

    // No stored delivery: the handler returns at once; a stopped job would have been queued again instead.
    await tasks["pull.forgery"]?.({ installationId: INSTALLATION, repo: "acme/app", deliveryId: "gone" }, {} as JobHelpers);

    expect(await jobs()).toEqual([]);
  });
});
