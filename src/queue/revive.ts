// Gate jobs that ran out of attempts are given more. A `pull.audit` or `pull.evaluate` job that fails all its
// attempts (a long run of GitHub secondary rate limits and 5xx answers, or a process killed at each try) stays
// failed in graphile-worker's queue, and nothing else moves that pull request on: the head has the Auditor's
// evidence but no verdict, the draft is never made ready, and the requirement waits unseen (bench:soak at 20 %
// faults left two so). The leader gives such a job a fresh round of attempts once it has been failed for a
// while, a bounded number of times; past that it stays failed for an operator (the `aura_queue_jobs` gauge's
// `failed` state shows it) and says so in the log. Only graphile-worker's public view and SQL functions are used.
import type { Logger } from "pino";
import type { Queryable } from "../db/queryable.js";

export type Revival = { id: string; task: string; attempts: number; maxAttempts: number; lastError: string | null };

export type ReviveOptions = {
  /** The jobs to revive (safe to run again: each re-reads what it works on). */
  tasks: readonly string[];
  /** How long a job must have been failed first, so a storm of rate limits can pass. */
  failedForMs: number;
  /** Attempts added per revival. */
  attemptsPerRound: number;
  /** No job is revived past this many attempts in all. */
  maxTotalAttempts: number;
};

export const GATE_REVIVAL: ReviveOptions = {
  tasks: ["pull.audit", "pull.evaluate", "pull.gate-closed"],
  failedForMs: 10 * 60_000,
  attemptsPerRound: 5,
  maxTotalAttempts: 20,
};

/** Gives failed jobs of `tasks` another round of attempts (at once); returns those revived and those past the cap. */
export async function reviveFailedJobs(db: Queryable, options: ReviveOptions): Promise<{ revived: Revival[]; exhausted: Revival[] }> {
  const { rows } = await db.query<{ id: string; task_identifier: string; attempts: number; max_attempts: number; last_error: string | null }>(
    `SELECT id::text, task_identifier, attempts, max_attempts, last_error FROM graphile_worker.jobs
      WHERE task_identifier = ANY($1::text[]) AND locked_at IS NULL AND attempts >= max_attempts
        AND updated_at < now() - make_interval(secs => $2)
      ORDER BY id LIMIT 100`,
    [options.tasks, options.failedForMs / 1000],
  );
  const described = rows.map((row) => ({
    id: row.id,
    task: row.task_identifier,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    lastError: row.last_error,
  }));
  const revivable = described.filter((job) => job.maxAttempts + options.attemptsPerRound <= options.maxTotalAttempts);
  const exhausted = described.filter((job) => job.maxAttempts + options.attemptsPerRound > options.maxTotalAttempts);
  const revived: Revival[] = [];
  for (const job of revivable) {
    // reschedule_jobs leaves a job alone if it was locked meanwhile; max_attempts grows, so the count of
    // revivals is kept on the job itself and survives a change of leader.
    const { rowCount } = await db.query(
      "SELECT 1 FROM graphile_worker.reschedule_jobs(ARRAY[$1::bigint], run_at := now(), max_attempts := $2::int) WHERE attempts < max_attempts",
      [job.id, job.maxAttempts + options.attemptsPerRound],
    );
    if (rowCount) revived.push(job);
  }
  return { revived, exhausted };
}

/** The leader's duty around reviveFailedJobs: logs what it revived, and once per job what it gave up on. */
export function gateRevivalDuty(db: Queryable, log: Logger, options: ReviveOptions = GATE_REVIVAL) {
  const warned = new Set<string>();
  return {
    name: "revive-failed-gate-jobs",
    everyMs: 60_000,
    run: async () => {
      const { revived, exhausted } = await reviveFailedJobs(db, options);
      for (const job of revived)
        log.warn({ job: job.id, task: job.task, attempts: job.attempts, lastError: job.lastError }, "a gate job ran out of attempts; given another round");
      for (const job of exhausted.filter((job) => !warned.has(job.id))) {
        warned.add(job.id);
        log.error(
          { job: job.id, task: job.task, attempts: job.attempts, lastError: job.lastError },
          `a gate job failed ${job.attempts} attempts and is not retried again: its pull request has no current verdict; fix the cause (see lastError), then push to the branch or re-run the job`,
        );
      }
    },
  };
}
