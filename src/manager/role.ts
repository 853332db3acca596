// The jobs and leader duties of the Manager: intake, planning, routing, the requirement status comment, the reconciler.
import type { Role } from "../services.js";

export const managerRole: Role = {
  name: "manager",
};
