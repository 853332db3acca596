// Installation-wide halt: while `/aura halt` is in force no new model call, sandbox run or GitHub write
// starts. A job that finds its installation halted puts itself back 15 s later and stops, so work in flight
// resumes from its last step after `/aura resume`. Intake is still recorded while halted.
import type { JobHelpers } from "graphile-worker";
import type pg from "pg";
import type { Services } from "../services.js";

export const HALT_RECHECK_MS = 15_000;

export async function isHalted(pool: Pick<pg.Pool, "query">, installationId: number): Promise<boolean> {
  const { rows } = await pool.query<{ halted: boolean }>(
    "SELECT halted_at IS NOT NULL AS halted FROM installations WHERE id = $1",
    [installationId],
  );
  return rows[0]?.halted ?? false;
}

/** True when halted: the job has been re-added to run later and the caller must return now. */
export async function deferIfHalted(
  services: Pick<Services, "pool" | "log">,
  helpers: Pick<JobHelpers, "addJob">,
  job: { installationId: number; task: string; payload: Record<string, unknown>; jobKey?: string },
): Promise<boolean> {
  if (!(await isHalted(services.pool, job.installationId))) return false;
  await helpers.addJob(job.task, job.payload, {
    runAt: new Date(Date.now() + HALT_RECHECK_MS),
    ...(job.jobKey ? { jobKey: job.jobKey } : {}),
  });
  services.log.info({ installationId: job.installationId, task: job.task }, "installation is halted; job deferred");
  return true;
}
