// The webhook inbox is pruned: processed deliveries past the retention period go, and nothing that pending
// work, redelivery detection or the work loop still reads. Every timestamp is explicit.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enqueue } from "../../src/queue/enqueue.js";
import { pruneDeliveries } from "../../src/queue/prune-deliveries.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const now = new Date("2031-03-15T12:00:00Z");
const daysAgo = (days: number) => new Date(now.getTime() - days * 24 * 3_600_000);

describe("pruning the webhook inbox", () => {
  let db: TestDatabase;

  async function insert(id: string, fields: { received: Date; processed: boolean; repository?: string | null }): Promise<void> {
    await db.pool.query(
      `INSERT INTO webhook_deliveries (delivery_id, event, installation_id, repository, payload, received_at, processed_at)
       VALUES ($1, 'issues', 7, $2, '{}', $3, CASE WHEN $4 THEN $3::timestamptz + interval '1 minute' END)`,
      [id, fields.repository === undefined ? "o/r" : fields.repository, fields.received, fields.processed],
    );
  }

  const remaining = async () =>
    (await db.pool.query<{ delivery_id: string }>("SELECT delivery_id FROM webhook_deliveries ORDER BY delivery_id")).rows.map((r) => r.delivery_id);

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db.drop();
  });

  it("removes old processed deliveries and keeps recent, unprocessed, job-held and each repository's newest; forgets finished jobs", async () => {
    await insert("old-processed", { received: daysAgo(30), processed: true });
    await insert("old-redispatched", { received: daysAgo(20), processed: true });
    await db.pool.query("INSERT INTO delivery_redispatches (delivery_id, jobs, redispatched_at) VALUES ('old-redispatched', 1, $1)", [daysAgo(20)]);
    await insert("old-no-repository", { received: daysAgo(10), processed: true, repository: null });
    await insert("old-unprocessed", { received: daysAgo(30), processed: false });
    await insert("old-job-pending", { received: daysAgo(30), processed: true });
    const pending = await enqueue(db.pool, "pull.closed", { deliveryId: "old-job-pending" });
    // A job that named its delivery and has finished no longer holds it, and its record goes.
    await insert("old-job-done", { received: daysAgo(30), processed: true });
    const done = await enqueue(db.pool, "pull.closed", { deliveryId: "old-job-done" });
    await db.pool.query("SELECT graphile_worker.complete_jobs(ARRAY[$1::bigint])", [done]);
    await insert("old-newest-of-its-repo", { received: daysAgo(40), processed: true, repository: "o/quiet" });
    // Within GitHub's three-day redelivery window (and the seven-day retention): a redelivery must be a duplicate.
    await insert("recent-processed", { received: daysAgo(2), processed: true });
    await insert("within-retention", { received: daysAgo(6), processed: true });

    const removed = await pruneDeliveries(db.pool, { now });

    expect(removed).toBe(4);
    expect(await remaining()).toEqual(["old-job-pending", "old-newest-of-its-repo", "old-unprocessed", "recent-processed", "within-retention"]);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM delivery_redispatches")).rows[0].n).toBe(0);
    expect((await db.pool.query("SELECT job_id::text AS id FROM queued_jobs")).rows).toEqual([{ id: pending }]);
  });

  it("never goes below GitHub's redelivery window, whatever retention it is given", async () => {
    await db.pool.query("TRUNCATE webhook_deliveries CASCADE");
    await insert("a-day-old", { received: daysAgo(1), processed: true });
    await insert("two-days-and-a-half", { received: daysAgo(2.5), processed: true });
    await insert("four-days-old", { received: daysAgo(4), processed: true });
    await insert("newest", { received: daysAgo(0), processed: true });

    await pruneDeliveries(db.pool, { now, retentionMs: 0 });

    expect(await remaining()).toEqual(["a-day-old", "newest", "two-days-and-a-half"]);
  });

  it("works in batches, oldest first", async () => {
    await db.pool.query("TRUNCATE webhook_deliveries CASCADE");
    for (let day = 10; day <= 14; day++) await insert(`day-${day}`, { received: daysAgo(day), processed: true });
    await insert("newest", { received: daysAgo(0), processed: true });

    const first = await pruneDeliveries(db.pool, { now, batch: 2 });

    expect(first).toBe(2);
    expect(await remaining()).toEqual(["day-10", "day-11", "day-12", "newest"]);
  });
});
