// HR's data: each employee's standing per installation (`employee_states`), and the requirements an HR move
// touches. Every function runs on the connection it is given, so it joins the caller's transaction.
import type { Queryable } from "../db/queryable.js";
import type { EmployeeStatus } from "./employee-status.js";

/** An `employee_states` row as stored (its status not yet checked against EmployeeStatus). */
export type EmployeeStateRow = { status: string; reinstated_at: Date | null; reason: string | null; changed_by: string | null; changed_at: Date };

/** Creates the employee's row for this installation with `status` unless it exists. */
export async function insertEmployeeStateIfMissing(db: Queryable, installationId: number, employeeId: string, status: EmployeeStatus): Promise<void> {
  await db.query(`INSERT INTO employee_states (installation_id, employee_id, status) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [
    installationId,
    employeeId,
    status,
  ]);
}

/** Locks the employee's row (FOR UPDATE) and reads it; undefined when there is none. */
export async function lockEmployeeStateRow(db: Queryable, installationId: number, employeeId: string): Promise<EmployeeStateRow | undefined> {
  const { rows } = await db.query<EmployeeStateRow>(
    "SELECT status, reinstated_at, reason, changed_by, changed_at FROM employee_states WHERE installation_id = $1 AND employee_id = $2 FOR UPDATE",
    [installationId, employeeId],
  );
  return rows[0];
}

/** Writes a new status and who set it why; `reinstated` also stamps reinstated_at (the start of a fresh probation). */
export async function updateEmployeeStatus(
  db: Queryable,
  change: { installationId: number; employeeId: string; to: EmployeeStatus; reason: string; actor: string; reinstated: boolean },
): Promise<void> {
  await db.query(
    `UPDATE employee_states SET status = $3, reason = $4, changed_at = now(), changed_by = $5,
       reinstated_at = CASE WHEN $6 THEN now() ELSE reinstated_at END
     WHERE installation_id = $1 AND employee_id = $2`,
    [change.installationId, change.employeeId, change.to, change.reason, change.actor, change.reinstated],
  );
}

/** Every employee row of the installation with what probationSince needs. */
export async function loadEmployeeStateChanges(
  db: Queryable,
  installationId: number,
): Promise<{ employee_id: string; status: string; changed_by: string | null; changed_at: Date }[]> {
  const { rows } = await db.query<{ employee_id: string; status: string; changed_by: string | null; changed_at: Date }>(
    "SELECT employee_id, status, changed_by, changed_at FROM employee_states WHERE installation_id = $1",
    [installationId],
  );
  return rows;
}

/** Each employee's status in the installation; an employee without a row is missing (it is on probation). */
export async function loadEmployeeStatuses(db: Queryable, installationId: number): Promise<Map<string, EmployeeStatus>> {
  const { rows } = await db.query<{ employee_id: string; status: EmployeeStatus }>(
    "SELECT employee_id, status FROM employee_states WHERE installation_id = $1",
    [installationId],
  );
  return new Map(rows.map((row) => [row.employee_id, row.status]));
}

/** Requirements of the installation where the employee holds an unfinished task: the ones an HR move affects. */
export async function affectedRequirements(db: Queryable, installationId: number, employeeId: string): Promise<number[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT DISTINCT r.id FROM requirements r JOIN tasks t ON t.requirement_id = r.id
       JOIN assignments a ON a.task_id = t.id AND a.active
     WHERE r.installation_id = $1 AND a.employee_id = $2 AND t.state NOT IN ('merged', 'cancelled', 'rejected', 'failed')`,
    [installationId, employeeId],
  );
  return rows.map((row) => Number(row.id));
}

/** A director's accepted trial (employee_trials, append-only). */
export type TrialRow = { runId: number; attempts: number; resolved: number; lowerBound: number; acceptedBy: string; acceptedAt: Date };

export async function insertTrial(
  db: Queryable,
  trial: {
    installationId: number;
    employeeId: string;
    runId: number;
    attempts: number;
    resolved: number;
    lowerBound: number;
    acceptedBy: string;
    note: string | null;
  },
): Promise<void> {
  await db.query(
    `INSERT INTO employee_trials (installation_id, employee_id, run_id, attempts, resolved, lower_bound, accepted_by, note)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [trial.installationId, trial.employeeId, trial.runId, trial.attempts, trial.resolved, trial.lowerBound, trial.acceptedBy, trial.note],
  );
}

/** The trial of this run already accepted for the employee, if any. */
export async function findTrial(db: Queryable, installationId: number, employeeId: string, runId: number): Promise<TrialRow | undefined> {
  const trials = await loadTrials(db, installationId, { employeeId, runId });
  return trials.get(employeeId);
}

/** Each employee's newest accepted trial in the installation (optionally one employee's, of one run). */
export async function loadTrials(db: Queryable, installationId: number, only: { employeeId?: string; runId?: number } = {}): Promise<Map<string, TrialRow>> {
  const { rows } = await db.query<{
    employee_id: string;
    run_id: string;
    attempts: number;
    resolved: number;
    lower_bound: number;
    accepted_by: string;
    accepted_at: Date;
  }>(
    `SELECT DISTINCT ON (employee_id) employee_id, run_id, attempts, resolved, lower_bound, accepted_by, accepted_at
       FROM employee_trials
      WHERE installation_id = $1 AND ($2::text IS NULL OR employee_id = $2) AND ($3::bigint IS NULL OR run_id = $3)
      ORDER BY employee_id, accepted_at DESC, run_id DESC`,
    [installationId, only.employeeId ?? null, only.runId ?? null],
  );
  return new Map(
    rows.map((row) => [
      row.employee_id,
      {
        runId: Number(row.run_id),
        attempts: row.attempts,
        resolved: row.resolved,
        lowerBound: row.lower_bound,
        acceptedBy: row.accepted_by,
        acceptedAt: row.accepted_at,
      },
    ]),
  );
}
