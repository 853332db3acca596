// The router's probation numbers from the database: for each employee of an installation, how many quality
// outcomes of a task class it has closed since its current probation began (see probationSince).
import type pg from "pg";
import { loadOutcomes } from "../accountant/ledger.js";
import { probationOutcomeCounts } from "../accountant/posteriors.js";
import { EmployeeStatus, probationSince } from "./employee-status.js";

type Queryable = Pick<pg.PoolClient, "query">;

/** Each employee's probation start (null: on probation since it started, or not on probation). */
export async function loadProbationStarts(client: Queryable, installationId: number): Promise<Map<string, Date | null>> {
  const { rows } = await client.query<{ employee_id: string; status: string; changed_by: string | null; changed_at: Date }>(
    "SELECT employee_id, status, changed_by, changed_at FROM employee_states WHERE installation_id = $1",
    [installationId],
  );
  return new Map(
    rows.map((row) => [row.employee_id, probationSince({ status: EmployeeStatus.parse(row.status), changedBy: row.changed_by, changedAt: row.changed_at })]),
  );
}

/**
 * Raw quality outcomes per employee in this task class since its current probation began: what the router's
 * probation cap counts (`RoutingCandidate.probationOutcomes`). Employees with none are missing from the map.
 */
export async function loadProbationOutcomes(client: Queryable, installationId: number, taskClass: string): Promise<Map<string, number>> {
  return probationOutcomeCounts(await loadOutcomes(client, installationId, { taskClass }), await loadProbationStarts(client, installationId));
}
