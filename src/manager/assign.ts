// Assignment: the only code path that gives a task to an employee. It runs the deterministic router over
// the registry (lifecycle status, capability, allow-list, budget, circuit breaker, data policy, exclusions),
// writes the full routing decision, the assignment that references it, the task's transition and the audit
// event, and enqueues the employee's work, all in the caller's transaction.
import type pg from "pg";
import { appendEvents } from "../audit/append.js";
import { loadOutcomes } from "../accountant/ledger.js";
import { posteriorsFromOutcomes, probationOutcomeCounts, UNIFORM_PRIOR } from "../accountant/posteriors.js";
import { loadEmployeeStatuses, loadProbationStarts } from "../hr/probation.js";
import { workModeOf, type Employee } from "../config/policy-files.js";
import { effectiveBudgets, parseRepoConfig, RepoConfig, taskValue } from "../config/repo-config.js";
import { loadPriceTable, type PriceTable } from "../models/prices.js";
import { isProviderConfigured } from "../models/providers/index.js";
import type { Services } from "../services.js";
import { route, routeOverride, type RouteInput, type RoutingCandidate, type RoutingDecision } from "./route.js";
import { transitionTask } from "../core/transitions.js";
import { insertRoutingDecision, lockTaskForRouting, replaceActiveAssignment, setTaskAttempt, type RoutingTask } from "./task-store.js";
import { enqueue } from "../queue/enqueue.js";

export type RouteOptions = {
  /** Employees that already failed this task (provider failover). */
  excluded?: string[];
  /** A director's `/aura reassign`: recorded as a director-override decision. */
  override?: { employeeId: string; director: string };
};

let prices: PriceTable | undefined;

/** Expected cost of the task's estimate on an employee's model (three quarters input, a quarter output). */
function expectedCost(employee: Employee, estimateTokens: number, at: Date): number {
  prices ??= loadPriceTable();
  try {
    const price = prices.priceFor(employee.model, at, employee.provider);
    const input = estimateTokens * 0.75;
    const output = estimateTokens * 0.25;
    return (input * price.input + output * price.output) / 1_000_000;
  } catch {
    // Unknown price: the provider client refuses to run it anyway; an infinite cost keeps it last.
    return Number.POSITIVE_INFINITY;
  }
}

type Routed = { decisionId: number; employeeId: string | null; decision: RoutingDecision };

/** Routes a task: counts the attempt, scores the candidates, decides, records the decision, assigns the winner. */
export async function routeTask(services: Services, client: pg.PoolClient, taskId: number, options: RouteOptions = {}): Promise<Routed> {
  const task = await lockTaskForRouting(client, taskId);
  if (!task) throw new Error(`task ${taskId} does not exist`);
  // The repo config the requirement was planned under (stored at intake); defaults when there was none.
  const config: RepoConfig = task.repo_config ? RepoConfig.parse(task.repo_config) : parseRepoConfig(null);
  const attempt = task.attempt + 1;
  await setTaskAttempt(client, taskId, attempt);

  const { candidates, notConfigured } = await routingCandidates(services, client, task);
  const input = routingInput(services, task, config, attempt, candidates, options);
  const decision = options.override ? routeOverride(input, options.override) : route(input);
  const decisionId = await recordDecision(client, task, taskId, attempt, decision, notConfigured, options);

  const by = options.override ? "director" : "system";
  const actor = options.override?.director ?? "aura/router";
  if (!decision.winner) {
    if (task.state !== "needs_director") {
      await transitionTask(client, taskId, "needs_director", { actor, by, reason: `no eligible employee: ${decision.reason}` });
    }
    return { decisionId, employeeId: null, decision };
  }
  await assignWinner(client, taskId, decision.winner, decisionId, { actor, by, override: options.override });
  return { decisionId, employeeId: decision.winner, decision };
}

/**
 * The registry's employees whose provider is configured, each with its lifecycle status, its posterior for the
 * task's class, its probation count and its expected cost; and the ids of those left out as not configured.
 */
async function routingCandidates(
  services: Services,
  client: pg.PoolClient,
  task: RoutingTask,
): Promise<{ candidates: RoutingCandidate[]; notConfigured: string[] }> {
  const registry = services.policies.employees;
  const statuses = await loadEmployeeStatuses(client, task.installation_id);
  // One read of the ledger for both: the posteriors, and the probation cap's count, which takes only the
  // outcomes since the current probation began (probation is a trial of fresh outcomes).
  const outcomes = await loadOutcomes(client, task.installation_id, { taskClass: task.task_class });
  const posteriors = posteriorsFromOutcomes(outcomes);
  const onProbation = probationOutcomeCounts(outcomes, await loadProbationStarts(client, task.installation_id));
  const now = services.now();
  const configured = registry.employees.filter((employee) => isProviderConfigured(employee.provider, services.config));
  const notConfigured = registry.employees.filter((employee) => !configured.includes(employee)).map((employee) => employee.id);
  const candidates: RoutingCandidate[] = configured.map((employee) => {
    const posterior = posteriors.get(employee.id);
    return {
      id: employee.id,
      provider: employee.provider,
      status: statuses.get(employee.id) ?? "probation",
      capabilities: employee.capabilities,
      local: employee.dataPolicy.local,
      posterior: posterior ? { alpha: posterior.alpha, beta: posterior.beta } : UNIFORM_PRIOR,
      outcomes: posterior?.outcomes ?? 0,
      probationOutcomes: onProbation.get(employee.id) ?? 0,
      expectedCostUsd: expectedCost(employee, task.estimate_tokens, now),
      workMode: workModeOf(employee),
    };
  });
  return { candidates, notConfigured };
}

/** What the router decides on: the task, its budget left, the repository's allow-list and data policy. */
function routingInput(
  services: Services,
  task: RoutingTask,
  config: RepoConfig,
  attempt: number,
  candidates: RoutingCandidate[],
  options: RouteOptions,
): RouteInput {
  const budgets = effectiveBudgets(services.policies.budgets, config);
  const remainingBudget = {
    tokens: budgets.perTask.tokens,
    usd: Math.max(0, Math.min(budgets.perTask.usd - Number(task.cost_usd), budgets.perRequirement.usd - Number(task.requirement_cost))),
  };
  return {
    installationId: task.installation_id,
    repo: task.repo,
    issueNumber: task.issue_number,
    taskId: task.task_key,
    attempt,
    policyRevision: services.policies.revision,
    taskClass: task.task_class as RoutingCandidate["capabilities"][number],
    estimate: { tokens: task.estimate_tokens, usd: Number(task.estimate_usd) },
    candidates,
    allowList: config.employees ?? [],
    requireTools: config.agent?.requireTools ?? false,
    remainingBudget,
    isCircuitOpen: (id: string) => !services.breaker.isAvailable(id),
    dataPolicy: { privateRepo: task.private, localModelsOnly: config.dataPolicy.privateRepoLocalModelsOnly },
    excluded: options.excluded ?? [],
    taskValueUsd: taskValue(config, task.task_class as RoutingCandidate["capabilities"][number]),
  };
}

/** Writes the full routing decision and its `task.routed` audit event; returns the decision's id. */
async function recordDecision(
  client: pg.PoolClient,
  task: RoutingTask,
  taskId: number,
  attempt: number,
  decision: RoutingDecision,
  notConfigured: string[],
  options: RouteOptions,
): Promise<number> {
  const decisionId = await insertRoutingDecision(client, taskId, attempt, decision);
  const subject = `${task.repo}#${task.issue_number}/${task.task_key}`;
  await appendEvents(client, [
    {
      actor: options.override ? options.override.director : "aura/router",
      action: "task.routed",
      subject,
      payload: { taskId, decisionId, notConfigured, decision },
    },
  ]);
  return decisionId;
}

/** Replaces the task's active assignment with the winner's, moves the task to assigned, and enqueues its work. */
async function assignWinner(
  client: pg.PoolClient,
  taskId: number,
  winner: string,
  decisionId: number,
  by: { actor: string; by: "director" | "system"; override: RouteOptions["override"] },
): Promise<void> {
  await replaceActiveAssignment(client, taskId, winner, decisionId);
  await transitionTask(client, taskId, "assigned", {
    actor: by.actor,
    by: by.by,
    reason: by.override ? `reassigned by @${by.override.director}` : `routed to ${winner}`,
    details: { employeeId: winner, decisionId },
  });
  await enqueue(client, "task.work", { taskId });
}
