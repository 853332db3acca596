// The router's HR numbers from the database: each employee's standing in an installation, and how many quality
// outcomes of a task class it has closed since its current probation began (see probationSince).
import type pg from "pg";
import { loadOutcomes } from "../accountant/ledger.js";
import { probationOutcomeCounts } from "../accountant/posteriors.js";
import { EmployeeStatus, probationSince } from "./employee-status.js";
import { loadEmployeeStateChanges, loadEmployeeStatuses, loadTrials } from "./store.js";

type Queryable = Pick<pg.PoolClient, "query">;

/** Each employee's status (the router's status filter); an employee without a row has never been moved. */
export { loadEmployeeStatuses };

/** Each employee's newest trial a director accepted (`/aura trial`), for the scoreboard. */
export { loadTrials };

/** Each employee's probation start (null: on probation since it started, or not on probation). */
export async function loadProbationStarts(client: Queryable, installationId: number): Promise<Map<string, Date | null>> {
  const rows = await loadEmployeeStateChanges(client, installationId);
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
