// Drafting a plan: the manager employees of policies/employees.yml are asked in order of preference for a
// TaskPlan (the provider re-asks on malformed replies), and the rules, not the model, decide whether it stands:
// a refused plan goes back with the problems at most twice. A provider outage moves on to the next manager.
// Every call is charged to the requirement and the daily caps; a call the budget cannot pay for is not made.
import type { Employee } from "../config/policy-files.js";
import type { EffectiveBudgets } from "../config/repo-config.js";
import { BudgetExhausted, budgetedCall, type SpendHolder, type SpendSubject } from "../models/budgets.js";
import { ModelCallError, OutputAllowanceTooSmall, type ChatMessage } from "../models/model-client.js";
import { defaultPriceFor } from "../models/prices.js";
import { isProviderConfigured } from "../models/providers/index.js";
import type { Services } from "../services.js";
import { TaskPlan } from "./plan.js";
import { planProblemsFeedback, validatePlan, type PlanLimits, type PlanProblem } from "./validate-plan.js";

/** Times a plan the rules refused is sent back to the model with the problems. */
export const MAX_RULE_REASKS = 2;

/** Output tokens allowed for one planning reply (a plan of at most 20 tasks fits easily). */
const MAX_PLAN_OUTPUT_TOKENS = 8_192;

/** One call to a manager model, for the audit record. */
export type PlanningCall = {
  employeeId: string;
  provider: string;
  model: string;
  outcome: "valid" | "refused-by-rules" | "provider-failure" | "invalid-output";
  /** Re-asks the provider made because a reply did not fit the TaskPlan schema. */
  schemaReasks: string[];
  problems?: PlanProblem[];
  error?: string;
  costUsd: number;
  durationMs?: number;
};

export type PlanningRecord = { calls: PlanningCall[]; skipped: { employeeId: string; reason: string }[]; costUsd: number };

export type DraftOutcome =
  | { kind: "planned"; plan: TaskPlan; employeeId: string; record: PlanningRecord }
  | { kind: "refused"; problems: PlanProblem[]; employeeId: string; record: PlanningRecord }
  | { kind: "invalid-output"; reason: string; employeeId: string; record: PlanningRecord }
  | { kind: "providers-failed"; reason: string; record: PlanningRecord }
  | { kind: "over-budget"; reason: string; employeeId: string; record: PlanningRecord }
  | { kind: "no-manager"; reason: string; record: PlanningRecord };

function managerEmployees(services: Services): Employee[] {
  const byId = new Map(services.policies.employees.employees.map((employee) => [employee.id, employee]));
  return services.policies.employees.manager.flatMap((id) => {
    const employee = byId.get(id);
    return employee ? [employee] : [];
  });
}

/** Whose budget planning spends: the requirement's, and its installation's and repository's of the day. */
export type PlanningSpend = {
  subject: Omit<SpendSubject, "taskId" | "employeeId">;
  budgets: EffectiveBudgets;
  holder?: SpendHolder;
};

type DraftInput = { messages: ChatMessage[]; limits: PlanLimits; spend: PlanningSpend };
type ManagerClient = ReturnType<Services["modelFor"]>;

/**
 * Asks the manager employees in order until one returns a plan the rules accept, refuses one three times, or
 * replies with something that is not a TaskPlan after the provider's re-asks. Errors other than ModelCallError
 * (a bug, a crash) propagate so the job is retried.
 */
export async function draftPlan(services: Services, input: DraftInput): Promise<DraftOutcome> {
  const record: PlanningRecord = { calls: [], skipped: [], costUsd: 0 };
  const providerFailures: string[] = [];
  for (const employee of managerEmployees(services)) {
    const client = managerClient(services, employee, record);
    if (!client) continue;
    const outcome = await planWith(services, employee, client, input, record);
    if ("providerFailure" in outcome) providerFailures.push(outcome.providerFailure);
    else return outcome;
  }
  if (providerFailures.length > 0) {
    return { kind: "providers-failed", reason: `every manager model failed: ${providerFailures.join("; ")}`, record };
  }
  return {
    kind: "no-manager",
    reason: `no manager model is available (${record.skipped.map((s) => `${s.employeeId}: ${s.reason}`).join("; ") || "the manager list is empty"})`,
    record,
  };
}

/** The manager's model client, or undefined (and the reason in `record.skipped`) when it cannot be asked now. */
function managerClient(services: Services, employee: Employee, record: PlanningRecord): ManagerClient | undefined {
  if (!isProviderConfigured(employee.provider, services.config)) {
    record.skipped.push({ employeeId: employee.id, reason: `${employee.provider} is not configured` });
    return undefined;
  }
  if (!services.breaker.isAvailable(employee.id)) {
    record.skipped.push({ employeeId: employee.id, reason: "circuit breaker open" });
    return undefined;
  }
  try {
    return services.modelFor(employee);
  } catch (error) {
    record.skipped.push({ employeeId: employee.id, reason: error instanceof Error ? error.message : String(error) });
    return undefined;
  }
}

/**
 * One manager's rounds: its plan, sent back with the rules' problems until accepted or refused for good. A
 * provider failure is handed back (`providerFailure`) so the next manager is asked.
 */
async function planWith(
  services: Services,
  employee: Employee,
  client: ManagerClient,
  input: DraftInput,
  record: PlanningRecord,
): Promise<DraftOutcome | { providerFailure: string }> {
  let messages = input.messages;
  // Every round returns or hands back a provider failure; the last one (MAX_RULE_REASKS) returns at the latest.
  for (let round = 0; ; round++) {
    let reply;
    try {
      reply = await askManager(services, employee, client, input, messages, round);
    } catch (error) {
      return modelCallFailed(error, employee, record);
    }
    record.costUsd += reply.costUsd;
    const verdict = validatePlan(reply.value, input.limits);
    record.calls.push({
      employeeId: employee.id,
      provider: reply.provider,
      model: reply.model,
      outcome: verdict.ok ? "valid" : "refused-by-rules",
      schemaReasks: reply.reasks,
      ...(verdict.ok ? {} : { problems: verdict.problems }),
      costUsd: reply.costUsd,
      durationMs: reply.durationMs,
    });
    if (verdict.ok) return { kind: "planned", plan: reply.value, employeeId: employee.id, record };
    if (round === MAX_RULE_REASKS) return { kind: "refused", problems: verdict.problems, employeeId: employee.id, record };
    messages = [...messages, { role: "assistant", content: JSON.stringify(reply.value) }, planProblemsFeedback(verdict.problems)];
  }
}

/** One planning call, charged to the requirement and the daily caps before it is made. */
function askManager(services: Services, employee: Employee, client: ManagerClient, input: DraftInput, messages: ChatMessage[], round: number) {
  return budgetedCall(
    services.pool,
    {
      subject: { ...input.spend.subject, taskId: null, employeeId: employee.id },
      budgets: input.spend.budgets,
      purpose: round === 0 ? "planning" : `planning-rule-reask-${round}`,
      ...(input.spend.holder ? { holder: input.spend.holder } : {}),
      at: services.now(),
      prompt: { messages, schema: TaskPlan },
      maxOutputTokens: Math.min(employee.limits.maxTokensPerCall, MAX_PLAN_OUTPUT_TOKENS),
      timeoutMs: employee.limits.timeoutSeconds * 1000,
      price: defaultPriceFor(employee, services.now()),
    },
    (bounds) => client.generate({ name: "TaskPlan", schema: TaskPlan, messages, temperature: 0, ...bounds }),
  );
}

/** A failed planning call: over budget or invalid output ends planning; a provider failure is handed back. Other errors propagate. */
function modelCallFailed(error: unknown, employee: Employee, record: PlanningRecord): DraftOutcome | { providerFailure: string } {
  // The budget, not the model, stops planning: no other manager may spend what is not there either.
  if (error instanceof BudgetExhausted || error instanceof OutputAllowanceTooSmall) {
    record.costUsd += error instanceof OutputAllowanceTooSmall ? error.details.costUsd : 0;
    return { kind: "over-budget", reason: error.message, employeeId: employee.id, record };
  }
  if (!(error instanceof ModelCallError)) throw error;
  const cost = error.details.costUsd ?? 0;
  record.costUsd += cost;
  const call: PlanningCall = {
    employeeId: employee.id,
    provider: employee.provider,
    model: employee.model,
    outcome: error.isProviderFailure ? "provider-failure" : "invalid-output",
    schemaReasks: error.details.reasks ?? [],
    error: `${error.kind}: ${error.message}`,
    costUsd: cost,
  };
  record.calls.push(call);
  if (error.isProviderFailure) return { providerFailure: `${employee.id} (${error.kind}: ${error.message})` };
  return { kind: "invalid-output", reason: error.message, employeeId: employee.id, record };
}
