// The queue's depth, read at scrape time with one query over graphile-worker's public `jobs` view (its private
// tables are not an API). The numbers are the database's, so every process reports the same ones.
import type pg from "pg";
import { metrics } from "./metrics.js";

type Db = Pick<pg.Pool, "query">;

type DepthRow = { job: string; waiting: number; scheduled: number; running: number; failed: number; oldest_wait: number | null };

const DEPTH_SQL = `SELECT task_identifier AS job,
    count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts AND run_at <= now())::int AS waiting,
    count(*) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts AND run_at > now())::int AS scheduled,
    count(*) FILTER (WHERE locked_at IS NOT NULL)::int AS running,
    count(*) FILTER (WHERE locked_at IS NULL AND attempts >= max_attempts)::int AS failed,
    extract(epoch FROM now() - min(run_at) FILTER (WHERE locked_at IS NULL AND attempts < max_attempts AND run_at <= now()))::float8 AS oldest_wait
  FROM graphile_worker.jobs GROUP BY task_identifier`;

/**
 * Sets the queue gauges from the database; job types with no job left disappear from the output. When the
 * database does not answer, the gauges are left out and `aura_queue_read_ok` says so; the error is rethrown.
 */
export async function refreshQueueDepth(db: Db): Promise<void> {
  const { queueDepth, queueOldestWait, queueReadOk } = metrics();
  queueDepth.reset();
  queueOldestWait.reset();
  queueReadOk.set(0);
  const { rows } = await db.query<DepthRow>(DEPTH_SQL);
  queueReadOk.set(1);
  for (const row of rows) {
    for (const state of ["waiting", "scheduled", "running", "failed"] as const) queueDepth.set({ job: row.job, state }, row[state]);
    queueOldestWait.set({ job: row.job }, row.oldest_wait ?? 0);
  }
}
