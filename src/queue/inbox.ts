// The webhook inbox. A delivery is recorded by its X-GitHub-Delivery id and its jobs are enqueued in the
// same transaction, before any work happens. A redelivery of the same id only counts the duplicate, and
// re-enqueues the delivery's jobs if it was never processed and no job for it is waiting.
import type pg from "pg";
import type { DeliverySummary, Dispatcher, JobSpec } from "./dispatch.js";
import { addJobsCte, batchParams, enqueueMany, JOB_STILL_QUEUED, unnestSpecs, type JobRequest } from "./enqueue.js";

export type RecordResult = { duplicate: boolean; jobs: JobSpec[]; requeued: boolean };

/** A delivery's jobs as enqueue requests: each payload names the delivery. */
export function deliveryJobs(jobs: readonly JobSpec[], deliveryId: string): JobRequest[] {
  return jobs.map((job) => ({ name: job.task, payload: { ...job.payload, deliveryId }, ...(job.key !== undefined ? { key: job.key } : {}) }) as JobRequest);
}

/** SQL condition: a job Aura queued for delivery `<column>` still exists. */
export function jobWaitingFor(column: string): string {
  return `EXISTS (SELECT 1 FROM queued_jobs q WHERE q.payload->>'deliveryId' = ${column} AND ${JOB_STILL_QUEUED})`;
}

export async function recordDelivery(pool: pg.Pool, delivery: DeliverySummary, dispatch: Dispatcher): Promise<RecordResult> {
  const jobs = dispatch(delivery);
  // The common case, a new delivery, is one statement: one round trip and one commit for the inbox row and
  // all its jobs together.
  const first = await pool.query<{ fresh: boolean; processed_at: Date | null; added: number }>(
    `WITH ins AS (
       INSERT INTO webhook_deliveries (delivery_id, event, action, installation_id, repository, payload)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (delivery_id) DO UPDATE SET duplicates = webhook_deliveries.duplicates + 1
       RETURNING (xmax = 0) AS fresh, processed_at
     ), specs AS (
       SELECT u.* FROM ins, ${unnestSpecs(7)} WHERE ins.fresh
     ), ${addJobsCte("specs")}
     SELECT ins.fresh, ins.processed_at, (SELECT count(*)::int FROM recorded) AS added FROM ins`,
    [
      delivery.deliveryId,
      delivery.event,
      delivery.action ?? null,
      delivery.installationId ?? null,
      delivery.repository ?? null,
      delivery.payload,
      ...batchParams(deliveryJobs(jobs, delivery.deliveryId)),
    ],
  );
  const row = first.rows[0] as { fresh: boolean; processed_at: Date | null; added: number };
  if (row.fresh) return { duplicate: false, jobs, requeued: false };
  if (row.processed_at !== null || jobs.length === 0) return { duplicate: true, jobs, requeued: false };

  // A redelivery of something never processed: enqueue again only if none of its jobs is waiting.
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT 1 FROM webhook_deliveries WHERE delivery_id = $1 FOR UPDATE", [delivery.deliveryId]);
    const waiting = await client.query<{ waiting: boolean }>(`SELECT ${jobWaitingFor("$1")} AS waiting`, [delivery.deliveryId]);
    const requeued = !waiting.rows[0]?.waiting;
    if (requeued) await enqueueMany(client, deliveryJobs(jobs, delivery.deliveryId));
    await client.query("COMMIT");
    return { duplicate: true, jobs, requeued };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Marks a delivery's work as done. The first mark wins: a later, generic mark (every job that names its
 * delivery gets one when it succeeds) keeps an earlier job's time and note.
 */
export async function markDeliveryProcessed(pool: Pick<pg.Pool, "query">, deliveryId: string, note?: string): Promise<void> {
  await pool.query("UPDATE webhook_deliveries SET processed_at = coalesce(processed_at, now()), error = coalesce(error, $2) WHERE delivery_id = $1", [
    deliveryId,
    note ?? null,
  ]);
}

/** A delivery's body as the inbox stored it (jobs carry only the delivery id); undefined when it is gone. */
export async function deliveryPayload(pool: Pick<pg.Pool, "query">, deliveryId: string): Promise<{ payload: unknown } | undefined> {
  const { rows } = await pool.query<{ payload: unknown }>("SELECT payload FROM webhook_deliveries WHERE delivery_id = $1", [deliveryId]);
  return rows[0];
}

/** The original delivery's repository fields: a local clone_url (tests) and the default branch. */
export async function deliveredRepository(
  pool: Pick<pg.Pool, "query">,
  installationId: number,
  repo: string,
): Promise<{ cloneUrl?: string; defaultBranch?: string }> {
  const { rows } = await pool.query<{ clone_url: string | null; default_branch: string | null }>(
    `SELECT payload #>> '{repository,clone_url}' AS clone_url, payload #>> '{repository,default_branch}' AS default_branch
     FROM webhook_deliveries WHERE installation_id = $1 AND repository = $2 ORDER BY received_at DESC LIMIT 1`,
    [installationId, repo],
  );
  const row = rows[0];
  return { ...(row?.clone_url ? { cloneUrl: row.clone_url } : {}), ...(row?.default_branch ? { defaultBranch: row.default_branch } : {}) };
}
