// The Accountant's record of eval results, in the app's database (db/migrations/024-eval-results.sql): `aura eval run` records its run and
// each graded attempt here as well as in results.jsonl, so the scoreboard can show eval figures beside live
// outcomes (labelled "eval") and a director can accept an eval run as an employee's trial. Offline figures only:
// nothing here is read by the live posterior, HR's review or routing. Every function runs on the connection it
// is given.
import type { Queryable } from "../db/queryable.js";
import { betaQuantile } from "./beta-distribution.js";

/** One graded attempt as `aura eval run` records it (a line of its results.jsonl carries these and more). */
export type EvalAttemptRecord = {
  instance_id: string;
  employee: string;
  attempt: number;
  task_class: string;
  resolved: boolean;
  reason: string;
  cost_usd: number;
  seconds: number;
  steps: number;
};

export const INTERVAL_METHOD = "Beta posterior, uniform prior: Beta(1 + resolved, 1 + unresolved), 2.5 % and 97.5 % quantiles";

/** The 95 % credible interval of a resolved share (INTERVAL_METHOD): the eval report, the scoreboard and `/aura trial`. */
export function resolvedInterval(resolved: number, attempts: number): { lower: number; upper: number } {
  const failed = attempts - resolved;
  return { lower: betaQuantile(0.025, 1 + resolved, 1 + failed), upper: betaQuantile(0.975, 1 + resolved, 1 + failed) };
}

export type EvalRunRecord = { tasksDigest: string; tasksFile: string; outDir: string; runBy: string };

/** Opens the eval run of this folder and task file (a resumed eval reopens its own row) and returns its id. */
export async function openEvalRun(db: Queryable, run: EvalRunRecord): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO eval_runs (tasks_digest, tasks_file, out_dir, run_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (out_dir, tasks_digest) DO UPDATE SET ended_at = NULL, run_by = EXCLUDED.run_by
     RETURNING id`,
    [run.tasksDigest, run.tasksFile, run.outDir, run.runBy],
  );
  return Number(rows[0]?.id);
}

/** Records graded attempts; an attempt already recorded (a resumed eval) is left as it is. */
export async function recordEvalAttempts(db: Queryable, runId: number, results: readonly EvalAttemptRecord[]): Promise<void> {
  for (const result of results) {
    await db.query(
      `INSERT INTO eval_attempts (run_id, instance_id, employee_id, attempt, task_class, resolved, reason, cost_usd, seconds, steps)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING`,
      [
        runId,
        result.instance_id,
        result.employee,
        result.attempt,
        result.task_class,
        result.resolved,
        result.reason,
        result.cost_usd,
        result.seconds,
        result.steps,
      ],
    );
  }
}

export async function endEvalRun(db: Queryable, runId: number): Promise<void> {
  await db.query("UPDATE eval_runs SET ended_at = now() WHERE id = $1", [runId]);
}

export type EvalRunRow = { id: number; tasksDigest: string; tasksFile: string; runBy: string; startedAt: Date; endedAt: Date | null };

export async function loadEvalRun(db: Queryable, runId: number): Promise<EvalRunRow | undefined> {
  const { rows } = await db.query<{ id: string; tasks_digest: string; tasks_file: string; run_by: string; started_at: Date; ended_at: Date | null }>(
    "SELECT id, tasks_digest, tasks_file, run_by, started_at, ended_at FROM eval_runs WHERE id = $1",
    [runId],
  );
  const row = rows[0];
  return row
    ? { id: Number(row.id), tasksDigest: row.tasks_digest, tasksFile: row.tasks_file, runBy: row.run_by, startedAt: row.started_at, endedAt: row.ended_at }
    : undefined;
}

/** An employee's figures in one eval run: graded attempts and how many resolved their task. */
export type EvalTally = { runId: number; employee: string; attempts: number; resolved: number; endedAt: Date | null };

export async function loadEvalTally(db: Queryable, runId: number, employeeId: string): Promise<EvalTally> {
  const { rows } = await db.query<{ attempts: number; resolved: number; ended_at: Date | null }>(
    `SELECT count(a.*)::int AS attempts, count(a.*) FILTER (WHERE a.resolved)::int AS resolved, r.ended_at
       FROM eval_runs r LEFT JOIN eval_attempts a ON a.run_id = r.id AND a.employee_id = $2
      WHERE r.id = $1 GROUP BY r.ended_at`,
    [runId, employeeId],
  );
  const row = rows[0];
  return { runId, employee: employeeId, attempts: row?.attempts ?? 0, resolved: row?.resolved ?? 0, endedAt: row?.ended_at ?? null };
}

/** Each employee's figures from the newest finished eval run that measured it. */
export async function loadLatestEvalTallies(db: Queryable): Promise<Map<string, EvalTally>> {
  const { rows } = await db.query<{ employee_id: string; run_id: string; attempts: number; resolved: number; ended_at: Date }>(
    `SELECT DISTINCT ON (a.employee_id) a.employee_id, a.run_id, r.ended_at,
            count(*) OVER w ::int AS attempts, count(*) FILTER (WHERE a.resolved) OVER w ::int AS resolved
       FROM eval_attempts a JOIN eval_runs r ON r.id = a.run_id
      WHERE r.ended_at IS NOT NULL
     WINDOW w AS (PARTITION BY a.employee_id, a.run_id)
      ORDER BY a.employee_id, r.ended_at DESC, a.run_id DESC`,
  );
  return new Map(
    rows.map((row) => [
      row.employee_id,
      { runId: Number(row.run_id), employee: row.employee_id, attempts: row.attempts, resolved: row.resolved, endedAt: row.ended_at },
    ]),
  );
}
