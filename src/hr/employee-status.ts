// An employee's standing with HR and the moves between standings: HR promotes, demotes and suspends;
// only a director brings a suspended employee back, and then on probation. A director may also take an employee
// off probation by accepting an eval run as its trial (`/aura trial`, src/hr/trial.ts).
import { z } from "zod";

export const EmployeeStatus = z.enum(["probation", "active", "suspended"]);
export type EmployeeStatus = z.infer<typeof EmployeeStatus>;

/** Who moves an employee: HR's own review, or a director's command. */
export type TransitionActor = "hr" | "director";

const ALLOWED = [
  { from: "probation", to: "active", by: "hr" },
  // `/aura trial`: a director accepts an eval run as the employee's trial (src/hr/trial.ts).
  { from: "probation", to: "active", by: "director" },
  { from: "active", to: "probation", by: "hr" },
  { from: "probation", to: "suspended", by: "hr" },
  { from: "active", to: "suspended", by: "hr" },
  { from: "probation", to: "suspended", by: "director" },
  { from: "active", to: "suspended", by: "director" },
  { from: "suspended", to: "probation", by: "director" },
] as const satisfies ReadonlyArray<{ from: EmployeeStatus; to: EmployeeStatus; by: TransitionActor }>;

export class IllegalEmployeeTransition extends Error {
  override name = "IllegalEmployeeTransition";
  constructor(
    readonly from: EmployeeStatus,
    readonly to: EmployeeStatus,
    readonly by: TransitionActor,
  ) {
    super(
      from === "suspended" && by === "hr"
        ? `HR cannot move a suspended employee to ${to}: a director must run \`/aura reinstate <employee>\`.`
        : `An employee cannot move from ${from} to ${to} by ${by}.`,
    );
  }
}

export function canTransition(from: EmployeeStatus, to: EmployeeStatus, by: TransitionActor): boolean {
  return ALLOWED.some((move) => move.from === from && move.to === to && move.by === by);
}

/** Throws IllegalEmployeeTransition unless the move is allowed; returns the new status. */
export function transition(from: EmployeeStatus, to: EmployeeStatus, by: TransitionActor): EmployeeStatus {
  if (!canTransition(from, to, by)) throw new IllegalEmployeeTransition(from, to, by);
  return to;
}

/** New employees start here. */
export const INITIAL_STATUS: EmployeeStatus = "probation";

/**
 * When the employee's current probation began: the last status change when it is on probation because HR put
 * it back or a director reinstated it; null while it has been on probation since it started (its state row,
 * if any, was never changed) or when it is not on probation at all.
 */
export function probationSince(state: { status: EmployeeStatus; changedBy: string | null; changedAt: Date }): Date | null {
  return state.status === "probation" && state.changedBy !== null ? state.changedAt : null;
}
