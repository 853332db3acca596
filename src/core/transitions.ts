// The one way to change the state of a requirement or a task: lock the row, check the state machine,
// write the new state and the audit event in the same transaction. An illegal move is refused.
import type pg from "pg";
import { appendEvents } from "../audit/append.js";
import { assertTransition, type RequirementState, type TaskState, type TransitionActor } from "./state-machine.js";

export type TransitionContext = {
  /** Who caused it: a GitHub login, an employee id, or a component such as `aura/manager`. */
  actor: string;
  by?: TransitionActor;
  reason: string;
  details?: Record<string, unknown>;
};

export type Db = pg.PoolClient;

/** Runs `fn` in a transaction on a pooled client. */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

export async function transitionRequirement(
  client: Db,
  requirementId: number,
  to: RequirementState,
  context: TransitionContext,
): Promise<{ from: RequirementState; to: RequirementState }> {
  const row = (
    await client.query<{ state: RequirementState; repo: string; issue_number: number }>(
      "SELECT state, repo, issue_number FROM requirements WHERE id = $1 FOR UPDATE",
      [requirementId],
    )
  ).rows[0];
  if (!row) throw new Error(`requirement ${requirementId} does not exist`);
  assertTransition("requirement", row.state, to, context.by ?? "system");
  await client.query(
    `UPDATE requirements SET state = $2, updated_at = now(),
       pre_halt_state = CASE WHEN $2 = 'halted' THEN state ELSE pre_halt_state END
     WHERE id = $1`,
    [requirementId, to],
  );
  await appendEvents(client, [
    {
      actor: context.actor,
      action: "requirement.transitioned",
      subject: `${row.repo}#${row.issue_number}`,
      payload: { requirementId, from: row.state, to, reason: context.reason, ...context.details },
    },
  ]);
  return { from: row.state, to };
}

/**
 * Moves a requirement to `to` only when it is in `from` now (the move is then checked and recorded like any
 * other); returns whether it moved. For steps that escalate or settle a requirement only from one state.
 */
export async function transitionRequirementFrom(
  client: Db,
  requirementId: number,
  from: RequirementState,
  to: RequirementState,
  context: TransitionContext,
): Promise<boolean> {
  const row = (await client.query<{ state: RequirementState }>("SELECT state FROM requirements WHERE id = $1", [requirementId])).rows[0];
  if (row?.state !== from) return false;
  await transitionRequirement(client, requirementId, to, context);
  return true;
}

export async function transitionTask(client: Db, taskId: number, to: TaskState, context: TransitionContext): Promise<{ from: TaskState; to: TaskState }> {
  const row = (
    await client.query<{ state: TaskState; task_key: string; repo: string; issue_number: number }>(
      `SELECT t.state, t.task_key, r.repo, r.issue_number FROM tasks t JOIN requirements r ON r.id = t.requirement_id
       WHERE t.id = $1 FOR UPDATE OF t`,
      [taskId],
    )
  ).rows[0];
  if (!row) throw new Error(`task ${taskId} does not exist`);
  // A reassignment or a failover is assigned → assigned: a new routing decision, so it is allowed again.
  assertTransition("task", row.state, to, context.by ?? "system");
  await client.query("UPDATE tasks SET state = $2, updated_at = now() WHERE id = $1", [taskId, to]);
  await appendEvents(client, [
    {
      actor: context.actor,
      action: "task.transitioned",
      subject: `${row.repo}#${row.issue_number}/${row.task_key}`,
      payload: { taskId, from: row.state, to, reason: context.reason, ...context.details },
    },
  ]);
  return { from: row.state, to };
}
