// The router's view of each employee's quality for a task class: the Beta posterior folded from the outcome
// ledger (forgetting γ = 0.99) and the raw count of quality outcomes. An employee missing from the map has no
// outcomes yet: uniform prior, n = 0.
import type pg from "pg";
import { loadOutcomes } from "./ledger.js";
import { qualityRewards, reward, type TaskOutcome } from "./outcome.js";
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

/**
 * The raw count of quality outcomes each employee has closed since its current probation began, for the
 * router's probation cap. `probationSince` maps an employee to that moment; an employee missing from it (or
 * mapped to null) has been on probation since it started, so all its outcomes count.
 */
export function probationOutcomeCounts(outcomes: readonly TaskOutcome[], probationSince: ReadonlyMap<string, Date | null>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const outcome of outcomes) {
    const since = probationSince.get(outcome.employee) ?? null;
    if (since !== null && outcome.closedAt <= since) continue;
    if (reward(outcome) === null) continue;
    counts.set(outcome.employee, (counts.get(outcome.employee) ?? 0) + 1);
  }
  return counts;
}

export async function loadPosteriors(client: Pick<pg.PoolClient, "query">, installationId: number, taskClass: string): Promise<Map<string, EmployeePosterior>> {
  return posteriorsFromOutcomes(await loadOutcomes(client, installationId, { taskClass }));
}
