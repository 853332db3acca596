// The jobs and leader duties of the Employees: the work loop that turns an assignment into a tested draft pull request.
import type { Role } from "../services.js";
import { runTaskWork } from "./work-loop.js";

export const employeesRole: Role = {
  name: "employees",
  tasks: (services) => ({
    "task.work": async (payload, helpers) => {
      const outcome = await runTaskWork(services, payload, helpers);
      helpers.logger.debug(`task.work finished: ${outcome.kind}`);
    },
  }),
};
