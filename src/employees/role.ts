// The jobs and leader duties of the Employees: the work loop that turns an assignment into a tested draft pull request.
import type { Role } from "../services.js";

export const employeesRole: Role = {
  name: "employees",
};
