// Installation-wide halt, applied where jobs are registered. While `/aura halt` is in force no new model call,
// sandbox run or GitHub write starts: each job declares once, beside its handler (each role's `role.ts`),
// whether it stops while its installation is halted and how its installation is found. A stopped job is put
// back to run again in 15 s under its own key and does nothing else, so work in flight resumes from its last
// step after `/aura resume`, which only clears the mark: nothing needs to be queued again. Intake is still
// recorded while halted (the webhook inbox does not ask).
import type { Task } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { noteJobIds } from "../observability/log.js";
import { enqueue, isJobName, type JobPayloads } from "./enqueue.js";

export const HALT_RECHECK_MS = 15_000;

/**
 * The installation whose halt stops this run of the job, or undefined when this run does nothing a halt stops
 * (the subject is gone, or the run only records). Errors here are not swallowed: the job fails and retries.
 */
export type HaltScope = (payload: unknown) => Promise<number | undefined>;

/** A job as a role registers it: its handler, and whether it stops while halted (`false`: it never does). */
export type JobDefinition = { run: Task; stopsWhileHalted: HaltScope | false };

export async function isHalted(pool: Pick<pg.Pool, "query">, installationId: number): Promise<boolean> {
  const { rows } = await pool.query<{ halted: boolean }>("SELECT halted_at IS NOT NULL AS halted FROM installations WHERE id = $1", [installationId]);
  return rows[0]?.halted ?? false;
}

/**
 * True when the job must not run now: its installation is halted, and the job has been queued again to run in
 * 15 s (same name, payload and key). The caller returns at once.
 */
export async function deferWhileHalted(deps: { pool: pg.Pool; log: Logger }, name: string, job: JobDefinition, payload: unknown): Promise<boolean> {
  if (job.stopsWhileHalted === false) return false;
  const installationId = await job.stopsWhileHalted(payload);
  if (installationId !== undefined) noteJobIds({ installationId });
  if (installationId === undefined || !(await isHalted(deps.pool, installationId))) return false;
  if (!isJobName(name)) throw new Error(`job ${name} is not in src/queue/enqueue.ts, so it cannot be queued again after the halt`);
  await enqueue(deps.pool, name, payload as JobPayloads[typeof name], { runAt: new Date(Date.now() + HALT_RECHECK_MS) });
  deps.log.info({ installationId, task: name }, "installation is halted; job deferred");
  return true;
}
