// The jobs and leader duties of the Employees: the work loop that turns an assignment into a tested draft pull
// request, and the base sync that keeps open agent branches mergeable when their base moves (or when a person
// pushes a conflict fix to one).
import type pg from "pg";
import type { Role } from "../services.js";
import {
  BASE_MOVED_TASK,
  BRANCH_PUSHED_TASK,
  dispatchEmployees,
  runBaseMoved,
  runBranchPushed,
  runSyncBase,
  SYNC_BASE_TASK,
  SyncBasePayload,
} from "./sync-base.js";
import { loadTaskInstallation } from "./store.js";
import { runTaskWork } from "./work-loop.js";

/** The installation of the payload's task, `task.work` or `task.sync-base` (none when the task does not exist: the job then skips it). */
async function taskInstallation(pool: Pick<pg.Pool, "query">, raw: unknown): Promise<number | undefined> {
  const parsed = SyncBasePayload.safeParse(raw);
  if (!parsed.success) return undefined;
  return loadTaskInstallation(pool, parsed.data.taskId);
}

export const employeesRole: Role = {
  name: "employees",
  dispatch: dispatchEmployees,
  tasks: (services) => ({
    // Model calls, sandbox runs, pushes: stops while the task's installation is halted.
    "task.work": {
      stopsWhileHalted: (payload) => taskInstallation(services.pool, payload),
      run: async (payload, helpers) => {
        const outcome = await runTaskWork(services, payload, helpers);
        helpers.logger.debug(`task.work finished: ${outcome.kind}`);
      },
    },
    // Never stops: it only queues one `task.sync-base` per task, and each of those stops while halted.
    [BASE_MOVED_TASK]: {
      stopsWhileHalted: false,
      run: async (payload, helpers) => {
        const tasks = await runBaseMoved(services, payload);
        helpers.logger.debug(`base.moved: ${tasks.length} task(s) to sync`);
      },
    },
    // Never stops, for the same reason as `base.moved`.
    [BRANCH_PUSHED_TASK]: {
      stopsWhileHalted: false,
      run: async (payload, helpers) => {
        const tasks = await runBranchPushed(services, payload);
        helpers.logger.debug(`branch.pushed: ${tasks.length} task(s) to sync`);
      },
    },
    // Merges the base and pushes: stops while the task's installation is halted.
    [SYNC_BASE_TASK]: {
      stopsWhileHalted: (payload) => taskInstallation(services.pool, payload),
      run: async (payload, helpers) => {
        const outcome = await runSyncBase(services, payload);
        helpers.logger.debug(`task.sync-base finished: ${outcome.kind}`);
      },
    },
  }),
};
