// HR's periodic review of one employee: promote, put back on probation, suspend, or leave as is, from the
// outcome ledger and the strike ledger. Pure and deterministic; the caller audits and applies the decision.
import { qualityRewards, type TaskOutcome } from "../accountant/outcome.js";
import { credibleInterval, foldPosterior } from "../accountant/posterior.js";
import { criticalStrikes, strikePoints, STRIKE_WINDOW_DAYS, type Strike } from "../accountant/strikes.js";
import type { EmployeeStatus } from "./employee-status.js";

export const HR_THRESHOLDS = {
  /** Raw count of quality outcomes needed before quality can promote, demote or suspend. */
  minOutcomes: 10,
  /** Promote probation → active when the lower 10 % bound over all outcomes reaches this. */
  promoteLowerBound: 0.55,
  /** Active → probation when the upper 90 % bound over the recent outcomes falls below this. */
  demoteUpperBound: 0.45,
  /** Suspend when the upper 90 % bound over the recent outcomes falls below this. */
  suspendUpperBound: 0.3,
  /** How many of the newest quality outcomes the demotion and suspension bounds look at. */
  recentOutcomes: 20,
  /** Strike points within the window that suspend. */
  suspendStrikePoints: 3,
  strikeWindowDays: STRIKE_WINDOW_DAYS,
  /**
   * A director's `/aura trial <employee> eval <run>` takes an employee off probation only when the eval's
   * resolved share has a lower 2.5 % bound (95 % interval, Beta posterior from a uniform prior) at least this.
   */
  trialLowerBound: 0.55,
} as const;

export type HrReviewInput = {
  status: EmployeeStatus;
  outcomes: readonly TaskOutcome[];
  strikes: readonly Strike[];
  now: Date;
  /**
   * When a director last reinstated the employee. Outcomes closed and strikes recorded at or before it were
   * judged by the director already, so the review starts from a clean slate after it; otherwise the same
   * evidence would suspend the employee again at the next review.
   */
  reinstatedAt?: Date | null;
  /**
   * When the employee's current probation began (HR put it back on probation, or a director reinstated it);
   * null or omitted when it has been on probation since it started. Promotion judges only outcomes closed
   * after it: the older ones earned the status the employee just lost, and counting them would promote it
   * straight back at the next review.
   */
  probationSince?: Date | null;
};

export type HrNumbers = {
  /** Raw count of quality outcomes considered (provider errors excluded). */
  n: number;
  /** Lower 10 % bound of the posterior over all considered outcomes. */
  lowerBound: number;
  /** Raw count of quality outcomes since the current probation began (all of them when it never left probation). */
  probationN: number;
  /** Lower 10 % bound over those outcomes (promotion). */
  probationLowerBound: number;
  /** How many outcomes the recent window holds (at most 20). */
  recentN: number;
  /** Upper 90 % bound of the posterior over the recent window (demotion and suspension). */
  recentUpperBound: number;
  /** Strike points within the strike window. */
  strikePoints: number;
  criticalStrikes: number;
};

export type SuspensionTrigger = "critical_violation" | "strike_points" | "quality";

export type HrDecision =
  | { action: "promote"; from: "probation"; to: "active"; reason: string; numbers: HrNumbers }
  | { action: "demote"; from: "active"; to: "probation"; reason: string; numbers: HrNumbers }
  | { action: "suspend"; from: "probation" | "active"; to: "suspended"; trigger: SuspensionTrigger; reason: string; numbers: HrNumbers }
  | { action: "none"; status: EmployeeStatus; reason: string; numbers: HrNumbers };

/**
 * Decides what HR does about one employee. Order: a suspended employee stays suspended (only a director
 * reinstates); then suspension (critical violation, strike points, quality); then promotion or demotion.
 *
 * Quality rules need n >= 10 raw quality outcomes, suspension included: with fewer, even a run of failures
 * leaves a wide interval, and probation already limits how much work such an employee gets. Strikes and
 * critical violations suspend at any n.
 */
export function reviewEmployee(input: HrReviewInput): HrDecision {
  const numbers = hrNumbers(input);
  const t = HR_THRESHOLDS;
  const { status } = input;

  if (status === "suspended") {
    return { action: "none", status, reason: "Suspended until a director reinstates the employee.", numbers };
  }
  if (numbers.criticalStrikes > 0) {
    return suspend(status, "critical_violation", "A critical policy violation suspends at once.", numbers);
  }
  if (numbers.strikePoints >= t.suspendStrikePoints) {
    return suspend(
      status,
      "strike_points",
      `${numbers.strikePoints} strike points in the last ${t.strikeWindowDays} days (suspension at ${t.suspendStrikePoints}).`,
      numbers,
    );
  }
  const enough = numbers.n >= t.minOutcomes;
  if (enough && numbers.recentUpperBound < t.suspendUpperBound) {
    return suspend(
      status,
      "quality",
      `Upper 90 % bound ${fixed(numbers.recentUpperBound)} over the last ${numbers.recentN} outcomes is below ${fixed(t.suspendUpperBound)}.`,
      numbers,
    );
  }
  if (status === "probation" && numbers.probationN >= t.minOutcomes && numbers.probationLowerBound >= t.promoteLowerBound) {
    return {
      action: "promote",
      from: "probation",
      to: "active",
      reason: `Lower 10 % bound ${fixed(numbers.probationLowerBound)} over ${numbers.probationN} outcomes${
        numbers.probationN === numbers.n ? "" : " since probation began"
      } reaches ${fixed(t.promoteLowerBound)}.`,
      numbers,
    };
  }
  if (status === "active" && enough && numbers.recentUpperBound < t.demoteUpperBound) {
    return {
      action: "demote",
      from: "active",
      to: "probation",
      reason: `Upper 90 % bound ${fixed(numbers.recentUpperBound)} over the last ${numbers.recentN} outcomes is below ${fixed(t.demoteUpperBound)}.`,
      numbers,
    };
  }
  if (!enough) {
    return { action: "none", status, reason: `${numbers.n} of ${t.minOutcomes} outcomes needed before quality decides.`, numbers };
  }
  return { action: "none", status, reason: "Within thresholds.", numbers };
}

/** The numbers a review is based on; exported so status comments can show them. */
export function hrNumbers(input: HrReviewInput): HrNumbers {
  const since = input.reinstatedAt ?? null;
  const outcomes = since === null ? input.outcomes : input.outcomes.filter((outcome) => outcome.closedAt > since);
  const strikes = since === null ? input.strikes : input.strikes.filter((strike) => strike.recordedAt > since);
  const rewards = qualityRewards(outcomes);
  const recent = rewards.slice(-HR_THRESHOLDS.recentOutcomes);
  const probationSince = input.probationSince ?? null;
  const probationRewards = probationSince === null ? rewards : qualityRewards(outcomes.filter((outcome) => outcome.closedAt > probationSince));
  return {
    n: rewards.length,
    lowerBound: credibleInterval(foldPosterior(rewards)).lower,
    probationN: probationRewards.length,
    probationLowerBound: credibleInterval(foldPosterior(probationRewards)).lower,
    recentN: recent.length,
    recentUpperBound: credibleInterval(foldPosterior(recent)).upper,
    strikePoints: strikePoints(strikes, input.now, HR_THRESHOLDS.strikeWindowDays),
    criticalStrikes: criticalStrikes(strikes).length,
  };
}

function suspend(from: "probation" | "active", trigger: SuspensionTrigger, reason: string, numbers: HrNumbers): HrDecision {
  return { action: "suspend", from, to: "suspended", trigger, reason, numbers };
}

function fixed(value: number): string {
  return value.toFixed(3);
}
