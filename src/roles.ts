// Every role of the company, in the order their jobs are registered.
import { directorRole } from "./director/role.js";
import { employeesRole } from "./employees/role.js";
import { governorRole } from "./governor/role.js";
import { managerRole } from "./manager/role.js";
import type { Role, Services } from "./services.js";
import { composeDispatchers } from "./queue/dispatch.js";
import type { Duty } from "./queue/leader.js";
import type { TaskList } from "./queue/worker.js";

export const roles: Role[] = [managerRole, employeesRole, governorRole, directorRole];

export const dispatchAll = composeDispatchers(...roles.flatMap((role) => (role.dispatch ? [role.dispatch] : [])));

export function allTasks(services: Services): TaskList {
  return Object.assign({}, ...roles.map((role) => role.tasks?.(services) ?? {})) as TaskList;
}

export function allDuties(services: Services): Duty[] {
  return roles.flatMap((role) => role.duties?.(services) ?? []);
}
