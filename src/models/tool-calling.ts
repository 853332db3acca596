// The provider-neutral shape of an agent conversation: each turn the model either calls tools or answers in
// text. Providers translate these messages and tool specs to their own wire format (OpenAI tools/tool_calls,
// Gemini functionDeclarations/functionCall, Ollama tools) and back. A model without native tool calling
// works through the structured-output action protocol instead (one action per turn, see `ToolProtocol`).
import type { z } from "zod";
import type { ProviderName, Usage } from "./provider-types.js";

/** A tool the model may call: its name, what it does, and a strict zod object schema for its arguments. */
export type ToolSpec = {
  /** ^[a-zA-Z0-9_]{1,64}$, the same on every provider. */
  name: string;
  description: string;
  parameters: z.ZodObject;
};

/**
 * One call the model made. `arguments` is the parsed JSON when it parsed and matched the tool's schema;
 * otherwise `argumentError` says what was wrong (the loop sends that back to the model, it is not a failure
 * of the call). `rawArguments` is what the model sent, for the trajectory.
 */
export type ToolCall = {
  /** The provider's call id (OpenAI, Ollama) or one we made up (Gemini has none); answers quote it. */
  id: string;
  name: string;
  rawArguments: string;
  arguments?: Record<string, unknown>;
  argumentError?: string;
  /** Gemini's `thoughtSignature` on the functionCall part, sent back with the call so a thinking model keeps its context. */
  thoughtSignature?: string;
};

/** A message of the conversation, provider-neutral. */
export type AgentMessage =
  | { role: "system"; content: string }
  | { role: "user"; content: string }
  /** The model's turn: its text (may be empty) and the tools it called (may be none). */
  | { role: "assistant"; content: string; toolCalls: ToolCall[] }
  /** What one tool call returned. */
  | { role: "tool"; callId: string; name: string; content: string };

/** How an employee's model takes tools: natively through its SDK, or by the one-action-per-turn JSON protocol. */
export type ToolProtocol = "native" | "actions";

export type ToolTurnRequest = {
  messages: AgentMessage[];
  tools: ToolSpec[];
  protocol: ToolProtocol;
  timeoutMs?: number;
  temperature?: number;
  /** The most output tokens this turn's reply may have. */
  maxOutputTokens?: number;
  /** Dollars reserved for this turn; the output limit is cut so the prompt plus the longest reply fits. */
  maxCostUsd?: number;
  signal?: AbortSignal;
};

export type ToolTurnResult = {
  /** The model's text this turn (its reasoning or final words); may be empty. */
  text: string;
  /** The calls it made this turn; empty means it answered in text only. */
  toolCalls: ToolCall[];
  usage: Usage;
  costUsd: number;
  model: string;
  provider: ProviderName;
  durationMs: number;
  /** The provider's stop reason (`stop`, `tool_calls`, `length`, `STOP`, …) when it gave one. */
  finishReason?: string;
  /** Set when the provider says the model declined to answer (OpenAI `refusal`, a Gemini block or safety stop). */
  refusal?: string;
  /** Provider calls this turn took: 1 natively, more when the action protocol re-asked for a valid action. */
  attempts?: number;
};
