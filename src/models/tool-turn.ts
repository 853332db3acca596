// The provider-neutral half of a native tool-calling turn: the prompt-token bound of a turn (messages plus
// tool schemas), the output allowance its reservation pays for, the per-call timeout, failure classification
// and pricing. Each provider supplies only its wire call; a turn is one provider call with no re-asks, since
// a bad tool call is answered by the loop with its `argumentError`, not by asking again here.
import { z } from "zod";
import { actionMessages, actionSchema } from "./action-protocol.js";
import { OutputAllowanceTooSmall, type ProviderName, type Usage } from "./model-client.js";
import { costUsd as costAtPrice } from "./prices.js";
import {
  callFailed,
  callWithTimeout,
  DEFAULT_TIMEOUT_MS,
  inputPriceBound,
  MESSAGE_OVERHEAD_TOKENS,
  MIN_OUTPUT_TOKENS,
  outputAllowance,
  promptTokenBound,
  schemaBytesBound,
  wasCutByBudget,
  type FailureClassification,
  type PricedClient,
} from "./structured-output.js";
import { toToolCall, type RawToolCall } from "./tool-arguments.js";
import type { AgentMessage, ToolProtocol, ToolSpec, ToolTurnRequest, ToolTurnResult } from "./tool-calling.js";

/** The message type named in a budget stop of a native turn. */
export const TOOL_TURN_NAME = "tool turn";

/** What one native provider call returned, before the tool calls are validated. */
export type NativeTurnReply = {
  text: string;
  calls: RawToolCall[];
  usage: Usage;
  finishReason?: string;
  refusal?: string;
};

/** One native provider round trip; it must honour `signal` and send `maxOutputTokens`, when set, as its output limit. */
export type NativeTurnCall = (input: { signal: AbortSignal; maxOutputTokens: number | undefined }) => Promise<NativeTurnReply>;

/** JSON text as sent inside a request body: escaping makes it at least as long as the raw text. */
function jsonBytes(text: string): number {
  return Buffer.byteLength(JSON.stringify(text), "utf8");
}

/** Each tool as any provider declares it: name, description and the larger of its strict and Gemini schemas. */
function toolBytes(tool: ToolSpec): number {
  return Buffer.byteLength(tool.name, "utf8") + jsonBytes(tool.description) + schemaBytesBound(tool.parameters) + MESSAGE_OVERHEAD_TOKENS;
}

/** One conversation message as any provider's wire format carries it, counted generously (see promptTokenBound). */
function messageBytes(message: AgentMessage): number {
  const content = message.role === "tool" ? jsonBytes(message.content) : Buffer.byteLength(message.content, "utf8");
  const extra =
    message.role === "assistant"
      ? message.toolCalls.reduce(
          (sum, call) =>
            sum +
            Buffer.byteLength(call.id + call.name, "utf8") +
            jsonBytes(call.rawArguments) +
            Buffer.byteLength(call.thoughtSignature ?? "", "utf8") +
            MESSAGE_OVERHEAD_TOKENS,
          0,
        )
      : message.role === "tool"
        ? Buffer.byteLength(message.callId + message.name, "utf8")
        : 0;
  return content + extra + MESSAGE_OVERHEAD_TOKENS;
}

/**
 * An upper bound on the prompt tokens of one turn, counted like promptTokenBound (one token per UTF-8 byte,
 * framing per message): natively the messages with their tool calls and answers plus every tool's schema;
 * under the action protocol the first attempt of the structured call it makes (its rendered chat and the
 * action schema). Both the reservation (budgetedTurn) and the turn's output allowance use this count.
 */
export function turnPromptTokenBound(request: { messages: readonly AgentMessage[]; tools: readonly ToolSpec[]; protocol: ToolProtocol }): number {
  if (request.protocol === "actions") return promptTokenBound(actionMessages(request.messages, request.tools), actionSchema(request.tools));
  return request.messages.reduce((sum, message) => sum + messageBytes(message), 0) + request.tools.reduce((sum, tool) => sum + toolBytes(tool), 0);
}

/**
 * Stable ids for providers that give none (Gemini, older Ollama): `call_<turn>_<index>`, where the turn is the
 * number of model turns before this one, so ids never repeat within a conversation and a replay makes the same.
 */
export function madeUpCallId(messages: readonly AgentMessage[], index: number): string {
  const turn = messages.filter((message) => message.role === "assistant").length;
  return `call_${turn}_${index}`;
}

/** Tool names must match this on every provider. */
const ToolName = z.string().regex(/^[a-zA-Z0-9_]{1,64}$/);

/** A tool list the providers can declare: valid names, each once. A programming error, so it throws. */
export function assertToolSpecs(tools: readonly ToolSpec[]): void {
  const seen = new Set<string>();
  for (const tool of tools) {
    if (!ToolName.safeParse(tool.name).success) throw new Error(`tool name "${tool.name}" must match ^[a-zA-Z0-9_]{1,64}$`);
    if (seen.has(tool.name)) throw new Error(`tool "${tool.name}" is declared twice`);
    seen.add(tool.name);
  }
}

/**
 * The shared body of every provider's native `turn`: price the model now, cut the output limit to what the
 * reservation pays for after the prompt bound (or refuse with OutputAllowanceTooSmall), make the call under
 * its deadline, classify a failure into ModelCallError, and validate each tool call.
 */
export async function nativeTurn(
  client: PricedClient,
  request: ToolTurnRequest,
  classify: (error: unknown) => FailureClassification,
  call: NativeTurnCall,
): Promise<ToolTurnResult> {
  assertToolSpecs(request.tools);
  const now = client.options.now ?? (() => new Date());
  const price = client.options.prices.priceFor(client.model, now(), client.provider);
  const cost = (usage: Usage) => costAtPrice(usage, price);
  const started = now().getTime();
  const timeoutMs = request.timeoutMs ?? client.options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const inputTokens = turnPromptTokenBound(request);
  const maxOutputTokens = outputAllowance({ maxCostUsd: request.maxCostUsd, spentUsd: 0, inputTokens, price, modelMax: request.maxOutputTokens });
  const stop = (reason: "prompt" | "truncated", outputTokens: number, usage: Usage, attempts: number) =>
    budgetStop({
      provider: client.provider,
      model: client.model,
      request,
      reason,
      inputTokens,
      inputUsd: (inputTokens * inputPriceBound(price)) / 1e6,
      outputTokens,
      usage,
      costUsd: cost(usage),
      attempts,
    });
  if (maxOutputTokens !== undefined && maxOutputTokens < Math.min(MIN_OUTPUT_TOKENS, request.maxOutputTokens ?? MIN_OUTPUT_TOKENS)) {
    throw stop("prompt", maxOutputTokens, { input: 0, cachedInput: 0, output: 0 }, 0);
  }

  let reply: NativeTurnReply;
  try {
    reply = await callWithTimeout((signal) => call({ signal, maxOutputTokens }), timeoutMs, request.signal);
  } catch (error) {
    throw callFailed(error, {
      timeoutMs,
      classify,
      details: { provider: client.provider, model: client.model, attempts: 1, usage: { input: 0, cachedInput: 0, output: 0 }, costUsd: 0 },
    });
  }
  // A reply cut off at a limit the reservation lowered is the budget's doing: its tool calls may be cut too.
  if (wasCutByBudget(reply, maxOutputTokens, request.maxOutputTokens)) throw stop("truncated", maxOutputTokens ?? 0, reply.usage, 1);

  return {
    text: reply.text,
    toolCalls: reply.calls.map((raw) => toToolCall(request.tools, raw)),
    usage: reply.usage,
    costUsd: cost(reply.usage),
    model: client.model,
    provider: client.provider,
    durationMs: now().getTime() - started,
    attempts: 1,
    ...(reply.finishReason ? { finishReason: reply.finishReason } : {}),
    ...(reply.refusal ? { refusal: reply.refusal } : {}),
  };
}

function budgetStop(at: {
  provider: ProviderName;
  model: string;
  request: ToolTurnRequest;
  reason: "prompt" | "truncated";
  inputTokens: number;
  inputUsd: number;
  outputTokens: number;
  usage: Usage;
  costUsd: number;
  attempts: number;
}): OutputAllowanceTooSmall {
  return new OutputAllowanceTooSmall({
    provider: at.provider,
    model: at.model,
    reason: at.reason,
    name: TOOL_TURN_NAME,
    maxCostUsd: at.request.maxCostUsd ?? 0,
    inputTokens: at.inputTokens,
    inputUsd: at.inputUsd,
    outputTokens: at.outputTokens,
    maxOutputTokens: at.request.maxOutputTokens,
    minOutputTokens: MIN_OUTPUT_TOKENS,
    attempts: at.attempts,
    usage: at.usage,
    costUsd: at.costUsd,
    reasks: [],
  });
}
