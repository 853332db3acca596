// A requirement's life after planning: starting tasks whose prerequisites have merged, a director's approval of
// a plan, and cancellation when the issue is closed or unlabelled (queued work removed, reservations released,
// tasks cancelled). Every state change goes through transitions.ts inside the caller's transaction.
import type pg from "pg";
import type { Services } from "../services.js";
import { routeTask } from "./assign.js";
import { lockRequirementPlan, lockRequirementState } from "./requirement-store.js";
import { loadPlanTasks, lockRequirementTasks, stopCancelledTaskWork } from "./task-store.js";
import { canTransition, type RequirementState } from "../core/state-machine.js";
import { addNotice, refreshStatusComment } from "../core/status-comment.js";
import { inTransaction, transitionRequirement, transitionTask } from "../core/transitions.js";

export type RoutedTask = { taskId: number; taskKey: string; employeeId: string | null };

/** `/aura approve` on a requirement that is not waiting for approval. */
export class PlanNotAwaitingApproval extends Error {
  override name = "PlanNotAwaitingApproval";
  constructor(
    readonly requirementId: number,
    readonly state: RequirementState,
  ) {
    super(
      state === "planning" || state === "received"
        ? "There is no plan to approve yet: the Manager is still planning. Try again when the status comment shows the plan."
        : `This requirement is ${state.replace(/_/g, " ")}, not waiting for approval, so there is nothing to approve.`,
    );
  }
}

/** Requirement states in which queued tasks may start. */
const WORKING_STATES: readonly RequirementState[] = ["in_progress", "needs_director"];

/**
 * Routes every queued task of the current plan whose prerequisites have all merged (dependent tasks wait).
 * Call inside a transaction; the Director's merge handling calls it after a task's PR merges.
 */
export async function releaseDependents(services: Services, client: pg.PoolClient, requirementId: number): Promise<RoutedTask[]> {
  const requirement = await lockRequirementPlan(client, requirementId);
  if (!requirement || !WORKING_STATES.includes(requirement.state)) return [];
  const tasks = await loadPlanTasks(client, requirementId, requirement.plan_revision);
  const stateOf = new Map(tasks.map((task) => [task.task_key, task.state]));
  const routed: RoutedTask[] = [];
  for (const task of tasks) {
    if (task.state !== "queued") continue;
    if (!task.depends_on.every((dependency) => stateOf.get(dependency) === "merged")) continue;
    const result = await routeTask(services, client, task.id);
    routed.push({ taskId: task.id, taskKey: task.task_key, employeeId: result.employeeId });
    if (result.employeeId === null) {
      await addNotice(client, requirementId, {
        kind: "warning",
        key: `unassigned:${task.id}:${result.decisionId}`,
        body: `Task \`${task.task_key}\` has no eligible employee (${result.decision.reason}). A director can \`/aura reassign ${task.task_key} <employee>\` or raise its budget with \`/aura budget ${task.task_key} +<amount>\`.`,
      });
    }
  }
  if (routed.some((task) => task.employeeId === null) && requirement.state === "in_progress") {
    await transitionRequirement(client, requirementId, "needs_director", {
      actor: "aura/manager",
      reason: "a task has no eligible employee",
    });
  }
  return routed;
}

/** `/aura approve`: a director starts a plan that waited for approval. The caller has checked the director. */
export async function approvePlan(services: Services, requirementId: number, director: string): Promise<{ routed: RoutedTask[] }> {
  const routed = await inTransaction(services.pool, async (client) => {
    const state = await lockRequirementState(client, requirementId);
    if (!state) throw new Error(`requirement ${requirementId} does not exist`);
    if (state !== "awaiting_approval") throw new PlanNotAwaitingApproval(requirementId, state);
    await transitionRequirement(client, requirementId, "in_progress", { actor: director, by: "director", reason: `plan approved by @${director}` });
    return releaseDependents(services, client, requirementId);
  });
  await refreshStatusComment(services, requirementId);
  return { routed };
}

/**
 * Cancels a requirement: its queued and running work is removed from the queue, reserved model spend is
 * released, open tasks and the requirement move to `cancelled`. A requirement already finished is left alone.
 */
export async function cancelRequirement(
  client: pg.PoolClient,
  requirementId: number,
  context: { actor: string; reason: string; noticeKey: string },
): Promise<{ cancelled: boolean; taskIds: number[] }> {
  const state = await lockRequirementState(client, requirementId);
  if (!state || !canTransition("requirement", state, "cancelled")) return { cancelled: false, taskIds: [] };
  const tasks = await lockRequirementTasks(client, requirementId);
  const taskIds: number[] = [];
  for (const task of tasks) {
    if (!canTransition("task", task.state, "cancelled")) continue;
    await transitionTask(client, task.id, "cancelled", { actor: context.actor, reason: context.reason });
    taskIds.push(task.id);
  }
  if (taskIds.length > 0) await stopCancelledTaskWork(client, taskIds);
  await transitionRequirement(client, requirementId, "cancelled", { actor: context.actor, reason: context.reason, details: { cancelledTasks: taskIds } });
  await addNotice(client, requirementId, {
    kind: "info",
    key: context.noticeKey,
    body: `Cancelled: ${context.reason}. To start over, reopen the issue or add the requirement label again.`,
  });
  return { cancelled: true, taskIds };
}

/** Convenience for jobs: release dependents in a transaction, then refresh the status comment. */
export async function releaseDependentsAndRefresh(services: Services, requirementId: number): Promise<RoutedTask[]> {
  const routed = await inTransaction(services.pool, (client) => releaseDependents(services, client, requirementId));
  if (routed.length > 0) await refreshStatusComment(services, requirementId);
  return routed;
}
