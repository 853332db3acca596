// Finds the task a pull request belongs to (by the PR number the work loop recorded, the hidden
// `<!-- aura:task id=N -->` marker in the PR body, or the branch), with its active assignment and the commit
// SHAs the work loop recorded in `task_commits` (Employees' migration 007; read only when it exists).
import type pg from "pg";
import type { TaskRecord } from "./pull-context.js";

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

const TASK_MARKER = /<!--\s*aura:task\s+id=(\d+)\s*-->/;

export type FoundTask = { record: TaskRecord; requirementId: number; costUsd: number };

/** The task id in the PR body's hidden marker, if any. */
export function taskIdFromBody(body: string | null): number | undefined {
  const match = body ? TASK_MARKER.exec(body) : null;
  return match ? Number(match[1]) : undefined;
}

async function recordedShas(db: Queryable, taskId: number): Promise<string[]> {
  const exists = await db.query<{ present: boolean }>("SELECT to_regclass('task_commits') IS NOT NULL AS present");
  if (!exists.rows[0]?.present) return [];
  const { rows } = await db.query<{ sha: string }>("SELECT sha FROM task_commits WHERE task_id = $1", [taskId]);
  return rows.map((row) => row.sha);
}

/**
 * Settled model spend of the task's own work (Employees' `model_spend`; the advisory reviewer's calls count
 * against the requirement's budget but are not the author's cost), or the task row's own figure without it.
 */
async function taskCost(db: Queryable, taskId: number, recorded: number): Promise<number> {
  const exists = await db.query<{ present: boolean }>("SELECT to_regclass('model_spend') IS NOT NULL AS present");
  if (!exists.rows[0]?.present) return recorded;
  const { rows } = await db.query<{ usd: string | null }>(
    "SELECT sum(usd) AS usd FROM model_spend WHERE task_id = $1 AND state = 'settled' AND purpose <> 'advisory-review'",
    [taskId],
  );
  return Math.max(recorded, Number(rows[0]?.usd ?? 0));
}

export async function findTaskForPull(
  db: Queryable,
  pull: { installationId: number; repo: string; pullNumber: number; headRef: string; body: string | null },
): Promise<FoundTask | undefined> {
  const markerId = taskIdFromBody(pull.body) ?? null;
  const { rows } = await db.query<{
    id: string;
    requirement_id: string;
    task_class: string;
    scope: string[];
    branch: string | null;
    cost_usd: string;
    employee_id: string | null;
  }>(
    `SELECT t.id, t.requirement_id, t.task_class, t.scope, t.branch, t.cost_usd, a.employee_id
       FROM tasks t
       JOIN requirements r ON r.id = t.requirement_id
       LEFT JOIN assignments a ON a.task_id = t.id AND a.active
      WHERE r.installation_id = $1 AND r.repo = $2
        AND (t.pr_number = $3 OR t.id = $4 OR t.branch = $5)
      ORDER BY (t.pr_number = $3) DESC NULLS LAST, (t.id = $4) DESC NULLS LAST, t.id DESC
      LIMIT 1`,
    [pull.installationId, pull.repo, pull.pullNumber, markerId, pull.headRef],
  );
  const row = rows[0];
  if (!row) return undefined;
  const taskId = Number(row.id);
  return {
    requirementId: Number(row.requirement_id),
    costUsd: await taskCost(db, taskId, Number(row.cost_usd)),
    record: {
      taskId: String(taskId),
      taskClass: row.task_class,
      scopeGlobs: row.scope,
      assignedEmployee: row.employee_id ?? undefined,
      branch: row.branch ?? "",
      recordedCommitShas: await recordedShas(db, taskId),
    },
  };
}
