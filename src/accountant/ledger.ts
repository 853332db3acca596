// The Accountant's ledgers in PostgreSQL: one append-only row per finished attempt (outcome ledger) and one
// per (PR, rule) policy violation (strike ledger), scoped per installation. Reads return the pure types the
// posterior, HR and scoreboard code work on.
import type pg from "pg";
import { appendEvents } from "../audit/append.js";
import { OutcomeResult, type TaskOutcome } from "./outcome.js";
import { StrikeSeverity, type Strike } from "./strikes.js";

type Queryable = Pick<pg.PoolClient, "query">;

export type OutcomeEntry = {
  installationId: number;
  employeeId: string;
  taskClass: string;
  taskId: number;
  requirementId: number;
  result: OutcomeResult;
  /** A merge by someone who is not a director: kept for the record, never scored. */
  incident?: boolean;
  revisionRounds: number;
  costUsd: number;
  latencyMs: number | null;
  assignedAt: Date;
  prOpenedAt: Date | null;
  closedAt: Date;
  repo: string;
  prNumber: number | null;
  closedBy: string | null;
  /** Unique per event that ends an attempt (e.g. a PR close): a second write with the same key is ignored. */
  eventKey: string;
};

/** The event key of a pull request's close: a redelivered close maps to the same key. */
export function pullCloseKey(installationId: number, repo: string, pullNumber: number, closedAt: string): string {
  return `pr:${installationId}:${repo}#${pullNumber}:closed:${closedAt}`;
}

/**
 * Appends an outcome and its audit event in the caller's transaction. Returns false when a row with the same
 * event key exists already (the event was counted before), true when this call recorded it.
 */
export async function recordOutcome(client: Queryable, entry: OutcomeEntry): Promise<boolean> {
  const inserted = await client.query(
    `INSERT INTO outcome_ledger (installation_id, employee_id, task_class, task_id, requirement_id, result, incident,
       revision_rounds, cost_usd, latency_ms, assigned_at, pr_opened_at, closed_at, repo, pr_number, closed_by, event_key)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
     ON CONFLICT (event_key) DO NOTHING RETURNING id`,
    [
      entry.installationId,
      entry.employeeId,
      entry.taskClass,
      entry.taskId,
      entry.requirementId,
      entry.result,
      entry.incident ?? false,
      entry.revisionRounds,
      entry.costUsd,
      entry.latencyMs,
      entry.assignedAt,
      entry.prOpenedAt,
      entry.closedAt,
      entry.repo,
      entry.prNumber,
      entry.closedBy,
      entry.eventKey,
    ],
  );
  if (inserted.rowCount === 0) return false;
  await appendEvents(client, [
    {
      actor: "aura/accountant",
      action: entry.incident ? "ledger.incident_recorded" : "ledger.outcome_recorded",
      subject: entry.prNumber === null ? `${entry.repo}/task:${entry.taskId}` : `${entry.repo}#${entry.prNumber}`,
      payload: {
        ledgerId: Number(inserted.rows[0]?.id),
        installationId: entry.installationId,
        employeeId: entry.employeeId,
        taskClass: entry.taskClass,
        taskId: entry.taskId,
        result: entry.result,
        incident: entry.incident ?? false,
        revisionRounds: entry.revisionRounds,
        costUsd: entry.costUsd,
        latencyMs: entry.latencyMs,
        closedBy: entry.closedBy,
        eventKey: entry.eventKey,
      },
    },
  ]);
  return true;
}

export type StrikeEntry = {
  installationId: number;
  employeeId: string;
  /** `<repo>#<n>`. */
  pullRequest: string;
  ruleId: string;
  severity: StrikeSeverity;
  headSha: string | null;
  taskId: number | null;
  recordedAt: Date;
};

/** Appends a strike once per (installation, PR, rule); returns whether this call recorded it. */
export async function recordStrike(client: Queryable, entry: StrikeEntry): Promise<boolean> {
  const inserted = await client.query(
    `INSERT INTO strike_ledger (installation_id, employee_id, pull_request, rule_id, severity, head_sha, task_id, recorded_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (installation_id, pull_request, rule_id) DO NOTHING RETURNING id`,
    [entry.installationId, entry.employeeId, entry.pullRequest, entry.ruleId, entry.severity, entry.headSha, entry.taskId, entry.recordedAt],
  );
  if (inserted.rowCount === 0) return false;
  await appendEvents(client, [
    {
      actor: "aura/accountant",
      action: "ledger.strike_recorded",
      subject: entry.pullRequest,
      payload: { installationId: entry.installationId, employeeId: entry.employeeId, ruleId: entry.ruleId, severity: entry.severity, headSha: entry.headSha },
    },
  ]);
  return true;
}

type OutcomeRow = {
  employee_id: string;
  task_class: string;
  task_id: string;
  result: string;
  revision_rounds: number;
  cost_usd: string;
  latency_ms: string | null;
  assigned_at: Date;
  pr_opened_at: Date | null;
  closed_at: Date;
};

function toOutcome(row: OutcomeRow): TaskOutcome {
  return {
    employee: row.employee_id,
    taskClass: row.task_class,
    taskId: String(row.task_id),
    result: OutcomeResult.parse(row.result),
    revisionRounds: row.revision_rounds,
    costUsd: Number(row.cost_usd),
    latencyMs: row.latency_ms === null ? null : Number(row.latency_ms),
    assignedAt: row.assigned_at,
    prOpenedAt: row.pr_opened_at,
    closedAt: row.closed_at,
  };
}

/**
 * SQL condition: ledger row `l` is the standing outcome of its pull request. A PR's outcome is its latest
 * close, and it has none while the PR is open again: a row counts unless a later close of the same PR was
 * recorded, or the PR was reopened after it (a reopen in the same second as the close counts as after it
 * when it was recorded later). The rows stay in the append-only ledger; they just stop counting.
 */
export const STANDING_OUTCOME = `(l.pr_number IS NULL OR (
      NOT EXISTS (SELECT 1 FROM outcome_ledger n
                   WHERE n.installation_id = l.installation_id AND n.repo = l.repo AND n.pr_number = l.pr_number
                     AND (n.closed_at, n.id) > (l.closed_at, l.id))
  AND NOT EXISTS (SELECT 1 FROM pull_reopens p
                   WHERE p.installation_id = l.installation_id AND p.repo = l.repo AND p.pr_number = l.pr_number
                     AND (p.reopened_at > l.closed_at OR (p.reopened_at = l.closed_at AND p.recorded_at > l.recorded_at)))))`;

/** Every (installation, employee) with an outcome or a strike in the ledgers, in that order: whom HR reviews. */
export async function employeesInLedger(client: Queryable): Promise<{ installationId: number; employeeId: string }[]> {
  const { rows } = await client.query<{ installation_id: string; employee_id: string }>(
    `SELECT installation_id, employee_id FROM outcome_ledger UNION SELECT installation_id, employee_id FROM strike_ledger
     ORDER BY 1, 2`,
  );
  return rows.map((row) => ({ installationId: Number(row.installation_id), employeeId: row.employee_id }));
}

/**
 * The pull requests among `prNumbers` of one repository whose close stands in the ledger (recorded, and not
 * superseded by a reopen or a later close): the Employees ask this before syncing a branch, so that a closed PR's
 * branch is left alone. Only the Accountant reads the ledger; other roles ask it.
 */
export async function pullsClosedInLedger(client: Queryable, installationId: number, repo: string, prNumbers: readonly number[]): Promise<Set<number>> {
  if (prNumbers.length === 0) return new Set();
  const { rows } = await client.query<{ pr_number: number }>(
    `SELECT DISTINCT l.pr_number FROM outcome_ledger l
     WHERE l.installation_id = $1 AND l.repo = $2 AND l.pr_number = ANY($3::int[]) AND ${STANDING_OUTCOME}`,
    [installationId, repo, prNumbers],
  );
  return new Set(rows.map((row) => Number(row.pr_number)));
}

/**
 * The scored outcomes of an installation in ledger order, optionally for one employee or task class.
 * Governance incidents are left out: they are not a success, and not the employee's failure either. So are
 * closes that no longer stand (STANDING_OUTCOME): a rejected PR that was reopened and merged counts once, as merged.
 */
export async function loadOutcomes(
  client: Queryable,
  installationId: number,
  filter: { employeeId?: string; taskClass?: string } = {},
): Promise<TaskOutcome[]> {
  const { rows } = await client.query<OutcomeRow>(
    `SELECT l.employee_id, l.task_class, l.task_id, l.result, l.revision_rounds, l.cost_usd, l.latency_ms, l.assigned_at, l.pr_opened_at, l.closed_at
     FROM outcome_ledger l
     WHERE l.installation_id = $1 AND NOT l.incident
       AND ($2::text IS NULL OR l.employee_id = $2) AND ($3::text IS NULL OR l.task_class = $3)
       AND ${STANDING_OUTCOME}
     ORDER BY l.closed_at, l.task_id, l.id`,
    [installationId, filter.employeeId ?? null, filter.taskClass ?? null],
  );
  return rows.map(toOutcome);
}

export type ReopenEntry = {
  installationId: number;
  repo: string;
  prNumber: number;
  taskId: number | null;
  /** GitHub's time of the reopen. */
  reopenedAt: Date;
  reopenedBy: string | null;
  deliveryId: string;
};

/**
 * Records a pull request's reopen once (per PR and reopen time, whatever the delivery) and audits which ledger
 * rows stop counting. Returns the ids of those rows, or null when this reopen was recorded before.
 */
export async function recordReopen(client: Queryable, entry: ReopenEntry): Promise<{ superseded: number[] } | null> {
  const inserted = await client.query<{ id: string }>(
    `INSERT INTO pull_reopens (installation_id, repo, pr_number, task_id, reopened_at, reopened_by, delivery_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (installation_id, repo, pr_number, reopened_at) DO NOTHING RETURNING id`,
    [entry.installationId, entry.repo, entry.prNumber, entry.taskId, entry.reopenedAt, entry.reopenedBy, entry.deliveryId],
  );
  if (inserted.rowCount === 0) return null;
  const { rows } = await client.query<{ id: string }>(
    `SELECT l.id FROM outcome_ledger l
      WHERE l.installation_id = $1 AND l.repo = $2 AND l.pr_number = $3 AND l.closed_at <= $4 ORDER BY l.id`,
    [entry.installationId, entry.repo, entry.prNumber, entry.reopenedAt],
  );
  const superseded = rows.map((row) => Number(row.id));
  await appendEvents(client, [
    {
      actor: "aura/accountant",
      action: "ledger.outcomes_superseded",
      subject: `${entry.repo}#${entry.prNumber}`,
      payload: {
        installationId: entry.installationId,
        taskId: entry.taskId,
        reopenedAt: entry.reopenedAt.toISOString(),
        reopenedBy: entry.reopenedBy,
        superseded,
      },
    },
  ]);
  return { superseded };
}

/** Whether a close of the pull request later than `at` is recorded (a reopen delivered after the next close is stale). */
export async function closedAfter(client: Queryable, pull: { installationId: number; repo: string; prNumber: number; at: Date }): Promise<boolean> {
  const { rows } = await client.query("SELECT 1 FROM outcome_ledger WHERE installation_id = $1 AND repo = $2 AND pr_number = $3 AND closed_at > $4 LIMIT 1", [
    pull.installationId,
    pull.repo,
    pull.prNumber,
    pull.at,
  ]);
  return rows.length > 0;
}

/** Whether the pull request was reopened after this close (a close delivered late must not end the task again). */
export async function reopenedAfter(client: Queryable, pull: { installationId: number; repo: string; prNumber: number; closedAt: Date }): Promise<boolean> {
  const { rows } = await client.query("SELECT 1 FROM pull_reopens WHERE installation_id = $1 AND repo = $2 AND pr_number = $3 AND reopened_at > $4 LIMIT 1", [
    pull.installationId,
    pull.repo,
    pull.prNumber,
    pull.closedAt,
  ]);
  return rows.length > 0;
}

export async function loadStrikes(client: Queryable, installationId: number, employeeId?: string): Promise<Strike[]> {
  const { rows } = await client.query<{ employee_id: string; pull_request: string; rule_id: string; severity: string; recorded_at: Date }>(
    `SELECT employee_id, pull_request, rule_id, severity, recorded_at FROM strike_ledger
     WHERE installation_id = $1 AND ($2::text IS NULL OR employee_id = $2) ORDER BY recorded_at, id`,
    [installationId, employeeId ?? null],
  );
  return rows.map((row) => ({
    employee: row.employee_id,
    pullRequest: row.pull_request,
    ruleId: row.rule_id,
    severity: StrikeSeverity.parse(row.severity),
    recordedAt: row.recorded_at,
  }));
}

/** Governance incidents (merges by non-directors) recorded for an installation. */
export async function countIncidents(client: Queryable, installationId: number): Promise<number> {
  const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM outcome_ledger WHERE installation_id = $1 AND incident", [installationId]);
  return Number(rows[0]?.n ?? 0);
}
