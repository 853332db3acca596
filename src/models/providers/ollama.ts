// The Ollama employee provider: /api/chat with a JSON schema as `format`, through the official ollama SDK.
// Ollama runs locally (OLLAMA_HOST, default http://127.0.0.1:11434) and costs nothing, so it is the default.
import { Ollama } from "ollama";
import { z } from "zod";
import { toStrictJsonSchema } from "../json-schema.js";
import type { ModelClient, StructuredRequest, StructuredResult, Usage } from "../model-client.js";
import { actionTurn } from "../action-protocol.js";
import type { PriceTable } from "../prices.js";
import type { ToolTurnRequest, ToolTurnResult } from "../tool-calling.js";
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

  async generate<S extends z.ZodType>(request: StructuredRequest<S>): Promise<StructuredResult<z.infer<S>>> {
    const format = toStrictJsonSchema(request.schema);
    return generatePriced(
      { provider: this.provider, model: this.model, options: this.options },
      request,
      classifyOllamaError,
      async ({ messages, signal, maxOutputTokens }): Promise<ProviderReply> => {
        let retryAfterMs: number | undefined;
        // The SDK passes no signal on non-streaming calls, so the deadline is wired in through fetch.
        const client = new Ollama({
          host: this.options.host ?? DEFAULT_OLLAMA_HOST,
          fetch: async (input, init) => {
            const response = await fetch(input, { ...init, signal });
            if (response.status === 429) retryAfterMs = parseRetryAfter(response.headers.get("retry-after"));
            return response;
          },
        });
        let reply: unknown;
        try {
          reply = await client.chat({
            model: this.model,
            messages,
            format,
            stream: false,
            options: {
              ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
              ...(maxOutputTokens !== undefined ? { num_predict: maxOutputTokens } : {}),
            },
          });
        } catch (error) {
          throw new RetryAfterSeen(error, retryAfterMs);
        }
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

  // Native tool calling follows; until then every turn takes the action protocol.
  turn(request: ToolTurnRequest): Promise<ToolTurnResult> {
    return actionTurn(this, request);
  }
}
