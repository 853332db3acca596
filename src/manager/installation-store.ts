// The Manager's installation data: which installations exist and whether the app was removed from them, and
// stopping a removed installation's queued jobs. Every function runs on the connection it is given, so it
// joins the caller's transaction.
import type { Queryable } from "../db/queryable.js";

/** Whether the app was uninstalled from the installation (an unknown one is not removed). */
export async function isInstallationRemoved(db: Queryable, installationId: number): Promise<boolean> {
  const { rows } = await db.query<{ removed: boolean }>("SELECT removed_at IS NOT NULL AS removed FROM installations WHERE id = $1", [installationId]);
  return rows[0]?.removed ?? false;
}

/** Records the installation unless it is known (a removed one stays removed). */
export async function recordInstallation(db: Queryable, installationId: number, account: string): Promise<void> {
  await db.query("INSERT INTO installations (id, account) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING", [installationId, account]);
}

/** Records the installation as present: installed again after a removal, or its account learnt. */
export async function recordInstallationPresent(db: Queryable, installationId: number, account: string | null): Promise<void> {
  await db.query(
    `INSERT INTO installations (id, account) VALUES ($1, $2)
     ON CONFLICT (id) DO UPDATE SET removed_at = NULL, account = coalesce(EXCLUDED.account, installations.account)`,
    [installationId, account],
  );
}

/** Records that the app was uninstalled from the installation. */
export async function markInstallationRemoved(db: Queryable, installationId: number, account: string | null): Promise<void> {
  await db.query(
    `INSERT INTO installations (id, account, removed_at) VALUES ($1, $2, now())
     ON CONFLICT (id) DO UPDATE SET removed_at = now()`,
    [installationId, account],
  );
}

/** Removes an installation's waiting jobs (a running one finishes, and then finds the installation removed). */
export async function stopInstallationJobs(db: Queryable, installationId: number, exceptJobId?: string): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT j.id::text AS id FROM queued_jobs q JOIN graphile_worker.jobs j ON j.id = q.job_id
     WHERE (q.payload->>'installationId' = $1::bigint::text
        OR (q.payload->>'taskId' IS NOT NULL AND (q.payload->>'taskId') IN (
              SELECT t.id::text FROM tasks t JOIN requirements r ON r.id = t.requirement_id WHERE r.installation_id = $1::bigint)))
       AND j.id::text IS DISTINCT FROM $2 AND j.locked_at IS NULL`,
    [installationId, exceptJobId ?? null],
  );
  if (rows.length === 0) return 0;
  const ids = rows.map((row) => row.id);
  await db.query("SELECT graphile_worker.complete_jobs($1::bigint[])", [ids]);
  return ids.length;
}
