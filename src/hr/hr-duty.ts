// HR in the running app: reviews an employee of an installation from its ledgers, applies promote, demote or
// suspend to employee_states, audits it and announces it in the affected requirements' status comments. It
// runs on the leader every few minutes and right after each ledger write. Directors suspend, reinstate and accept
// an eval run as an employee's trial here too.
import type pg from "pg";
import { appendEvents } from "../audit/append.js";
import { employeesInLedger, loadOutcomes, loadStrikes } from "../accountant/ledger.js";
import { addNotice, refreshStatusComment } from "../core/status-comment.js";
import { inTransaction } from "../core/transitions.js";
import type { Duty } from "../queue/leader.js";
import type { Services } from "../services.js";
import { EmployeeStatus, INITIAL_STATUS, probationSince, transition, type TransitionActor } from "./employee-status.js";
import { reviewEmployee, type HrDecision } from "./review-employee.js";
import { affectedRequirements, insertEmployeeStateIfMissing, insertTrial, lockEmployeeStateRow, updateEmployeeStatus } from "./store.js";
import { checkTrial, type TrialOutcome, type TrialRequest } from "./trial.js";

type Queryable = Pick<pg.PoolClient, "query">;

export const HR_REVIEW_EVERY_MS = 5 * 60_000;

export type EmployeeState = {
  status: EmployeeStatus;
  reinstatedAt: Date | null;
  reason: string | null;
  /** Who last changed the status (a director's login or `aura/hr`); null while it was never changed. */
  changedBy: string | null;
  changedAt: Date;
};

/** Locks (creating on first use) the employee's row for this installation and returns its state. */
export async function lockEmployeeState(client: Queryable, installationId: number, employeeId: string): Promise<EmployeeState> {
  await insertEmployeeStateIfMissing(client, installationId, employeeId, INITIAL_STATUS);
  const row = await lockEmployeeStateRow(client, installationId, employeeId);
  return {
    status: EmployeeStatus.parse(row?.status ?? INITIAL_STATUS),
    reinstatedAt: row?.reinstated_at ?? null,
    reason: row?.reason ?? null,
    changedBy: row?.changed_by ?? null,
    changedAt: row?.changed_at ?? new Date(0),
  };
}

export type StatusChange = {
  installationId: number;
  employeeId: string;
  to: EmployeeStatus;
  by: TransitionActor;
  /** A director's login, or `aura/hr`. */
  actor: string;
  reason: string;
  details?: Record<string, unknown>;
};

/**
 * Moves an employee (checked against the lifecycle: only a director reinstates), records it and audits it in
 * the caller's transaction. Returns the previous status; throws IllegalEmployeeTransition when not allowed.
 */
export async function changeEmployeeStatus(client: Queryable, change: StatusChange): Promise<{ from: EmployeeStatus; to: EmployeeStatus }> {
  const current = await lockEmployeeState(client, change.installationId, change.employeeId);
  const to = transition(current.status, change.to, change.by);
  const reinstated = current.status === "suspended" && to === "probation";
  await updateEmployeeStatus(client, { ...change, to, reinstated });
  await appendEvents(client, [
    {
      actor: change.actor,
      action: `employee.${reinstated ? "reinstated" : to === "suspended" ? "suspended" : to === "active" ? "promoted" : "demoted"}`,
      subject: `installation:${change.installationId}/employee:${change.employeeId}`,
      payload: {
        installationId: change.installationId,
        employeeId: change.employeeId,
        from: current.status,
        to,
        by: change.by,
        reason: change.reason,
        ...change.details,
      },
    },
  ]);
  return { from: current.status, to };
}

// Requirements an HR move affects: the Director's `/aura suspend` announces to them too.
export { affectedRequirements };

export type { TrialOutcome, TrialRequest } from "./trial.js";

/**
 * A director's `/aura trial`: accepts an eval run as the trial of an employee on probation (src/hr/trial.ts
 * says when) and, if accepted, records it and moves the employee to active by the director in the caller's
 * transaction, audited as `employee.promoted` with the trial's figures. A refusal changes nothing.
 */
export async function acceptTrial(client: Queryable, request: TrialRequest): Promise<TrialOutcome> {
  const state = await lockEmployeeState(client, request.installationId, request.employeeId);
  const check = await checkTrial(client, request, state.status);
  if (!check.accepted) return check;
  await insertTrial(client, {
    ...request,
    attempts: check.figures.attempts,
    resolved: check.figures.resolved,
    lowerBound: check.figures.lowerBound,
    acceptedBy: request.director,
  });
  await changeEmployeeStatus(client, {
    installationId: request.installationId,
    employeeId: request.employeeId,
    to: "active",
    by: "director",
    actor: request.director,
    reason: check.reason,
    details: check.details,
  });
  return { accepted: true, figures: check.figures, reason: check.reason };
}

const VERB = { promote: "promoted to active", demote: "put back on probation", suspend: "suspended" } as const;

export type HrOutcome = { decision: HrDecision; announcedTo: number[] };

/**
 * Reviews one employee of one installation in a transaction and applies the decision. `requirementIds` are
 * announced to besides the employee's unfinished requirements (the one whose ledger write triggered the
 * review). Status comments are refreshed after commit; a GitHub failure there is logged, not fatal.
 */
export async function reviewAndApply(
  services: Services,
  installationId: number,
  employeeId: string,
  options: { requirementIds?: number[] } = {},
): Promise<HrOutcome> {
  const result = await inTransaction(services.pool, async (client) => {
    const state = await lockEmployeeState(client, installationId, employeeId);
    const decision = reviewEmployee({
      status: state.status,
      outcomes: await loadOutcomes(client, installationId, { employeeId }),
      strikes: await loadStrikes(client, installationId, employeeId),
      now: services.now(),
      reinstatedAt: state.reinstatedAt,
      probationSince: probationSince(state),
    });
    if (decision.action === "none") return { decision, announcedTo: [] };
    await changeEmployeeStatus(client, {
      installationId,
      employeeId,
      to: decision.to,
      by: "hr",
      actor: "aura/hr",
      reason: decision.reason,
      details: { decision: decision.action, numbers: decision.numbers, ...(decision.action === "suspend" ? { trigger: decision.trigger } : {}) },
    });
    const announcedTo = [...new Set([...(options.requirementIds ?? []), ...(await affectedRequirements(client, installationId, employeeId))])];
    const stamp = services.now().toISOString();
    for (const requirementId of announcedTo) {
      await addNotice(client, requirementId, {
        kind: "hr",
        body: `HR: \`${employeeId}\` was ${VERB[decision.action]}. ${decision.reason}${decision.action === "suspend" ? " Only a director can bring it back with `/aura reinstate " + employeeId + "`." : ""}`,
        key: `hr:${employeeId}:${decision.action}:${stamp}`,
      });
    }
    return { decision, announcedTo };
  });
  for (const requirementId of result.announcedTo) {
    await refreshStatusComment(services, requirementId).catch((error: unknown) =>
      services.log.warn({ requirementId, reason: error instanceof Error ? error.message : String(error) }, "status comment refresh after HR move failed"),
    );
  }
  return result;
}

/** Every (installation, employee) with something in its ledgers, reviewed once. */
export async function runHrReviews(services: Services): Promise<HrOutcome[]> {
  const outcomes: HrOutcome[] = [];
  for (const { installationId, employeeId } of await employeesInLedger(services.pool)) {
    outcomes.push(await reviewAndApply(services, installationId, employeeId));
  }
  const moved = outcomes.filter((outcome) => outcome.decision.action !== "none");
  if (moved.length > 0) services.log.info({ moves: moved.map((m) => m.decision.action) }, "HR review moved employees");
  return outcomes;
}

export function hrDuties(services: Services): Duty[] {
  return [{ name: "hr-review", everyMs: HR_REVIEW_EVERY_MS, run: async () => void (await runHrReviews(services)) }];
}
