// The Beta posterior of an employee's quality from its rewards, with forgetting so that old outcomes weigh
// less than recent ones, and the credible bounds HR and the scoreboard read from it.
import { betaQuantile } from "./beta-distribution.js";

export type BetaPosterior = { alpha: number; beta: number };
export type CredibleInterval = { lower: number; upper: number };

/** Weight kept by an outcome per newer outcome (issue 6: gamma 0.99, a memory of roughly 100 outcomes). */
export const FORGETTING = 0.99;
export const LOWER_QUANTILE = 0.1;
export const UPPER_QUANTILE = 0.9;
export const UNIFORM_PRIOR: BetaPosterior = { alpha: 1, beta: 1 };

/**
 * Folds rewards (oldest first, each in [0, 1]) into a Beta posterior from the uniform prior Beta(1, 1):
 *
 *   alpha = 1 + Σ γ^age · r,   beta = 1 + Σ γ^age · (1 − r),   age = number of newer rewards.
 *
 * Only the evidence decays, never the prior: computed recursively as a ← γa + r, b ← γb + (1 − r) and then
 * alpha = 1 + a, beta = 1 + b. Age counts outcomes, not days, so an idle employee keeps its score.
 */
export function foldPosterior(rewards: readonly number[], gamma: number = FORGETTING): BetaPosterior {
  if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`Forgetting factor must be in (0, 1], got ${gamma}`);
  let a = 0;
  let b = 0;
  for (const r of rewards) {
    if (!(r >= 0 && r <= 1)) throw new RangeError(`Rewards must be in [0, 1], got ${r}`);
    a = gamma * a + r;
    b = gamma * b + (1 - r);
  }
  return { alpha: UNIFORM_PRIOR.alpha + a, beta: UNIFORM_PRIOR.beta + b };
}

export function posteriorMean(posterior: BetaPosterior): number {
  return posterior.alpha / (posterior.alpha + posterior.beta);
}

/** The lower 10 % and upper 90 % quantiles of the posterior. */
export function credibleInterval(posterior: BetaPosterior): CredibleInterval {
  return {
    lower: betaQuantile(LOWER_QUANTILE, posterior.alpha, posterior.beta),
    upper: betaQuantile(UPPER_QUANTILE, posterior.alpha, posterior.beta),
  };
}
