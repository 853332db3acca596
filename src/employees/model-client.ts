// The one interface every model provider implements. Callers ask for a reply that fits a zod schema; the
// provider converts the schema to its structured-output format, validates the reply again with zod, re-asks
// at most twice with the validation errors, and otherwise fails with a typed, classified error.
import type { z } from "zod";

export type ChatMessage = { role: "system" | "user" | "assistant"; content: string };

/** Token usage normalised across providers. */
export type Usage = { input: number; cachedInput: number; output: number };

export type StructuredRequest<S extends z.ZodType> = {
  /** Name of the message type, used as the JSON schema name (`TaskPlan`, `EditSet`). */
  name: string;
  schema: S;
  messages: ChatMessage[];
  /** Wall-clock limit for one provider call. */
  timeoutMs?: number;
  temperature?: number;
  /** The most output tokens one reply may have (the employee's own per-call limit). */
  maxOutputTokens?: number;
  /**
   * Dollars reserved for this call, every attempt together. Each attempt's output limit is cut so that the
   * prompt (counted generously) plus the longest possible reply costs no more than what is left of it.
   */
  maxCostUsd?: number;
  signal?: AbortSignal;
};

export type StructuredResult<T> = {
  value: T;
  usage: Usage;
  /** Cost in US dollars from the dated price table. */
  costUsd: number;
  /** Provider calls made, including re-asks. */
  attempts: number;
  /** Validation errors sent back to the model on each re-ask. */
  reasks: string[];
  model: string;
  provider: ProviderName;
  durationMs: number;
};

export type ProviderName = "openai" | "gemini" | "ollama";

/** Why a model call failed. Only `invalid_output` says anything about the model's quality. */
export type ModelFailureKind = "auth" | "rate_limit" | "timeout" | "server" | "invalid_output" | "bad_request" | "unavailable";

export class ModelCallError extends Error {
  override name = "ModelCallError";
  constructor(
    readonly kind: ModelFailureKind,
    message: string,
    readonly details: { provider: ProviderName; model: string; status?: number; attempts?: number; usage?: Usage; costUsd?: number; reasks?: string[] },
  ) {
    super(message);
  }

  /** Provider failures (auth, limits, timeouts, outages) are not quality signals. */
  get isProviderFailure(): boolean {
    return this.kind !== "invalid_output";
  }
}

/**
 * The reserved dollars cannot pay for the prompt plus a minimal reply, so the call was not made. Not a
 * provider failure and not a quality signal: the budget decides, as with BudgetExhausted.
 */
export class OutputAllowanceTooSmall extends Error {
  override name = "OutputAllowanceTooSmall";
  constructor(
    readonly details: { provider: ProviderName; model: string; maxCostUsd: number; inputTokens: number; inputUsd: number; minOutputTokens: number },
  ) {
    super(
      `The call to ${details.provider} ${details.model} was not made: the $${details.maxCostUsd.toFixed(4)} reserved for it cannot pay for ` +
        `its prompt (up to ${details.inputTokens} tokens, $${details.inputUsd.toFixed(4)}) plus a reply of at least ${details.minOutputTokens} tokens. ` +
        "Shorten the context or raise the budget (`/aura budget <usd>`).",
    );
  }
}

export interface ModelClient {
  readonly provider: ProviderName;
  readonly model: string;
  generate<S extends z.ZodType>(request: StructuredRequest<S>): Promise<StructuredResult<z.infer<S>>>;
}
