// The router's view of each employee's quality for a task class: a Beta posterior and the raw outcome
// count. An employee missing from the map has no outcomes yet: uniform prior, n = 0. This first version
// knows no outcomes; the ledger replaces it.
import type pg from "pg";

export { UNIFORM_PRIOR } from "./posterior.js";

export type EmployeePosterior = { alpha: number; beta: number; outcomes: number };

export async function loadPosteriors(
  _client: Pick<pg.PoolClient, "query">,
  _installationId: number,
  _taskClass: string,
): Promise<Map<string, EmployeePosterior>> {
  return new Map<string, EmployeePosterior>();
}
