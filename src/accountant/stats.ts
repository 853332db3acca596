// Per-employee numbers the scoreboard shows and the router and HR read: counts, merge rate, quality
// posterior, revision rounds, cost and time to PR, overall and per task class.
import { betaQuantile } from "./beta-distribution.js";
import { orderOutcomes, qualityRewards, type TaskOutcome } from "./outcome.js";
import { credibleInterval, foldPosterior, LOWER_QUANTILE, posteriorMean, UPPER_QUANTILE, type BetaPosterior, type CredibleInterval } from "./posterior.js";

export type OutcomeStats = {
  /** Every recorded outcome, provider errors included. */
  tasks: number;
  merged: number;
  rejected: number;
  failed: number;
  /** Provider failures (auth, limits, timeouts, outages): counted apart, not quality signals. */
  providerErrors: number;
  /** Raw count of quality outcomes: merged + rejected + failed. */
  qualityN: number;
  /** merged / qualityN; null with no quality outcome. */
  mergeRate: number | null;
  /** 10 %–90 % Clopper–Pearson bounds of the merge rate; null with no quality outcome. */
  mergeRateInterval: CredibleInterval | null;
  /** Quality posterior of the rewards with forgetting; the router and HR use it. */
  posterior: BetaPosterior;
  score: { mean: number } & CredibleInterval;
  /** Outcomes that had a PR open. */
  pullRequests: number;
  revisionRoundsPerPr: number | null;
  totalCostUsd: number;
  costPerMergedPrUsd: number | null;
  meanCostUsd: number | null;
  meanLatencyMs: number | null;
  medianTimeToPrMs: number | null;
};

export type TaskClassStats = OutcomeStats & { taskClass: string };
export type EmployeeStats = OutcomeStats & { employee: string; byTaskClass: TaskClassStats[] };

export function summarizeOutcomes(outcomes: readonly TaskOutcome[]): OutcomeStats {
  const ordered = orderOutcomes(outcomes);
  const count = (result: TaskOutcome["result"]) => ordered.filter((outcome) => outcome.result === result).length;
  const merged = count("merged");
  const rejected = count("rejected");
  const failed = count("failed");
  const qualityN = merged + rejected + failed;
  const posterior = foldPosterior(qualityRewards(ordered));
  const withPr = ordered.filter((outcome) => outcome.prOpenedAt !== null);
  const totalCostUsd = sum(ordered.map((outcome) => outcome.costUsd));
  const latencies = ordered.flatMap((outcome) => (outcome.latencyMs === null ? [] : [outcome.latencyMs]));
  const timesToPr = withPr.map((outcome) => (outcome.prOpenedAt?.getTime() ?? 0) - outcome.assignedAt.getTime());

  return {
    tasks: ordered.length,
    merged,
    rejected,
    failed,
    providerErrors: count("provider_error"),
    qualityN,
    mergeRate: qualityN === 0 ? null : merged / qualityN,
    mergeRateInterval: qualityN === 0 ? null : mergeRateBounds(merged, qualityN),
    posterior,
    score: { mean: posteriorMean(posterior), ...credibleInterval(posterior) },
    pullRequests: withPr.length,
    revisionRoundsPerPr: mean(withPr.map((outcome) => outcome.revisionRounds)),
    totalCostUsd,
    costPerMergedPrUsd: merged === 0 ? null : totalCostUsd / merged,
    meanCostUsd: mean(ordered.map((outcome) => outcome.costUsd)),
    meanLatencyMs: mean(latencies),
    medianTimeToPrMs: median(timesToPr),
  };
}

/**
 * Exact (Clopper–Pearson) 10 % and 90 % bounds for k merges out of n. Unlike a posterior interval it always
 * contains k / n, so "100 % [68–100 %]" never shows a rate outside its own bracket.
 */
export function mergeRateBounds(merged: number, n: number): CredibleInterval {
  return {
    lower: merged === 0 ? 0 : betaQuantile(LOWER_QUANTILE, merged, n - merged + 1),
    upper: merged === n ? 1 : betaQuantile(UPPER_QUANTILE, merged + 1, n - merged),
  };
}

/** The employee's overall numbers and one row per task class (sorted by class name). */
export function employeeStats(employee: string, outcomes: readonly TaskOutcome[]): EmployeeStats {
  const own = outcomes.filter((outcome) => outcome.employee === employee);
  const classes = [...new Set(own.map((outcome) => outcome.taskClass))].sort();
  return {
    employee,
    ...summarizeOutcomes(own),
    byTaskClass: classes.map((taskClass) => ({
      taskClass,
      ...summarizeOutcomes(own.filter((outcome) => outcome.taskClass === taskClass)),
    })),
  };
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : sum(values) / values.length;
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  const upper = sorted[middle] ?? 0;
  return sorted.length % 2 === 1 ? upper : ((sorted[middle - 1] ?? 0) + upper) / 2;
}
