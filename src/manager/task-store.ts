// The Manager's task data: the tasks of a plan, the routing decisions and assignments that give them to
// employees, and the provider failures that route them again. Every function runs on the connection it is
// given, so it joins the caller's transaction; state changes go through core/transitions.ts, not through here.
import type { Queryable } from "../db/queryable.js";
import type { TaskState } from "../core/state-machine.js";
import type { TaskPlan } from "./plan.js";
import type { RoutingDecision } from "./route.js";

/** A task with what routing needs of it and of its requirement (numeric columns as PostgreSQL returns them). */
export type RoutingTask = {
  id: number;
  task_key: string;
  task_class: string;
  state: TaskState;
  attempt: number;
  estimate_tokens: number;
  estimate_usd: string;
  cost_usd: string;
  requirement_id: number;
  installation_id: number;
  repo: string;
  private: boolean;
  issue_number: number;
  repo_config: unknown;
  /** What all of the requirement's tasks have cost so far. */
  requirement_cost: string;
};

/** Locks the task (not its requirement) and reads what routing needs. */
export async function lockTaskForRouting(db: Queryable, taskId: number): Promise<RoutingTask | undefined> {
  const { rows } = await db.query<RoutingTask>(
    `SELECT t.id, t.task_key, t.task_class, t.state, t.attempt, t.estimate_tokens, t.estimate_usd, t.cost_usd,
            t.requirement_id, r.installation_id, r.repo, r.private, r.issue_number, r.repo_config,
            (SELECT coalesce(sum(cost_usd), 0) FROM tasks WHERE requirement_id = r.id) AS requirement_cost
     FROM tasks t JOIN requirements r ON r.id = t.requirement_id WHERE t.id = $1 FOR UPDATE OF t`,
    [taskId],
  );
  return rows[0];
}

/** Counts a routing attempt of the task. */
export async function setTaskAttempt(db: Queryable, taskId: number, attempt: number): Promise<void> {
  await db.query("UPDATE tasks SET attempt = $2 WHERE id = $1", [taskId, attempt]);
}

/** Writes the router's full decision; returns its id. */
export async function insertRoutingDecision(db: Queryable, taskId: number, attempt: number, decision: RoutingDecision): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO routing_decisions (task_id, attempt, kind, seed, winner, decision) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [taskId, attempt, decision.kind, decision.seed, decision.winner, JSON.stringify(decision)],
  );
  return Number(rows[0]?.id);
}

/** Ends the task's active assignment and gives it to `employeeId` under the decision that chose it. */
export async function replaceActiveAssignment(db: Queryable, taskId: number, employeeId: string, decisionId: number): Promise<void> {
  await db.query("UPDATE assignments SET active = false WHERE task_id = $1 AND active", [taskId]);
  await db.query("INSERT INTO assignments (task_id, employee_id, routing_decision_id) VALUES ($1, $2, $3)", [taskId, employeeId, decisionId]);
}

/** The installation of the task's requirement; undefined when the task is gone. */
export async function loadTaskInstallation(db: Queryable, taskId: number): Promise<number | undefined> {
  const { rows } = await db.query<{ installation_id: string }>(
    "SELECT r.installation_id FROM tasks t JOIN requirements r ON r.id = t.requirement_id WHERE t.id = $1",
    [taskId],
  );
  return rows[0] ? Number(rows[0].installation_id) : undefined;
}

/** Locks the task and reads its state and the employee of its active assignment (null when it has none). */
export async function lockTaskWithAssignee(
  db: Queryable,
  taskId: number,
): Promise<{ task_key: string; requirement_id: string; state: string; employee_id: string | null } | undefined> {
  const { rows } = await db.query<{ task_key: string; requirement_id: string; state: string; employee_id: string | null }>(
    `SELECT t.task_key, t.requirement_id, t.state, a.employee_id
       FROM tasks t LEFT JOIN assignments a ON a.task_id = t.id AND a.active
      WHERE t.id = $1 FOR UPDATE OF t`,
    [taskId],
  );
  return rows[0];
}

/** Employees whose provider failed this task (routing leaves them out). */
export async function loadFailedEmployees(db: Queryable, taskId: number): Promise<string[]> {
  const { rows } = await db.query<{ employee_id: string }>("SELECT DISTINCT employee_id FROM task_provider_failures WHERE task_id = $1", [taskId]);
  return rows.map((row) => row.employee_id);
}

/**
 * Tasks in `assigned` or `working` with no state change for `stuckMs`, longest-waiting first. A halted or
 * removed installation's tasks are not stuck: they wait on purpose.
 */
export async function findStuckTasks(db: Queryable, options: { stuckMs: number; batch: number }): Promise<{ id: number; requirement_id: number }[]> {
  const { rows } = await db.query<{ id: number; requirement_id: number }>(
    `SELECT t.id, t.requirement_id FROM tasks t
       JOIN requirements r ON r.id = t.requirement_id
       LEFT JOIN installations i ON i.id = r.installation_id
     WHERE t.state IN ('assigned', 'working') AND t.updated_at < now() - make_interval(secs => $1)
       AND i.halted_at IS NULL AND i.removed_at IS NULL
     ORDER BY t.updated_at LIMIT $2`,
    [options.stuckMs / 1000, options.batch],
  );
  return rows;
}

/** Locks the task and reads whether it is still stuck (`stale`: no state change for `stuckMs`) and how often it was retried. */
export async function lockTaskForStuckCheck(
  db: Queryable,
  taskId: number,
  stuckMs: number,
): Promise<{ state: TaskState; stuck_retries: number; task_key: string; stale: boolean } | undefined> {
  const { rows } = await db.query<{ state: TaskState; stuck_retries: number; task_key: string; stale: boolean }>(
    `SELECT state, stuck_retries, task_key, updated_at < now() - make_interval(secs => $2) AS stale FROM tasks WHERE id = $1 FOR UPDATE`,
    [taskId, stuckMs / 1000],
  );
  return rows[0];
}

/** Counts a retry of a stuck task (the second time it is stuck, a director decides). */
export async function countStuckRetry(db: Queryable, taskId: number): Promise<void> {
  await db.query("UPDATE tasks SET stuck_retries = stuck_retries + 1 WHERE id = $1", [taskId]);
}

/** The tasks of one plan revision of the requirement, with what releasing dependents needs. */
export async function loadPlanTasks(
  db: Queryable,
  requirementId: number,
  planRevision: number,
): Promise<{ id: number; task_key: string; state: TaskState; depends_on: string[] }[]> {
  const { rows } = await db.query<{ id: number; task_key: string; state: TaskState; depends_on: string[] }>(
    "SELECT id, task_key, state, depends_on FROM tasks WHERE requirement_id = $1 AND plan_revision = $2 ORDER BY id",
    [requirementId, planRevision],
  );
  return rows;
}

/** Locks every task of the requirement, in id order. */
export async function lockRequirementTasks(db: Queryable, requirementId: number): Promise<{ id: number; state: TaskState }[]> {
  const { rows } = await db.query<{ id: number; state: TaskState }>("SELECT id, state FROM tasks WHERE requirement_id = $1 ORDER BY id FOR UPDATE", [
    requirementId,
  ]);
  return rows;
}

/** Locks the requirement's tasks of plan revisions before `revision`, in id order. */
export async function lockEarlierPlanTasks(db: Queryable, requirementId: number, revision: number): Promise<{ id: number; state: TaskState }[]> {
  const { rows } = await db.query<{ id: number; state: TaskState }>(
    "SELECT id, state FROM tasks WHERE requirement_id = $1 AND plan_revision < $2 ORDER BY id FOR UPDATE",
    [requirementId, revision],
  );
  return rows;
}

/** Creates a task of the plan's revision (a task key already there is left as it is). */
export async function insertPlannedTask(db: Queryable, requirementId: number, revision: number, task: TaskPlan["tasks"][number]): Promise<void> {
  await db.query(
    `INSERT INTO tasks (requirement_id, plan_revision, task_key, title, instructions, task_class, scope, acceptance, depends_on, estimate_tokens, estimate_usd)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
    [
      requirementId,
      revision,
      task.id,
      task.title,
      task.instructions,
      task.taskClass,
      task.scope,
      task.acceptance,
      task.dependsOn,
      task.estimate.tokens,
      task.estimate.usd,
    ],
  );
}

/**
 * Stops the work of tasks just cancelled: their assignments end, their queued jobs are removed and the model
 * spend reserved for them is released.
 */
export async function stopCancelledTaskWork(db: Queryable, taskIds: number[]): Promise<void> {
  await db.query("UPDATE assignments SET active = false WHERE task_id = ANY($1::bigint[]) AND active", [taskIds]);
  // A running job cannot be deleted; remove_job stops it from being retried and frees its key.
  await db.query("SELECT graphile_worker.remove_job('task:' || id) FROM unnest($1::bigint[]) AS id", [taskIds]);
  await db.query("UPDATE model_spend SET state = 'released', settled_at = now() WHERE task_id = ANY($1::bigint[]) AND state = 'reserved'", [taskIds]);
}
