// The one interface every model provider implements. Callers ask for a reply that fits a zod schema; the
// provider converts the schema to its structured-output format, validates the reply again with zod, re-asks
// at most twice with the validation errors, and otherwise fails with a typed, classified error.
import type { z } from "zod";
import type { ProviderName, Usage } from "./provider-types.js";
import type { ToolTurnRequest, ToolTurnResult } from "./tool-calling.js";

export type { ProviderName, Usage } from "./provider-types.js";

export type ChatMessage = { role: "system" | "user" | "assistant"; content: string };

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
 * Why a call stopped on its reservation: its first prompt plus a minimal reply did not fit ("prompt"), what
 * was left after a rejected reply could not pay for a re-ask ("reask"), or the reply was cut off at an output
 * limit the reservation had lowered below the employee's own ("truncated").
 */
export type BudgetStopReason = "prompt" | "reask" | "truncated";

/**
 * The dollars reserved for a call could not pay for (the rest of) it. Not a provider failure and not a quality
 * signal: the budget decides, as with BudgetExhausted. Carries what the attempts made so far used, so the
 * reservation is settled with it.
 */
export class OutputAllowanceTooSmall extends Error {
  override name = "OutputAllowanceTooSmall";
  constructor(
    readonly details: {
      provider: ProviderName;
      model: string;
      reason: BudgetStopReason;
      /** The message type asked for (`EditSet`). */
      name: string;
      maxCostUsd: number;
      /** Prompt tokens of the attempt that was refused or cut, counted as the reservation counts them. */
      inputTokens: number;
      inputUsd: number;
      /** The output limit that attempt could have (refused) or had (cut). */
      outputTokens: number;
      /** The employee's own output limit, when set. */
      maxOutputTokens: number | undefined;
      minOutputTokens: number;
      attempts: number;
      usage: Usage;
      costUsd: number;
      reasks: string[];
    },
  ) {
    super(budgetStopMessage(details));
  }
}

function budgetStopMessage(d: OutputAllowanceTooSmall["details"]): string {
  const who = `${d.provider} ${d.model}`;
  const reserved = `$${d.maxCostUsd.toFixed(4)}`;
  const prompt = `its prompt (up to ${d.inputTokens} tokens, $${d.inputUsd.toFixed(4)})`;
  const act = "This is a budget limit, not a fault of the employee: raise the budget (`/aura budget <usd>`) or shorten the context.";
  if (d.reason === "prompt") {
    return `The call to ${who} was not made: the ${reserved} reserved for it cannot pay for ${prompt} plus a reply of at least ${d.minOutputTokens} tokens. ${act}`;
  }
  if (d.reason === "reask") {
    return `${who} gave no valid ${d.name} in ${d.attempts} attempts, and what is left of the ${reserved} reserved for the call ($${d.costUsd.toFixed(4)} spent) cannot pay for a re-ask: ${prompt} plus a reply of at least ${d.minOutputTokens} tokens. ${act}`;
  }
  const own = d.maxOutputTokens === undefined ? "" : ` (the employee may write up to ${d.maxOutputTokens})`;
  return `${who}'s ${d.name} was cut off at ${d.outputTokens} output tokens, all that the ${reserved} reserved for the call could pay for after ${prompt}${own}. ${act}`;
}

export interface ModelClient {
  readonly provider: ProviderName;
  readonly model: string;
  generate<S extends z.ZodType>(request: StructuredRequest<S>): Promise<StructuredResult<z.infer<S>>>;
  /**
   * One agent turn: the model calls tools or answers in text. `protocol: "native"` uses the provider's own
   * tool calling, `"actions"` the one-action-per-turn structured protocol (action-protocol.ts). Bad tool
   * calls come back with `argumentError`; failures throw ModelCallError or OutputAllowanceTooSmall as
   * `generate` does.
   */
  turn(request: ToolTurnRequest): Promise<ToolTurnResult>;
}
