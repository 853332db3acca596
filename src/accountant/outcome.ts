// One row of the Accountant's outcome ledger (one finished task of one employee) and the reward it earns.
// Only merges, rejections and failures say something about quality; provider trouble is counted apart.
import { z } from "zod";

/**
 * - `merged`: a director merged the PR.
 * - `rejected`: the PR was closed without merge.
 * - `failed`: the employee could not deliver after its retries (its own fault, e.g. invalid output, failing tests).
 * - `provider_error`: the provider failed (auth, rate limit, timeout, outage); not a quality signal.
 */
export const OutcomeResult = z.enum(["merged", "rejected", "failed", "provider_error"]);
export type OutcomeResult = z.infer<typeof OutcomeResult>;

export const TaskOutcome = z.object({
  employee: z.string().min(1),
  taskClass: z.string().min(1),
  taskId: z.string().min(1),
  result: OutcomeResult,
  /** Director reviews that requested changes on the PR. */
  revisionRounds: z.number().int().nonnegative(),
  /** Everything spent on the task, in US dollars, re-asks and failed attempts included. */
  costUsd: z.number().nonnegative(),
  /** Time spent in model calls for the task; null when unknown. */
  latencyMs: z.number().nonnegative().nullable(),
  assignedAt: z.date(),
  prOpenedAt: z.date().nullable(),
  /** When the outcome was recorded (PR closed, task failed); orders the ledger. */
  closedAt: z.date(),
});
export type TaskOutcome = z.infer<typeof TaskOutcome>;

export const REWARD = {
  merged: 1,
  perRevisionRound: 0.15,
  mergedFloor: 0.5,
} as const;

/**
 * The quality reward of one outcome in [0, 1], or null when the outcome says nothing about quality.
 * Merged: 1.0 − 0.15 per revision round, never below 0.5 (a merge after many rounds still beats a rejection).
 */
export function reward(outcome: Pick<TaskOutcome, "result" | "revisionRounds">): number | null {
  switch (outcome.result) {
    case "merged": {
      const raw = REWARD.merged - REWARD.perRevisionRound * outcome.revisionRounds;
      // Rounded to cents of reward so 1 − 0.15 × 3 is 0.55, not 0.5500000000000002.
      return Math.max(REWARD.mergedFloor, Math.round(raw * 100) / 100);
    }
    case "rejected":
    case "failed":
      return 0;
    case "provider_error":
      return null;
  }
}

/** Ledger order: by the time the outcome was recorded, then by task id so equal times stay deterministic. */
export function orderOutcomes<T extends Pick<TaskOutcome, "closedAt" | "taskId">>(outcomes: readonly T[]): T[] {
  return [...outcomes].sort((x, y) => x.closedAt.getTime() - y.closedAt.getTime() || compareText(x.taskId, y.taskId));
}

/** The rewards of the quality outcomes, oldest first. */
export function qualityRewards(outcomes: readonly TaskOutcome[]): number[] {
  const rewards: number[] = [];
  for (const outcome of orderOutcomes(outcomes)) {
    const value = reward(outcome);
    if (value !== null) rewards.push(value);
  }
  return rewards;
}

function compareText(x: string, y: string): number {
  if (x === y) return 0;
  return x < y ? -1 : 1;
}
