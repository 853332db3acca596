// Polling for a condition that another connection or process makes true.
import type pg from "pg";

/** Resolves once `check()` is true, polling every 10 ms; rejects after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`the condition was not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Resolves once the delivery's job has marked it processed in webhook_deliveries, polling every 100 ms; rejects after `timeoutMs`. */
export async function waitForProcessed(pool: pg.Pool, deliveryId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query("SELECT processed_at FROM webhook_deliveries WHERE delivery_id = $1", [deliveryId]);
    if (rows[0]?.processed_at) return;
    if (Date.now() > deadline) throw new Error(`delivery ${deliveryId} was not processed within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
