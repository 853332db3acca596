// The webhook inbox would otherwise grow forever. A delivery's row is needed while its work is pending (it
// is unprocessed, or a job still names it: jobs carry only the delivery id and read the body from here),
// and for as long as GitHub may deliver the same id again: GitHub redelivers deliveries from the past three
// days (by hand in the app's settings, or when src/github/redeliver.ts asks it to within its three-hour
// lookback), and only the stored id makes a redelivery a counted duplicate instead of new work. Each
// repository's newest delivery is kept too: the work loop reads the repository's default branch from it.
// Everything else older than the retention period is deleted by the leader; the audit log keeps the record
// of what the deliveries caused.
import type pg from "pg";
import { forgetFinishedJobs } from "./enqueue.js";
import { jobWaitingFor } from "./inbox.js";

/** How long a processed delivery is kept: over twice GitHub's three-day redelivery window. */
export const DELIVERY_RETENTION_MS = 7 * 24 * 3_600_000;

/** The shortest retention that still recognises every redelivery GitHub can make. */
export const REDELIVERY_WINDOW_MS = 3 * 24 * 3_600_000;

/**
 * Deletes up to `batch` prunable deliveries received before `now - retentionMs`; returns how many. The records
 * of finished jobs (`queued_jobs`, which tell whether a job still names a delivery) are forgotten first.
 */
export async function pruneDeliveries(pool: Pick<pg.Pool, "query">, options: { now: Date; retentionMs?: number; batch?: number }): Promise<number> {
  const retentionMs = Math.max(options.retentionMs ?? DELIVERY_RETENTION_MS, REDELIVERY_WINDOW_MS);
  const cutoff = new Date(options.now.getTime() - retentionMs);
  await forgetFinishedJobs(pool);
  const { rows } = await pool.query<{ n: number }>(
    `WITH doomed AS (
       SELECT d.delivery_id FROM webhook_deliveries d
       WHERE d.processed_at IS NOT NULL AND d.received_at < $1
         AND NOT ${jobWaitingFor("d.delivery_id")}
         AND (d.repository IS NULL OR EXISTS (
           SELECT 1 FROM webhook_deliveries n
           WHERE n.installation_id IS NOT DISTINCT FROM d.installation_id AND n.repository = d.repository AND n.received_at > d.received_at))
       ORDER BY d.received_at LIMIT $2
       FOR UPDATE OF d SKIP LOCKED
     ), redispatches AS (
       DELETE FROM delivery_redispatches x USING doomed WHERE x.delivery_id = doomed.delivery_id
     ), deleted AS (
       DELETE FROM webhook_deliveries d USING doomed WHERE d.delivery_id = doomed.delivery_id RETURNING 1
     )
     SELECT count(*)::int AS n FROM deleted`,
    [cutoff, options.batch ?? 1_000],
  );
  return rows[0]?.n ?? 0;
}
