// Deliveries GitHub could not hand over (the app was down, a timeout) are never retried by GitHub itself.
// The leader lists the app's recent webhook deliveries and asks GitHub to redeliver each failed one whose
// id the inbox has not recorded; the inbox then handles it like any other delivery.
import type pg from "pg";
import type { InstallationOctokit } from "./octokit.js";

type HookDelivery = { id: number; guid: string; status_code: number; redelivery: boolean; delivered_at: string };

export async function redeliverFailedDeliveries(
  pool: Pick<pg.Pool, "query">,
  appOctokit: Pick<InstallationOctokit, "request">,
  options: { lookbackMs?: number; now?: () => Date; maxPages?: number } = {},
): Promise<{ redelivered: string[] }> {
  const now = options.now?.() ?? new Date();
  const since = now.getTime() - (options.lookbackMs ?? 3 * 3_600_000);
  const failed: HookDelivery[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < (options.maxPages ?? 5); page++) {
    const response = await appOctokit.request("GET /app/hook/deliveries", { per_page: 100, ...(cursor ? { cursor } : {}) });
    const deliveries = response.data as HookDelivery[];
    failed.push(...deliveries.filter((d) => (d.status_code < 200 || d.status_code >= 300) && Date.parse(d.delivered_at) >= since));
    const next = /<[^>]*[?&]cursor=([^&>]+)[^>]*>;\s*rel="next"/.exec(String(response.headers.link ?? ""))?.[1];
    const oldest = deliveries.at(-1);
    if (!next || !oldest || Date.parse(oldest.delivered_at) < since) break;
    cursor = decodeURIComponent(next);
  }
  if (failed.length === 0) return { redelivered: [] };
  // A guid seen by the inbox (even from another attempt) needs nothing; one redelivery per guid is enough.
  const guids = [...new Set(failed.map((d) => d.guid))];
  const known = new Set(
    (await pool.query<{ delivery_id: string }>("SELECT delivery_id FROM webhook_deliveries WHERE delivery_id = ANY($1::text[])", [guids])).rows.map(
      (row) => row.delivery_id,
    ),
  );
  const redelivered: string[] = [];
  for (const guid of guids) {
    if (known.has(guid)) continue;
    const attempt = failed.find((d) => d.guid === guid) as HookDelivery;
    await appOctokit.request("POST /app/hook/deliveries/{delivery_id}/attempts", { delivery_id: attempt.id });
    redelivered.push(guid);
  }
  return { redelivered };
}
