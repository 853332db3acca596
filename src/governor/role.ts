// The jobs and leader duties of the HNSC Governor and the Auditor: verdicts as commit statuses, evidence as reviews.
import type { Role } from "../services.js";

export const governorRole: Role = {
  name: "governor",
};
