// Every role of the company, in the order their jobs are registered.
import { directorRole } from "./director/role.js";
import { employeesRole } from "./employees/role.js";
import { governorRole } from "./governor/role.js";
import { managerRole } from "./manager/role.js";
import type { Role, Services } from "./services.js";
import { composeDispatchers } from "./queue/dispatch.js";
import { deferWhileHalted, type JobDefinition } from "./queue/halt.js";
import { markDeliveryProcessed } from "./queue/inbox.js";
import type { Duty } from "./queue/leader.js";
import type { TaskList } from "./queue/worker.js";

export const roles: Role[] = [managerRole, employeesRole, governorRole, directorRole];

export const dispatchAll = composeDispatchers(...roles.flatMap((role) => (role.dispatch ? [role.dispatch] : [])));

/** Every role's jobs as registered: handler and halt declaration. */
export function allJobs(services: Services): Record<string, JobDefinition> {
  return Object.assign({}, ...roles.map((role) => role.tasks?.(services) ?? {})) as Record<string, JobDefinition>;
}

/**
 * Every role's job handlers. A job that stops while halted is put back and does nothing while its installation
 * is halted (src/queue/halt.ts). A job whose payload names the delivery it came from marks that delivery
 * processed when it succeeds, so the reconciler does not dispatch it again (a job put back by the halt has not
 * processed it). `only` restricts the handlers (tests that exercise one role).
 */
export function allTasks(services: Services, only?: readonly string[]): TaskList {
  const wrapped: TaskList = {};
  for (const [name, job] of Object.entries(allJobs(services))) {
    if (only && !only.includes(name)) continue;
    wrapped[name] = async (payload, helpers) => {
      if (await deferWhileHalted(services, name, job, payload)) return;
      await job.run(payload, helpers);
      const deliveryId = (payload as { deliveryId?: unknown } | null)?.deliveryId;
      if (typeof deliveryId === "string") await markDeliveryProcessed(services.pool, deliveryId);
    };
  }
  return wrapped;
}

export function allDuties(services: Services): Duty[] {
  return roles.flatMap((role) => role.duties?.(services, { dispatchAll }) ?? []);
}
