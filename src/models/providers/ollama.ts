// The Ollama employee provider: /api/chat with a JSON schema as `format`, through the official ollama SDK.
// Ollama runs locally (OLLAMA_HOST, default http://127.0.0.1:11434) and costs nothing, so it is the default.
import { Ollama, type Message, type Tool } from "ollama";
import { z } from "zod";
import { toStrictJsonSchema } from "../json-schema.js";
import type { ModelClient, StructuredRequest, StructuredResult, Usage } from "../model-client.js";
import { actionTurn } from "../action-protocol.js";
import type { PriceTable } from "../prices.js";
import type { AgentMessage, ToolSpec, ToolTurnRequest, ToolTurnResult } from "../tool-calling.js";
import { madeUpCallId, nativeTurn, type NativeTurnReply } from "../tool-turn.js";
import { sentArguments } from "../tool-arguments.js";
import { generatePriced, type FailureClassification, type ProviderReply } from "../structured-output.js";
import { classifyNetworkError, errorMessage, kindForStatus, parseRetryAfter } from "./classify.js";

export const DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434";

export type OllamaClientOptions = {
  model: string;
  /** OLLAMA_HOST. */
  host?: string;
  prices: PriceTable;
  defaultTimeoutMs?: number;
  now?: () => Date;
};

/** The parts of an /api/chat response we rely on. */
const ChatReply = z.object({
  message: z.object({ content: z.string() }),
  done_reason: z.string().optional(),
  prompt_eval_count: z.number().int().nonnegative().optional(),
  eval_count: z.number().int().nonnegative().optional(),
});

/** The parts of an /api/chat response with tool calls we rely on; the arguments come as an object. */
const ToolChatReply = ChatReply.extend({
  message: z.object({
    content: z.string(),
    tool_calls: z.array(z.object({ id: z.string().optional(), function: z.object({ name: z.string(), arguments: z.unknown() }) })).nullish(),
  }),
});

/** The conversation in Ollama's shape: assistant turns carry `tool_calls`, answers are `tool` messages naming the tool. */
export function ollamaMessages(messages: readonly AgentMessage[]): Message[] {
  return messages.map((message): Message => {
    if (message.role === "tool") return { role: "tool", content: message.content, tool_name: message.name };
    if (message.role !== "assistant" || message.toolCalls.length === 0) return { role: message.role, content: message.content };
    return {
      role: "assistant",
      content: message.content,
      tool_calls: message.toolCalls.map((call) => ({ function: { name: call.name, arguments: sentArguments(call) } })),
    };
  });
}

/** Each tool as a function with the strict JSON schema of its arguments (the SDK's type is narrower than what Ollama takes). */
export function ollamaTools(tools: readonly ToolSpec[]): Tool[] {
  return tools.map((tool) => ({
    type: "function",
    function: {
      name: tool.name,
      description: tool.description,
      parameters: toStrictJsonSchema(tool.parameters) as NonNullable<Tool["function"]["parameters"]>,
    },
  }));
}

/** Ollama reports no prompt cache; a prompt served from its KV cache may omit `prompt_eval_count`. */
export function ollamaUsage(reply: { prompt_eval_count?: number; eval_count?: number }): Usage {
  return { input: reply.prompt_eval_count ?? 0, cachedInput: 0, output: reply.eval_count ?? 0 };
}

/** The SDK's ResponseError is not exported; its shape is stable. */
const OllamaResponseError = z.object({ name: z.literal("ResponseError"), status_code: z.number().int(), error: z.string() });

/** The SDK drops response headers, so the fetch wrapper hands it any Retry-After it saw. */
class RetryAfterSeen extends Error {
  constructor(
    readonly original: unknown,
    readonly retryAfterMs: number | undefined,
  ) {
    super(errorMessage(original));
  }
}

export function classifyOllamaError(error: unknown): FailureClassification {
  const retryAfterMs = error instanceof RetryAfterSeen ? error.retryAfterMs : undefined;
  const inner = error instanceof RetryAfterSeen ? error.original : error;
  const response = OllamaResponseError.safeParse(inner);
  if (response.success) {
    const status = response.data.status_code;
    const kind = kindForStatus(status);
    const hint = status === 404 ? " (is the model pulled? run `ollama pull <model>`)" : "";
    return {
      kind,
      status,
      message: `ollama answered ${status}: ${response.data.error}${hint}`,
      ...(kind === "rate_limit" && retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  return classifyNetworkError("ollama", inner);
}

export class OllamaModelClient implements ModelClient {
  readonly provider = "ollama" as const;
  readonly model: string;
  private readonly options: OllamaClientOptions;

  constructor(options: OllamaClientOptions) {
    this.options = options;
    this.model = options.model;
  }

  /**
   * One /api/chat call under `signal`. The SDK passes no signal on non-streaming calls, so the deadline is
   * wired in through fetch; the SDK drops response headers, so a 429's Retry-After is carried on the error.
   */
  private async chat(body: Omit<Parameters<Ollama["chat"]>[0], "stream" | "model">, signal: AbortSignal): Promise<unknown> {
    let retryAfterMs: number | undefined;
    const client = new Ollama({
      host: this.options.host ?? DEFAULT_OLLAMA_HOST,
      fetch: async (input, init) => {
        const response = await fetch(input, { ...init, signal });
        if (response.status === 429) retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
        return response;
      },
    });
    try {
      return await client.chat({ ...body, model: this.model, stream: false });
    } catch (error) {
      throw new RetryAfterSeen(error, retryAfterMs);
    }
  }

  async turn(request: ToolTurnRequest): Promise<ToolTurnResult> {
    if (request.protocol === "actions") return actionTurn(this, request);
    const tools = ollamaTools(request.tools);
    return nativeTurn(
      { provider: this.provider, model: this.model, options: this.options },
      request,
      classifyOllamaError,
      async ({ signal, maxOutputTokens }): Promise<NativeTurnReply> => {
        const reply = await this.chat(
          {
            messages: ollamaMessages(request.messages),
            ...(tools.length > 0 ? { tools } : {}),
            options: {
              ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
              ...(maxOutputTokens !== undefined ? { num_predict: maxOutputTokens } : {}),
            },
          },
          signal,
        );
        const parsed = ToolChatReply.safeParse(reply);
        if (!parsed.success) {
          throw new RetryAfterSeen({ name: "ResponseError", status_code: 502, error: `unexpected /api/chat shape: ${errorMessage(parsed.error)}` }, undefined);
        }
        // Ollama gives call ids only in recent versions; older ones get stable made-up ones.
        const calls = (parsed.data.message.tool_calls ?? []).map((call, index) => ({
          id: call.id ?? madeUpCallId(request.messages, index),
          name: call.function.name,
          arguments: call.function.arguments ?? {},
        }));
        return {
          text: parsed.data.message.content,
          calls,
          usage: ollamaUsage(parsed.data),
          ...(parsed.data.done_reason ? { finishReason: parsed.data.done_reason } : {}),
        };
      },
    );
  }

  async generate<S extends z.ZodType>(request: StructuredRequest<S>): Promise<StructuredResult<z.infer<S>>> {
    const format = toStrictJsonSchema(request.schema);
    return generatePriced(
      { provider: this.provider, model: this.model, options: this.options },
      request,
      classifyOllamaError,
      async ({ messages, signal, maxOutputTokens }): Promise<ProviderReply> => {
        const reply = await this.chat(
          {
            messages,
            format,
            options: {
              ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
              ...(maxOutputTokens !== undefined ? { num_predict: maxOutputTokens } : {}),
            },
          },
          signal,
        );
        const parsed = ChatReply.safeParse(reply);
        if (!parsed.success) {
          throw new RetryAfterSeen({ name: "ResponseError", status_code: 502, error: `unexpected /api/chat shape: ${errorMessage(parsed.error)}` }, undefined);
        }
        return {
          text: parsed.data.message.content,
          usage: ollamaUsage(parsed.data),
          ...(parsed.data.done_reason ? { finishReason: parsed.data.done_reason } : {}),
        };
      },
    );
  }
}
