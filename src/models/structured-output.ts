// The loop every provider shares: call the model, parse its JSON, validate it with the zod schema, and on a
// bad reply re-ask (at most twice) with the validation errors in the conversation. It also owns the per-call
// timeout and turns every failure into one classified ModelCallError carrying attempts, re-asks and spend.
import { z } from "zod";
import { fromStrictJson, toGeminiSchema, toStrictJsonSchema } from "./json-schema.js";
import { costUsd as costAtPrice, type Price, type PriceTable } from "./prices.js";
import {
  ModelCallError,
  OutputAllowanceTooSmall,
  type BudgetStopReason,
  type ChatMessage,
  type ModelFailureKind,
  type ProviderName,
  type StructuredRequest,
  type StructuredResult,
  type Usage,
} from "./model-client.js";

/** Re-asks after the first reply; the issue allows at most two. */
export const MAX_REASKS = 2;

/** Used when neither the request nor the client sets a timeout. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** What one provider call returned, before parsing. */
export type ProviderReply = {
  text: string;
  usage: Usage;
  /** Set when the provider says the model declined to answer (OpenAI `refusal`, Gemini block reason). */
  refusal?: string;
  finishReason?: string;
};

/**
 * One provider round trip. It must honour `signal` (the loop also stops waiting when it fires) and send
 * `maxOutputTokens`, when set, as the provider's own output limit.
 */
export type ProviderTurn = (input: { messages: ChatMessage[]; signal: AbortSignal; maxOutputTokens: number | undefined }) => Promise<ProviderReply>;

/** The shortest reply worth paying for: a call that cannot afford this many output tokens is not made. */
export const MIN_OUTPUT_TOKENS = 64;

/** Tokens a provider may add per message for its role and framing, counted generously. */
export const MESSAGE_OVERHEAD_TOKENS = 8;

/** The most UTF-8 bytes a re-ask message may have; longer lists of problems are cut (see reaskMessage). */
export const REASK_MESSAGE_MAX_BYTES = 2_048;

/**
 * The size of a response schema as any provider sends it: the larger of the strict JSON schema (OpenAI,
 * Ollama) and Gemini's response schema. A schema no provider can express counts as nothing (the call is then
 * refused before it is sent).
 */
export function schemaBytesBound(schema: z.ZodType): number {
  let bytes = 0;
  for (const convert of [toStrictJsonSchema, toGeminiSchema]) {
    try {
      bytes = Math.max(bytes, Buffer.byteLength(JSON.stringify(convert(schema)), "utf8"));
    } catch {
      // Not expressible for this provider; that provider refuses the call before sending anything.
    }
  }
  return bytes;
}

/**
 * An upper bound on the prompt tokens of a call's first attempt: byte-level BPE (OpenAI) and byte-fallback
 * SentencePiece (Gemini, most local models) never make more tokens than UTF-8 bytes; each message adds its
 * framing and the response schema counts as input. The one count both the budget reservation (worstCase in
 * budgets.ts) and each attempt's output allowance use, so a reservation pays for every reply it lets through.
 */
export function promptTokenBound(messages: readonly ChatMessage[], schema: z.ZodType): number {
  return messages.reduce((sum, message) => sum + Buffer.byteLength(message.content, "utf8") + MESSAGE_OVERHEAD_TOKENS, schemaBytesBound(schema));
}

/**
 * The prompt tokens one re-ask adds at most: the model's rejected reply sent back (`replyTokens`) and the
 * re-ask message (at most REASK_MESSAGE_MAX_BYTES), each with its framing. The reservation counts the reply at
 * the employee's full output limit; the loop at what the reply really was (resentReplyTokens).
 */
export function reaskTokenBound(replyTokens: number): number {
  return replyTokens + REASK_MESSAGE_MAX_BYTES + 2 * MESSAGE_OVERHEAD_TOKENS;
}

/**
 * A rejected reply's tokens when it is sent back: what the provider counted when the model wrote it (never
 * more than the output limit it was given), or its UTF-8 bytes when those are fewer or no count was reported.
 */
export function resentReplyTokens(reply: Pick<ProviderReply, "text" | "usage">): number {
  const bytes = Buffer.byteLength(reply.text, "utf8");
  return reply.usage.output > 0 ? Math.min(bytes, reply.usage.output) : bytes;
}

/** The price one prompt token may cost: the dearer of cached and uncached input, since caching is not ours to choose. */
export function inputPriceBound(price: Price): number {
  return Math.max(price.input, price.cachedInput);
}

/**
 * The output tokens one attempt may have: what is left of the reservation after the attempts so far and this
 * attempt's input (at inputPriceBound), divided by the output price, and never more than the request's own
 * maximum. Undefined when nothing bounds the reply.
 */
export function outputAllowance(input: {
  maxCostUsd: number | undefined;
  spentUsd: number;
  inputTokens: number;
  price: Price | undefined;
  modelMax: number | undefined;
}): number | undefined {
  const { maxCostUsd, price, modelMax } = input;
  if (maxCostUsd === undefined || price === undefined) return modelMax;
  const left = maxCostUsd - input.spentUsd - (input.inputTokens * inputPriceBound(price)) / 1e6;
  if (left < 0) return 0;
  if (price.output === 0) return modelMax;
  // The reservation is a sum of the same products; a rounding error must not cost the reply a token.
  const affordable = Math.floor((left * 1e6) / price.output + 1e-6);
  return modelMax === undefined ? affordable : Math.min(modelMax, affordable);
}

/** How a provider's SDK error maps onto our failure kinds. */
export type FailureClassification = {
  kind: Exclude<ModelFailureKind, "invalid_output">;
  message: string;
  status?: number;
  retryAfterMs?: number;
};

/** A rate-limited call; `retryAfterMs` is the provider's own hint when it gave one. */
export class RateLimitError extends ModelCallError {
  override name = "RateLimitError";
  constructor(
    message: string,
    details: ModelCallError["details"],
    readonly retryAfterMs: number | undefined,
  ) {
    super("rate_limit", message, details);
  }
}

export type StructuredLoopOptions<S extends z.ZodType> = {
  provider: ProviderName;
  model: string;
  request: StructuredRequest<S>;
  call: ProviderTurn;
  classify: (error: unknown) => FailureClassification;
  /** Dollars for a usage at the price in force now. */
  cost: (usage: Usage) => number;
  /** That price, which bounds each attempt's output when the request sets `maxCostUsd`. */
  price?: Price;
  defaultTimeoutMs?: number;
  /** Milliseconds clock for `durationMs`; injectable for tests. */
  clock?: () => number;
};

const emptyUsage = (): Usage => ({ input: 0, cachedInput: 0, output: 0 });

function addUsage(total: Usage, more: Usage): Usage {
  return {
    input: total.input + more.input,
    cachedInput: total.cachedInput + more.cachedInput,
    output: total.output + more.output,
  };
}

/** Zod issues as short lines a model can act on: `- tasks.0.title: Invalid input: expected string`. */
export function formatValidationError(error: z.ZodError): string {
  return error.issues.map((issue) => `- ${issue.path.length > 0 ? issue.path.join(".") : "<root>"}: ${issue.message}`).join("\n");
}

/** The user message of a re-ask, at most REASK_MESSAGE_MAX_BYTES: a long list of problems is cut, never the instruction. */
export function reaskMessage(name: string, problems: string): string {
  const head = `Your previous reply was not a valid ${name}. Problems:`;
  const tail = `Reply again with only the corrected JSON object for ${name}, fixing every problem listed.`;
  const cut = "\n- (more problems were left out)";
  const room = REASK_MESSAGE_MAX_BYTES - Buffer.byteLength(`${head}\n\n${tail}`, "utf8");
  const shown = Buffer.byteLength(problems, "utf8") <= room ? problems : `${truncateUtf8(problems, Math.max(0, room - Buffer.byteLength(cut, "utf8")))}${cut}`;
  return [head, shown, tail].join("\n");
}

/** The longest prefix of `text` that fits in `maxBytes` of UTF-8, never splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, "utf8");
    if (bytes + size > maxBytes) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end);
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problems: string };

/** Parses a reply and validates it; `problems` is what the model is told on a re-ask. */
export function parseReply<S extends z.ZodType>(schema: S, reply: ProviderReply): Parsed<z.infer<S>> {
  if (reply.refusal) return { ok: false, problems: `- the model refused: ${reply.refusal}` };
  let json: unknown;
  try {
    json = JSON.parse(stripFence(reply.text));
  } catch (error) {
    const truncated = reply.finishReason && /length|max_tokens/i.test(reply.finishReason) ? " (the reply was cut off at the output limit)" : "";
    return {
      ok: false,
      problems: `- the reply is not valid JSON${truncated}: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
  const result = schema.safeParse(fromStrictJson(schema, json));
  if (!result.success) return { ok: false, problems: formatValidationError(result.error) };
  return { ok: true, value: result.data };
}

/** Some local models wrap JSON in a Markdown fence even in JSON mode; the content is still the reply. */
function stripFence(text: string): string {
  const match = /^\s*```(?:json)?\s*\n([\s\S]*?)\n?```\s*$/.exec(text);
  return match?.[1] ?? text;
}

/** Runs the call → parse → validate → re-ask loop. Throws ModelCallError on every failure. */
export async function generateStructured<S extends z.ZodType>(options: StructuredLoopOptions<S>): Promise<StructuredResult<z.infer<S>>> {
  const { provider, model, request, call, classify, cost } = options;
  const clock = options.clock ?? Date.now;
  const timeoutMs = request.timeoutMs ?? options.defaultTimeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = clock();
  const messages: ChatMessage[] = [...request.messages];
  const reasks: string[] = [];
  let usage = emptyUsage();
  let attempts = 0;

  const details = () => ({ provider, model, attempts, usage, costUsd: cost(usage), reasks: [...reasks] });
  // The same bound the reservation paid for: the first prompt, then what each re-ask really added.
  const firstPrompt = promptTokenBound(request.messages, request.schema);
  let reaskPrompt = 0;
  const budgetStop = (reason: BudgetStopReason, inputTokens: number, outputTokens: number) => {
    const inputUsd = options.price ? (inputTokens * inputPriceBound(options.price)) / 1e6 : 0;
    return new OutputAllowanceTooSmall({
      ...details(),
      reason,
      name: request.name,
      maxCostUsd: request.maxCostUsd ?? 0,
      inputTokens,
      inputUsd,
      outputTokens,
      maxOutputTokens: request.maxOutputTokens,
      minOutputTokens: MIN_OUTPUT_TOKENS,
    });
  };

  for (;;) {
    const inputTokens = firstPrompt + reaskPrompt;
    const maxOutputTokens = outputAllowance({
      maxCostUsd: request.maxCostUsd,
      spentUsd: cost(usage),
      inputTokens,
      price: options.price,
      modelMax: request.maxOutputTokens,
    });
    if (maxOutputTokens !== undefined && maxOutputTokens < Math.min(MIN_OUTPUT_TOKENS, request.maxOutputTokens ?? MIN_OUTPUT_TOKENS)) {
      // The budget, not the model, stops here: no call (or no re-ask) the reservation cannot pay for.
      throw budgetStop(attempts === 0 ? "prompt" : "reask", inputTokens, maxOutputTokens);
    }
    attempts += 1;
    let reply: ProviderReply;
    try {
      reply = await callWithTimeout((signal) => call({ messages: [...messages], signal, maxOutputTokens }), timeoutMs, request.signal);
    } catch (error) {
      throw callFailed(error, { timeoutMs, classify, details: details() });
    }
    usage = addUsage(usage, reply.usage);

    const parsed = parseReply(request.schema, reply);
    if (parsed.ok) {
      return {
        value: parsed.value,
        usage,
        costUsd: cost(usage),
        attempts,
        reasks,
        model,
        provider,
        durationMs: clock() - started,
      };
    }
    if (wasCutByBudget(reply, maxOutputTokens, request.maxOutputTokens)) {
      // A reply cut off at a limit the reservation lowered is the budget's doing, not the employee's.
      throw budgetStop("truncated", inputTokens, maxOutputTokens ?? 0);
    }
    if (reasks.length >= MAX_REASKS) {
      throw new ModelCallError(
        "invalid_output",
        `${provider} ${model} gave no valid ${request.name} after ${attempts} attempts:\n${parsed.problems}`,
        details(),
      );
    }
    reasks.push(parsed.problems);
    reaskPrompt += reaskTokenBound(resentReplyTokens(reply));
    messages.push({ role: "assistant", content: reply.text }, { role: "user", content: reaskMessage(request.name, parsed.problems) });
  }
}

/** What a failed provider call throws: the caller's own abort reason as it was, else a typed ModelCallError. */
export function callFailed(
  error: unknown,
  at: { timeoutMs: number; classify: (error: unknown) => FailureClassification; details: ModelCallError["details"] & { provider: string; model: string } },
): unknown {
  if (error instanceof CallerAbort) return error.reason;
  const { provider, model } = at.details;
  const failure =
    error instanceof CallTimeout ? { kind: "timeout" as const, message: `${provider} ${model} did not answer within ${at.timeoutMs} ms` } : at.classify(error);
  const info = { ...at.details, ...(failure.status !== undefined ? { status: failure.status } : {}) };
  if (failure.kind === "rate_limit") return new RateLimitError(failure.message, info, failure.retryAfterMs);
  return new ModelCallError(failure.kind, failure.message, info);
}

/**
 * Whether a reply stopped at its output limit (the provider's finish reason, or all of the limit used) while
 * that limit was below the request's own maximum, i.e. lowered by the reservation.
 */
export function wasCutByBudget(reply: Pick<ProviderReply, "usage" | "finishReason">, sentLimit: number | undefined, requestMax: number | undefined): boolean {
  if (sentLimit === undefined || (requestMax !== undefined && sentLimit >= requestMax)) return false;
  const stoppedAtLimit = reply.finishReason !== undefined && /length|max_tokens/i.test(reply.finishReason);
  return stoppedAtLimit || reply.usage.output >= sentLimit;
}

class CallTimeout extends Error {}
class CallerAbort extends Error {
  constructor(readonly reason: unknown) {
    super("aborted by caller");
  }
}

/**
 * One provider call under a deadline. The SDK gets an AbortSignal that fires on the deadline or the caller's
 * abort, and we stop waiting at that moment even if an SDK ignores the signal.
 */
export async function callWithTimeout<T>(call: (signal: AbortSignal) => Promise<T>, timeoutMs: number, callerSignal: AbortSignal | undefined): Promise<T> {
  if (callerSignal?.aborted) throw new CallerAbort(callerSignal.reason);
  const controller = new AbortController();
  let stop: (error: Error) => void = () => undefined;
  const stopped = new Promise<never>((_, reject) => {
    stop = reject;
  });
  const timer = setTimeout(() => {
    const error = new CallTimeout();
    controller.abort(error);
    stop(error);
  }, timeoutMs);
  const onCallerAbort = () => {
    const error = new CallerAbort(callerSignal?.reason);
    controller.abort(error);
    stop(error);
  };
  callerSignal?.addEventListener("abort", onCallerAbort, { once: true });
  const pending = call(controller.signal);
  // The losing promise of the race must not surface as an unhandled rejection.
  pending.catch(() => undefined);
  try {
    return await Promise.race([pending, stopped]);
  } catch (error) {
    // An SDK may reject with its own abort error before our race settles; the flag tells us why.
    if (controller.signal.aborted && controller.signal.reason instanceof Error) {
      const reason: unknown = controller.signal.reason;
      if (reason instanceof CallTimeout || reason instanceof CallerAbort) throw reason;
    }
    throw error;
  } finally {
    clearTimeout(timer);
    callerSignal?.removeEventListener("abort", onCallerAbort);
  }
}

/** What every provider client has: its name and model, the price table, and its defaults. */
export type PricedClient = {
  provider: ProviderName;
  model: string;
  options: { prices: PriceTable; defaultTimeoutMs?: number; now?: () => Date };
};

/**
 * The shared body of every provider's `generate`: price the model at the current date and run the
 * structured loop with the provider's own call and error classification.
 */
export function generatePriced<S extends z.ZodType>(
  client: PricedClient,
  request: StructuredRequest<S>,
  classify: (error: unknown) => FailureClassification,
  call: ProviderTurn,
): Promise<StructuredResult<z.infer<S>>> {
  const now = client.options.now ?? (() => new Date());
  const price = client.options.prices.priceFor(client.model, now(), client.provider);
  return generateStructured({
    provider: client.provider,
    model: client.model,
    request,
    cost: (usage) => costAtPrice(usage, price),
    price,
    classify,
    clock: () => now().getTime(),
    ...(client.options.defaultTimeoutMs !== undefined ? { defaultTimeoutMs: client.options.defaultTimeoutMs } : {}),
    call,
  });
}
