// The jobs and leader duties of the Employees: the work loop that turns an assignment into a tested draft pull
// request, and the base sync that keeps open agent branches mergeable when their base moves (or when a person
// pushes a conflict fix to one).
import type { Role } from "../services.js";
import { BASE_MOVED_TASK, BRANCH_PUSHED_TASK, dispatchEmployees, runBaseMoved, runBranchPushed, runSyncBase, SYNC_BASE_TASK } from "./sync-base.js";
import { runTaskWork } from "./work-loop.js";

export const employeesRole: Role = {
  name: "employees",
  dispatch: dispatchEmployees,
  tasks: (services) => ({
    "task.work": async (payload, helpers) => {
      const outcome = await runTaskWork(services, payload, helpers);
      helpers.logger.debug(`task.work finished: ${outcome.kind}`);
    },
    [BASE_MOVED_TASK]: async (payload, helpers) => {
      const tasks = await runBaseMoved(services, payload);
      helpers.logger.debug(`base.moved: ${tasks.length} task(s) to sync`);
    },
    [BRANCH_PUSHED_TASK]: async (payload, helpers) => {
      const tasks = await runBranchPushed(services, payload);
      helpers.logger.debug(`branch.pushed: ${tasks.length} task(s) to sync`);
    },
    [SYNC_BASE_TASK]: async (payload, helpers) => {
      const outcome = await runSyncBase(services, payload, helpers);
      helpers.logger.debug(`task.sync-base finished: ${outcome.kind}`);
    },
  }),
};
