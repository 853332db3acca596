// The router's view of each employee's quality for a task class: the Beta posterior folded from the outcome
// ledger (forgetting γ = 0.99) and the raw count of quality outcomes. An employee missing from the map has no
// outcomes yet: uniform prior, n = 0.
import type pg from "pg";
import { loadOutcomes } from "./ledger.js";
import { qualityRewards, type TaskOutcome } from "./outcome.js";
import { foldPosterior, FORGETTING } from "./posterior.js";

export { UNIFORM_PRIOR } from "./posterior.js";

export type EmployeePosterior = { alpha: number; beta: number; outcomes: number };

/** Folds ledger outcomes (any order; ledger order is restored) into one posterior per employee. */
export function posteriorsFromOutcomes(outcomes: readonly TaskOutcome[], gamma: number = FORGETTING): Map<string, EmployeePosterior> {
  const byEmployee = new Map<string, TaskOutcome[]>();
  for (const outcome of outcomes) {
    const list = byEmployee.get(outcome.employee) ?? [];
    list.push(outcome);
    byEmployee.set(outcome.employee, list);
  }
  const posteriors = new Map<string, EmployeePosterior>();
  for (const [employee, own] of byEmployee) {
    const rewards = qualityRewards(own);
    // Provider errors alone say nothing about quality: the employee stays on the uniform prior, n = 0.
    if (rewards.length === 0) continue;
    const { alpha, beta } = foldPosterior(rewards, gamma);
    posteriors.set(employee, { alpha, beta, outcomes: rewards.length });
  }
  return posteriors;
}

export async function loadPosteriors(
  client: Pick<pg.PoolClient, "query">,
  installationId: number,
  taskClass: string,
): Promise<Map<string, EmployeePosterior>> {
  return posteriorsFromOutcomes(await loadOutcomes(client, installationId, { taskClass }));
}
