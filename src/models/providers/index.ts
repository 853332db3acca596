// Builds the ModelClient for one employee from the registry entry and the environment. Misconfiguration
// (no API key, no price for the model) fails here, before any work is routed to the employee.
import type { AppConfig } from "../../config/env.js";
import type { ModelClient, ProviderName } from "../model-client.js";
import { loadPriceTable, type PriceTable } from "../prices.js";
import { GeminiModelClient } from "./gemini.js";
import { OllamaModelClient, DEFAULT_OLLAMA_HOST } from "./ollama.js";
import { OpenAIModelClient } from "./openai.js";

export { classifyGeminiError, GeminiModelClient, geminiContents, geminiUsage } from "./gemini.js";
export { classifyOllamaError, DEFAULT_OLLAMA_HOST, OllamaModelClient, ollamaUsage } from "./ollama.js";
export { classifyOpenAIError, OpenAIModelClient, openAIUsage, schemaName } from "./openai.js";

/** The fields of an employees-registry entry a model client needs. */
export type EmployeeModelRef = { id: string; provider: ProviderName; model: string };

/** The environment variables the providers read (see src/config/env.ts). */
export type ProviderEnv = Partial<Pick<AppConfig, "OPENAI_API_KEY" | "OPENAI_BASE_URL" | "GEMINI_API_KEY" | "GEMINI_BASE_URL" | "OLLAMA_HOST">>;

export type CreateModelClientOptions = {
  /** Defaults to policies/prices.yml, read once per process. */
  prices?: PriceTable;
  /** Per-call timeout when a request sets none. */
  defaultTimeoutMs?: number;
  /** Wall clock for price dates and durations; injectable for tests. */
  now?: () => Date;
};

/** An employee's provider cannot be used with this environment; the message says which variable to set. */
export class ProviderNotConfiguredError extends Error {
  override name = "ProviderNotConfiguredError";
  constructor(
    readonly employeeId: string,
    readonly provider: ProviderName,
    readonly variable: string,
  ) {
    super(`Employee "${employeeId}" uses ${provider}, but ${variable} is not set. Set it, or remove the employee from policies/employees.yml.`);
  }
}

/** Whether the environment has what a provider needs (routing uses this as an eligibility filter). */
export function isProviderConfigured(provider: ProviderName, env: ProviderEnv): boolean {
  if (provider === "openai") return env.OPENAI_API_KEY !== undefined || env.OPENAI_BASE_URL !== undefined;
  if (provider === "gemini") return env.GEMINI_API_KEY !== undefined;
  return true;
}

let defaultPrices: PriceTable | undefined;

/**
 * The ModelClient for an employee. Throws ProviderNotConfiguredError when a key is missing and
 * UnknownPriceError when policies/prices.yml has no price for the model today (ollama is always free).
 */
export function createModelClient(employee: EmployeeModelRef, env: ProviderEnv, options: CreateModelClientOptions = {}): ModelClient {
  const prices = options.prices ?? (defaultPrices ??= loadPriceTable());
  const now = options.now ?? (() => new Date());
  // Fail closed now rather than after the first paid call.
  prices.priceFor(employee.model, now(), employee.provider);
  const common = {
    model: employee.model,
    prices,
    now,
    ...(options.defaultTimeoutMs !== undefined ? { defaultTimeoutMs: options.defaultTimeoutMs } : {}),
  };
  switch (employee.provider) {
    case "openai": {
      if (!isProviderConfigured("openai", env)) throw new ProviderNotConfiguredError(employee.id, "openai", "OPENAI_API_KEY");
      // Keyless OpenAI-compatible gateways (a local vLLM, say) still need a non-empty key for the SDK.
      const apiKey = env.OPENAI_API_KEY ?? "unused";
      return new OpenAIModelClient({ ...common, apiKey, ...(env.OPENAI_BASE_URL ? { baseURL: env.OPENAI_BASE_URL } : {}) });
    }
    case "gemini": {
      if (env.GEMINI_API_KEY === undefined) throw new ProviderNotConfiguredError(employee.id, "gemini", "GEMINI_API_KEY");
      return new GeminiModelClient({
        ...common,
        apiKey: env.GEMINI_API_KEY,
        ...(env.GEMINI_BASE_URL ? { baseUrl: env.GEMINI_BASE_URL } : {}),
      });
    }
    case "ollama":
      return new OllamaModelClient({ ...common, host: env.OLLAMA_HOST ?? DEFAULT_OLLAMA_HOST });
  }
}
