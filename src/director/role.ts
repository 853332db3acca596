// The jobs and leader duties of the Director's commands, the Accountant's ledger, HR reviews and scoreboards.
import type { Role } from "../services.js";

export const directorRole: Role = {
  name: "director",
};
