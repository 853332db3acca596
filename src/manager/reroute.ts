// `task.reroute`: the Manager's answer when an employee's provider fails a task. The work loop only reports the
// failure (a row of `task_provider_failures` and this job, in one transaction); who works next is decided here:
// the task is routed again past every employee whose provider failed it, the status comment says so, and when
// nobody is left the requirement goes to a director. Agents never assign work.
import { z } from "zod";
import { addNotice, refreshStatusComment } from "../core/status-comment.js";
import { inTransaction, transitionRequirement } from "../core/transitions.js";
import type { Services } from "../services.js";
import { routeTask } from "./assign.js";
import { loadRequirementState } from "./requirement-store.js";
import { loadFailedEmployees, loadTaskInstallation, lockTaskWithAssignee } from "./task-store.js";

export const REROUTE_TASK = "task.reroute";

export const ReroutePayload = z.object({ taskId: z.number().int().positive(), from: z.string().min(1), failure: z.string().min(1) });
export type ReroutePayload = z.infer<typeof ReroutePayload>;

export type RerouteOutcome = { kind: "routed"; employeeId: string | null } | { kind: "skipped"; reason: string };

/** The installation of the payload's task (none when the task is gone: the job then skips it). */
export async function rerouteHaltScope(services: Pick<Services, "pool">, raw: unknown): Promise<number | undefined> {
  const parsed = ReroutePayload.safeParse(raw);
  if (!parsed.success) return undefined;
  return loadTaskInstallation(services.pool, parsed.data.taskId);
}

/**
 * Routes the task again unless it has moved on since the failure was reported (another employee holds it, a
 * director reassigned or cancelled it): a retried or repeated job does nothing twice.
 */
export async function runRerouteJob(services: Services, raw: unknown): Promise<RerouteOutcome> {
  const payload = ReroutePayload.parse(raw);
  const outcome = await inTransaction(services.pool, async (client) => {
    const task = await lockTaskWithAssignee(client, payload.taskId);
    if (!task) return { kind: "skipped", reason: "the task no longer exists" } as const;
    if (task.employee_id !== payload.from || (task.state !== "working" && task.state !== "assigned")) {
      return { kind: "skipped", reason: `the task is ${task.state}${task.employee_id ? ` with ${task.employee_id}` : ""} now` } as const;
    }
    const requirementId = Number(task.requirement_id);
    const excluded = await loadFailedEmployees(client, payload.taskId);
    const result = await routeTask(services, client, payload.taskId, { excluded });
    await addNotice(client, requirementId, {
      kind: "info",
      key: `failover:${payload.taskId}:${payload.from}`,
      body: `Task \`${task.task_key}\`: ${payload.from}'s provider failed (${payload.failure}); ${result.employeeId ? `handed to \`${result.employeeId}\`` : "no other employee is eligible, so a director decides"}.`,
    });
    if (!result.employeeId) await moveRequirementToDirector(client, requirementId, `task ${task.task_key}: no eligible employee after a provider failure`);
    return { kind: "routed", employeeId: result.employeeId, requirementId } as const;
  });
  if (outcome.kind === "skipped") return outcome;
  await refreshStatusComment(services, outcome.requirementId);
  return { kind: "routed", employeeId: outcome.employeeId };
}

async function moveRequirementToDirector(client: Parameters<typeof transitionRequirement>[0], requirementId: number, reason: string): Promise<void> {
  const state = await loadRequirementState(client, requirementId);
  if (state === "in_progress") await transitionRequirement(client, requirementId, "needs_director", { actor: "aura/manager", reason });
}
