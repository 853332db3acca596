// The webhook inbox. A delivery is recorded by its X-GitHub-Delivery id and its jobs are enqueued in the
// same transaction, before any work happens. A redelivery of the same id only counts the duplicate, and
// re-enqueues the delivery's jobs if it was never processed and no job for it is waiting.
import type pg from "pg";
import type { DeliverySummary, Dispatcher, JobSpec } from "./dispatch.js";

export type RecordResult = { duplicate: boolean; jobs: JobSpec[]; requeued: boolean };

async function enqueue(client: pg.PoolClient, jobs: JobSpec[], deliveryId: string): Promise<void> {
  for (const job of jobs) {
    await client.query(
      "SELECT graphile_worker.add_job($1, $2::json, job_key => $3, max_attempts => 5)",
      [job.task, JSON.stringify({ ...job.payload, deliveryId }), job.key ?? null],
    );
  }
}

export async function recordDelivery(
  pool: pg.Pool,
  delivery: DeliverySummary,
  dispatch: Dispatcher,
): Promise<RecordResult> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const inserted = await client.query(
      `INSERT INTO webhook_deliveries (delivery_id, event, action, installation_id, repository, payload)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (delivery_id) DO UPDATE SET duplicates = webhook_deliveries.duplicates + 1
       RETURNING (xmax = 0) AS fresh, processed_at`,
      [
        delivery.deliveryId,
        delivery.event,
        delivery.action ?? null,
        delivery.installationId ?? null,
        delivery.repository ?? null,
        delivery.payload,
      ],
    );
    const row = inserted.rows[0] as { fresh: boolean; processed_at: Date | null };
    const jobs = dispatch(delivery);
    let requeued = false;
    if (row.fresh) {
      await enqueue(client, jobs, delivery.deliveryId);
    } else if (row.processed_at === null && jobs.length > 0) {
      const waiting = await client.query(
        "SELECT 1 FROM graphile_worker._private_jobs WHERE payload->>'deliveryId' = $1 LIMIT 1",
        [delivery.deliveryId],
      );
      if (waiting.rowCount === 0) {
        await enqueue(client, jobs, delivery.deliveryId);
        requeued = true;
      }
    }
    await client.query("COMMIT");
    return { duplicate: !row.fresh, jobs, requeued };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Marks a delivery's work as done (called by the job that handled it). */
export async function markDeliveryProcessed(pool: pg.Pool, deliveryId: string, error?: string): Promise<void> {
  await pool.query("UPDATE webhook_deliveries SET processed_at = now(), error = $2 WHERE delivery_id = $1", [
    deliveryId,
    error ?? null,
  ]);
}
