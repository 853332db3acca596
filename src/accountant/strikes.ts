// The strike ledger: policy violations by an employee, kept apart from the outcome ledger so that no number
// of merges can offset them. A strike is recorded when its PR closes and counts once per (PR, rule).
import { z } from "zod";

export const StrikeSeverity = z.enum(["minor", "major", "critical"]);
export type StrikeSeverity = z.infer<typeof StrikeSeverity>;

export const Strike = z.object({
  employee: z.string().min(1),
  /** A stable key of the PR, unique across repositories, e.g. `octo/app#42`. */
  pullRequest: z.string().min(1),
  ruleId: z.string().min(1),
  severity: StrikeSeverity,
  recordedAt: z.date(),
});
export type Strike = z.infer<typeof Strike>;

/** Points per severity. A critical strike also suspends at once, whatever the points. */
export const STRIKE_POINTS = { minor: 1, major: 3, critical: 3 } as const satisfies Record<StrikeSeverity, number>;
export const STRIKE_WINDOW_DAYS = 30;

const SEVERITY_RANK = { minor: 0, major: 1, critical: 2 } as const satisfies Record<StrikeSeverity, number>;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * One strike per (PR, rule): a redelivered close or a rule that failed on several pushes of the same PR counts
 * once, with the highest severity seen and the time it was first recorded.
 */
export function countedStrikes(strikes: readonly Strike[]): Strike[] {
  const byKey = new Map<string, Strike>();
  for (const strike of strikes) {
    const key = JSON.stringify([strike.pullRequest, strike.ruleId]);
    const seen = byKey.get(key);
    if (seen === undefined) {
      byKey.set(key, strike);
      continue;
    }
    const severity = SEVERITY_RANK[strike.severity] > SEVERITY_RANK[seen.severity] ? strike.severity : seen.severity;
    const recordedAt = strike.recordedAt < seen.recordedAt ? strike.recordedAt : seen.recordedAt;
    byKey.set(key, { ...seen, severity, recordedAt });
  }
  return [...byKey.values()];
}

/**
 * Strike points recorded within the last `windowDays` before `now` (a strike exactly `windowDays` old has
 * expired). Strikes stamped slightly after `now`, by another machine's clock, still count.
 */
export function strikePoints(strikes: readonly Strike[], now: Date, windowDays: number = STRIKE_WINDOW_DAYS): number {
  const windowMs = windowDays * DAY_MS;
  let points = 0;
  for (const strike of countedStrikes(strikes)) {
    if (now.getTime() - strike.recordedAt.getTime() < windowMs) points += STRIKE_POINTS[strike.severity];
  }
  return points;
}

/** Counted critical strikes, at any time. */
export function criticalStrikes(strikes: readonly Strike[]): Strike[] {
  return countedStrikes(strikes).filter((strike) => strike.severity === "critical");
}
