// Which employees a local run may use: those whose provider the environment configures (OPENAI_API_KEY or
// OPENAI_BASE_URL, GEMINI_API_KEY) and, for Ollama, whose server answers at OLLAMA_HOST. `--employee` narrows
// the registry to the one named. The run's policy set is the registry so narrowed (and the manager list to the
// available ones), so routing, the decision record and the policy revision say what the run really had.
import type { AppConfig } from "../config/env.js";
import { policyRevision, type Employee, type PolicySet } from "../config/policy-files.js";
import { isProviderConfigured } from "../models/providers/index.js";
import { LocalRunInputError } from "./repository.js";

/** Whether an Ollama server answers at `host` within two seconds. */
async function ollamaAnswers(host: string): Promise<boolean> {
  try {
    const response = await fetch(new URL("/api/tags", host), { signal: AbortSignal.timeout(2_000) });
    return response.ok;
  } catch {
    return false;
  }
}

function unavailableReason(employee: Employee, config: AppConfig): string {
  if (employee.provider === "openai") return "set OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible server)";
  if (employee.provider === "gemini") return "set GEMINI_API_KEY";
  return `start Ollama at ${config.OLLAMA_HOST} (or set OLLAMA_HOST) and pull ${employee.model}`;
}

export async function localPolicies(policies: PolicySet, config: AppConfig, picked: string | undefined): Promise<{ policies: PolicySet; employees: string[] }> {
  const registry = policies.employees;
  const ids = registry.employees.map((employee) => employee.id);
  const wanted = picked === undefined ? registry.employees : registry.employees.filter((employee) => employee.id === picked);
  if (picked !== undefined && wanted.length === 0) {
    throw new LocalRunInputError(`There is no employee "${picked}" in policies/employees.yml. Known employees: ${ids.join(", ")}.`);
  }
  let ollama: Promise<boolean> | undefined;
  const available: Employee[] = [];
  for (const employee of wanted) {
    const ok = employee.provider === "ollama" ? await (ollama ??= ollamaAnswers(config.OLLAMA_HOST)) : isProviderConfigured(employee.provider, config);
    if (ok) available.push(employee);
  }
  if (available.length === 0) {
    const reasons = wanted.map((employee) => `  - ${employee.id}: ${unavailableReason(employee, config)}`);
    throw new LocalRunInputError(
      [
        picked === undefined ? "No employee can work: none of their model providers is configured or reachable." : `Employee "${picked}" cannot work:`,
        ...reasons,
      ].join("\n"),
    );
  }
  const availableIds = available.map((employee) => employee.id);
  const managers = registry.manager.filter((id) => availableIds.includes(id));
  const employees = { ...registry, manager: managers.length > 0 ? managers : [availableIds[0] as string], employees: available };
  const { budgets, protectedPaths } = policies;
  return { policies: { employees, budgets, protectedPaths, revision: policyRevision({ employees, budgets, protectedPaths }) }, employees: availableIds };
}
