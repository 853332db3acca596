// The OpenAI employee provider: Chat Completions with a strict `json_schema` response format, through the
// official SDK. OPENAI_BASE_URL points it at any OpenAI-compatible gateway.
import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { z } from "zod";
import { toStrictJsonSchema } from "../json-schema.js";
import { actionTurn } from "../action-protocol.js";
import type { ModelClient, StructuredRequest, StructuredResult, Usage } from "../model-client.js";
import type { PriceTable } from "../prices.js";
import { generatePriced, type FailureClassification, type ProviderReply } from "../structured-output.js";
import type { AgentMessage, ToolSpec, ToolTurnRequest, ToolTurnResult } from "../tool-calling.js";
import { nativeTurn, type NativeTurnReply } from "../tool-turn.js";
import { classifyNetworkError, errorMessage, kindForStatus, parseRetryAfter } from "./classify.js";

export type OpenAIClientOptions = {
  model: string;
  apiKey: string;
  /** OPENAI_BASE_URL; the SDK default (https://api.openai.com/v1) when undefined. */
  baseURL?: string;
  prices: PriceTable;
  defaultTimeoutMs?: number;
  /** Wall clock for price dates and durations; injectable for tests. */
  now?: () => Date;
};

/** The parts of a chat completion we rely on, validated because it comes from outside. */
const ChatCompletionReply = z.object({
  choices: z
    .array(
      z.object({
        finish_reason: z.string().nullish(),
        message: z.object({ content: z.string().nullish(), refusal: z.string().nullish() }),
      }),
    )
    .min(1),
  usage: z
    .object({
      prompt_tokens: z.number().int().nonnegative(),
      completion_tokens: z.number().int().nonnegative(),
      prompt_tokens_details: z.object({ cached_tokens: z.number().int().nonnegative().nullish() }).nullish(),
    })
    .nullish(),
});

/** The parts of a chat completion with tool calls we rely on. */
const ToolCompletionReply = ChatCompletionReply.extend({
  choices: z
    .array(
      z.object({
        finish_reason: z.string().nullish(),
        message: z.object({
          content: z.string().nullish(),
          refusal: z.string().nullish(),
          tool_calls: z
            .array(
              z.union([
                z.object({ id: z.string(), type: z.literal("function"), function: z.object({ name: z.string(), arguments: z.string() }) }),
                // Custom (free-text) tools are never declared by us; such a call is reported as unknown.
                z.object({ id: z.string(), type: z.string(), custom: z.object({ name: z.string(), input: z.string() }).optional() }),
              ]),
            )
            .nullish(),
        }),
      }),
    )
    .min(1),
});

type OpenAIMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/** The conversation in OpenAI's shape: assistant turns carry `tool_calls`, tool answers quote `tool_call_id`. */
export function openAIMessages(messages: readonly AgentMessage[]): OpenAIMessage[] {
  return messages.map((message): OpenAIMessage => {
    if (message.role === "tool") return { role: "tool", tool_call_id: message.callId, content: message.content };
    if (message.role !== "assistant") return { role: message.role, content: message.content };
    if (message.toolCalls.length === 0) return { role: "assistant", content: message.content };
    return {
      role: "assistant",
      content: message.content === "" ? null : message.content,
      tool_calls: message.toolCalls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: call.rawArguments } })),
    };
  });
}

/** Each tool as a strict function: OpenAI then holds the model's arguments to the schema. */
export function openAITools(tools: readonly ToolSpec[]): OpenAI.Chat.Completions.ChatCompletionFunctionTool[] {
  return tools.map((tool) => ({
    type: "function",
    function: { name: tool.name, description: tool.description, strict: true, parameters: toStrictJsonSchema(tool.parameters) },
  }));
}

/** OpenAI counts cached tokens inside `prompt_tokens`; we keep them apart so each is priced once. */
export function openAIUsage(usage: z.infer<typeof ChatCompletionReply>["usage"]): Usage {
  if (!usage) return { input: 0, cachedInput: 0, output: 0 };
  const cached = usage.prompt_tokens_details?.cached_tokens ?? 0;
  return { input: Math.max(0, usage.prompt_tokens - cached), cachedInput: cached, output: usage.completion_tokens };
}

/** JSON-schema names must match ^[a-zA-Z0-9_-]{1,64}$. */
export function schemaName(name: string): string {
  const cleaned = name.replace(/[^a-zA-Z0-9_-]/g, "_").slice(0, 64);
  return cleaned.length > 0 ? cleaned : "Reply";
}

/**
 * The request field that limits a reply's output tokens. OpenAI's own API takes `max_completion_tokens` for
 * every model and its reasoning models (o-series, gpt-5) refuse `max_tokens`; OpenAI-compatible gateways
 * (vLLM, LiteLLM, Ollama's /v1) know `max_tokens`, so it is used there except for OpenAI reasoning models.
 */
export function outputLimitParameter(model: string, baseURL: string | undefined): "max_completion_tokens" | "max_tokens" {
  if (baseURL === undefined) return "max_completion_tokens";
  return /^(?:.*\/)?(?:o\d|gpt-5)/.test(model) ? "max_completion_tokens" : "max_tokens";
}

export function classifyOpenAIError(error: unknown): FailureClassification {
  // The SDK's own 10-minute timeout; ours normally fires first.
  if (error instanceof APIConnectionTimeoutError) return { kind: "timeout", message: `openai timed out: ${error.message}` };
  // Connection errors are subclasses of APIError without a status.
  if (error instanceof APIConnectionError || error instanceof APIUserAbortError) return classifyNetworkError("openai", error);
  if (error instanceof APIError && error.status !== undefined) {
    const kind = kindForStatus(error.status);
    const retryAfterMs = kind === "rate_limit" ? parseRetryAfter(error.headers?.get("retry-after"), error.headers?.get("retry-after-ms")) : undefined;
    return {
      kind,
      status: error.status,
      message: `openai answered ${error.status}: ${error.message}`,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  return classifyNetworkError("openai", error);
}

export class OpenAIModelClient implements ModelClient {
  readonly provider = "openai" as const;
  readonly model: string;
  private readonly client: OpenAI;
  private readonly options: OpenAIClientOptions;

  constructor(options: OpenAIClientOptions) {
    this.options = options;
    this.model = options.model;
    // Our loop owns retries and deadlines, so the SDK must not retry behind its back.
    this.client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL ?? null, maxRetries: 0 });
  }

  async generate<S extends z.ZodType>(request: StructuredRequest<S>): Promise<StructuredResult<z.infer<S>>> {
    const schema = toStrictJsonSchema(request.schema);
    return generatePriced(
      { provider: this.provider, model: this.model, options: this.options },
      request,
      classifyOpenAIError,
      async ({ messages, signal, maxOutputTokens }): Promise<ProviderReply> => {
        const completion: unknown = await this.client.chat.completions.create(
          {
            model: this.model,
            messages,
            response_format: {
              type: "json_schema",
              json_schema: { name: schemaName(request.name), strict: true, schema },
            },
            ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
            ...(maxOutputTokens !== undefined ? { [outputLimitParameter(this.model, this.options.baseURL)]: maxOutputTokens } : {}),
          },
          { signal, maxRetries: 0 },
        );
        const parsed = ChatCompletionReply.safeParse(completion);
        if (!parsed.success) {
          throw new APIError(502, undefined, `unexpected chat completion shape: ${errorMessage(parsed.error)}`, undefined);
        }
        const choice = parsed.data.choices[0];
        return {
          text: choice?.message.content ?? "",
          usage: openAIUsage(parsed.data.usage),
          ...(choice?.message.refusal ? { refusal: choice.message.refusal } : {}),
          ...(choice?.finish_reason ? { finishReason: choice.finish_reason } : {}),
        };
      },
    );
  }

  async turn(request: ToolTurnRequest): Promise<ToolTurnResult> {
    if (request.protocol === "actions") return actionTurn(this, request);
    const tools = openAITools(request.tools);
    return nativeTurn(
      { provider: this.provider, model: this.model, options: this.options },
      request,
      classifyOpenAIError,
      async ({ signal, maxOutputTokens }): Promise<NativeTurnReply> => {
        const completion: unknown = await this.client.chat.completions.create(
          {
            model: this.model,
            messages: openAIMessages(request.messages),
            ...(tools.length > 0 ? { tools, tool_choice: "auto" as const, parallel_tool_calls: true } : {}),
            ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
            ...(maxOutputTokens !== undefined ? { [outputLimitParameter(this.model, this.options.baseURL)]: maxOutputTokens } : {}),
          },
          { signal, maxRetries: 0 },
        );
        const parsed = ToolCompletionReply.safeParse(completion);
        if (!parsed.success) {
          throw new APIError(502, undefined, `unexpected chat completion shape: ${errorMessage(parsed.error)}`, undefined);
        }
        const choice = parsed.data.choices[0];
        const calls = (choice?.message.tool_calls ?? []).map((call) =>
          "function" in call
            ? { id: call.id, name: call.function.name, arguments: call.function.arguments }
            : { id: call.id, name: call.custom?.name ?? call.type, arguments: call.custom?.input ?? "" },
        );
        return {
          text: choice?.message.content ?? "",
          calls,
          usage: openAIUsage(parsed.data.usage),
          ...(choice?.message.refusal ? { refusal: choice.message.refusal } : {}),
          ...(choice?.finish_reason ? { finishReason: choice.finish_reason } : {}),
        };
      },
    );
  }
}
