// Finds the task a pull request belongs to (by the PR number the work loop recorded, the hidden
// `<!-- aura:task id=N -->` marker in the PR body, or the branch), with its active assignment and the commit
// SHAs the work loop recorded in `task_commits` (Employees' migration 007; read only when it exists).
import type pg from "pg";
import type { TaskRecord } from "./pull-context.js";
import { recordedCommitShas, settledAuthorSpendUsd, taskOfPull } from "./store.js";

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

const TASK_MARKER = /<!--\s*aura:task\s+id=(\d+)\s*-->/;

export type FoundTask = { record: TaskRecord; requirementId: number; costUsd: number };

/** The task id in the PR body's hidden marker, if any. */
export function taskIdFromBody(body: string | null): number | undefined {
  const match = body ? TASK_MARKER.exec(body) : null;
  return match ? Number(match[1]) : undefined;
}

export async function findTaskForPull(
  db: Queryable,
  pull: { installationId: number; repo: string; pullNumber: number; headRef: string; body: string | null },
): Promise<FoundTask | undefined> {
  const task = await taskOfPull(db, { ...pull, markerId: taskIdFromBody(pull.body) ?? null });
  if (!task) return undefined;
  const spent = await settledAuthorSpendUsd(db, task.taskId);
  return {
    requirementId: task.requirementId,
    // The settled spend of the task's own work, or the task row's own figure without the spend ledger.
    costUsd: spent === undefined ? task.costUsd : Math.max(task.costUsd, spent),
    record: {
      taskId: String(task.taskId),
      taskClass: task.taskClass,
      scopeGlobs: task.scope,
      assignedEmployee: task.employeeId ?? undefined,
      branch: task.branch ?? "",
      recordedCommitShas: await recordedCommitShas(db, task.taskId),
    },
  };
}
