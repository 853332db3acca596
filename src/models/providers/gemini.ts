// The Gemini employee provider: generateContent with a JSON response MIME type and a response schema,
// through the official @google/generative-ai SDK. GEMINI_BASE_URL overrides the API endpoint.
import {
  FunctionCallingMode,
  GoogleGenerativeAI,
  GoogleGenerativeAIFetchError,
  GoogleGenerativeAIRequestInputError,
  type Content,
  type FunctionDeclaration,
  type FunctionDeclarationSchema,
  type GenerateContentRequest,
  type GenerativeModel,
  type Part,
  type ResponseSchema,
} from "@google/generative-ai";
import { z } from "zod";
import { toGeminiSchema, type GeminiSchema } from "../json-schema.js";
import type { ChatMessage, ModelClient, StructuredRequest, StructuredResult, Usage } from "../model-client.js";
import { actionTurn } from "../action-protocol.js";
import type { PriceTable } from "../prices.js";
import type { AgentMessage, ToolSpec, ToolTurnRequest, ToolTurnResult } from "../tool-calling.js";
import { madeUpCallId, nativeTurn, type NativeTurnReply } from "../tool-turn.js";
import { sentArguments } from "../tool-arguments.js";
import { generatePriced, type FailureClassification, type ProviderReply } from "../structured-output.js";
import { classifyNetworkError, errorMessage, kindForStatus, parseProtoDuration } from "./classify.js";

export type GeminiClientOptions = {
  model: string;
  apiKey: string;
  /** GEMINI_BASE_URL; the SDK default (https://generativelanguage.googleapis.com) when undefined. */
  baseUrl?: string;
  prices: PriceTable;
  defaultTimeoutMs?: number;
  now?: () => Date;
};

/** The parts of a generateContent response we rely on. */
const GenerateContentReply = z.object({
  candidates: z
    .array(
      z.object({
        content: z
          .object({
            parts: z
              .array(
                z.object({
                  text: z.string().optional(),
                  thought: z.boolean().optional(),
                  // `args` is checked by the tool-call validation, which answers a bad one to the model.
                  functionCall: z.object({ name: z.string(), args: z.unknown() }).optional(),
                  thoughtSignature: z.string().optional(),
                }),
              )
              .optional(),
          })
          .optional(),
        finishReason: z.string().optional(),
      }),
    )
    .optional(),
  promptFeedback: z.object({ blockReason: z.string().optional() }).optional(),
  usageMetadata: z
    .object({
      promptTokenCount: z.number().int().nonnegative().optional(),
      cachedContentTokenCount: z.number().int().nonnegative().optional(),
      candidatesTokenCount: z.number().int().nonnegative().optional(),
      thoughtsTokenCount: z.number().int().nonnegative().optional(),
    })
    .optional(),
});

/**
 * Gemini counts cached tokens inside `promptTokenCount` and reports thinking tokens apart from
 * `candidatesTokenCount`; thinking is billed as output.
 */
export function geminiUsage(usage: z.infer<typeof GenerateContentReply>["usageMetadata"]): Usage {
  if (!usage) return { input: 0, cachedInput: 0, output: 0 };
  const cached = usage.cachedContentTokenCount ?? 0;
  return {
    input: Math.max(0, (usage.promptTokenCount ?? 0) - cached),
    cachedInput: cached,
    output: (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0),
  };
}

/** System messages become the system instruction; assistant turns are the "model" role. */
export function geminiContents(messages: ChatMessage[]): { systemInstruction?: string; contents: Content[] } {
  const system = messages.filter((m) => m.role === "system").map((m) => m.content);
  const contents: Content[] = messages
    .filter((m) => m.role !== "system")
    .map((m) => ({ role: m.role === "assistant" ? "model" : "user", parts: [{ text: m.content }] }));
  return { ...(system.length > 0 ? { systemInstruction: system.join("\n\n") } : {}), contents };
}

/** A model turn: its text, then each functionCall part (with the thought signature it came with). */
function modelContent(message: Extract<AgentMessage, { role: "assistant" }>): Content {
  const calls: Part[] = message.toolCalls.map((call) => ({
    functionCall: { name: call.name, args: sentArguments(call) },
    ...(call.thoughtSignature ? { thoughtSignature: call.thoughtSignature } : {}),
  }));
  const text: Part[] = message.content !== "" || calls.length === 0 ? [{ text: message.content }] : [];
  return { role: "model", parts: [...text, ...calls] };
}

/**
 * The conversation in Gemini's shape: system messages become the system instruction, model turns carry
 * functionCall parts, and the answers to one turn's calls go back together as functionResponse parts of one
 * user content, in the order of the calls (Gemini matches them by name and position; it has no call ids).
 */
export function geminiToolContents(messages: readonly AgentMessage[]): { systemInstruction?: string; contents: Content[] } {
  const system = messages.filter((m) => m.role === "system").map((m) => m.content);
  const contents: Content[] = [];
  for (const message of messages) {
    if (message.role === "system") continue;
    if (message.role === "assistant") {
      contents.push(modelContent(message));
      continue;
    }
    if (message.role === "user") {
      contents.push({ role: "user", parts: [{ text: message.content }] });
      continue;
    }
    const part: Part = { functionResponse: { name: message.name, response: { content: message.content } } };
    const last = contents.at(-1);
    if (last && last.role === "user" && last.parts.every((p) => p.functionResponse !== undefined)) last.parts.push(part);
    else contents.push({ role: "user", parts: [part] });
  }
  return { ...(system.length > 0 ? { systemInstruction: system.join("\n\n") } : {}), contents };
}

/** Each tool as a function declaration; a tool without arguments declares none (Gemini rejects an empty object). */
export function geminiFunctionDeclarations(tools: readonly ToolSpec[]): FunctionDeclaration[] {
  return tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    ...(Object.keys(tool.parameters.shape).length > 0 ? { parameters: sdkSchema(toGeminiSchema(tool.parameters)) as FunctionDeclarationSchema } : {}),
  }));
}

const GoogleErrorDetail = z.object({ "@type": z.string().optional(), reason: z.string().optional(), retryDelay: z.unknown().optional() });

export function classifyGeminiError(error: unknown): FailureClassification {
  if (error instanceof GoogleGenerativeAIFetchError && error.status !== undefined) {
    const details = z.array(GoogleErrorDetail).safeParse(error.errorDetails ?? []);
    const list = details.success ? details.data : [];
    // Gemini answers an invalid key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
    const badKey = list.some((detail) => detail.reason === "API_KEY_INVALID");
    const kind = badKey ? "auth" : kindForStatus(error.status);
    const retryAfterMs = kind === "rate_limit" ? list.map((detail) => parseProtoDuration(detail.retryDelay)).find((ms) => ms !== undefined) : undefined;
    return {
      kind,
      status: error.status,
      message: `gemini answered ${error.status}: ${error.message}`,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  if (error instanceof GoogleGenerativeAIRequestInputError) {
    return { kind: "bad_request", message: `gemini request rejected by the SDK: ${error.message}` };
  }
  return classifyNetworkError("gemini", error);
}

/** The SDK's schema types predate `anyOf`, which the API accepts; the shapes are otherwise the same. */
function sdkSchema(schema: GeminiSchema): ResponseSchema {
  return schema as ResponseSchema;
}

type GeminiPart = NonNullable<NonNullable<NonNullable<z.infer<typeof GenerateContentReply>["candidates"]>[number]["content"]>["parts"]>[number];

/** What both calls read from a generateContent reply. */
type GeminiReply = { parts: GeminiPart[]; usage: Usage; blockReason: string | undefined; finishReason: string | undefined };

/**
 * Why a reply gives nothing to use, or undefined: a blocked prompt, or a stop other than STOP or MAX_TOKENS when
 * the reply is `empty` (no text, and for a tool turn no calls either).
 */
function geminiRefusal(reply: GeminiReply, empty: boolean): string | undefined {
  if (reply.blockReason) return `prompt blocked (${reply.blockReason})`;
  const finishReason = reply.finishReason;
  return finishReason && finishReason !== "STOP" && finishReason !== "MAX_TOKENS" && empty ? `no answer (finish reason ${finishReason})` : undefined;
}

export class GeminiModelClient implements ModelClient {
  readonly provider = "gemini" as const;
  readonly model: string;
  private readonly generative: GenerativeModel;
  private readonly options: GeminiClientOptions;

  constructor(options: GeminiClientOptions) {
    this.options = options;
    this.model = options.model;
    const sdk = new GoogleGenerativeAI(options.apiKey);
    this.generative = sdk.getGenerativeModel({ model: options.model }, options.baseUrl !== undefined ? { baseUrl: options.baseUrl.replace(/\/+$/, "") } : {});
  }

  async generate<S extends z.ZodType>(request: StructuredRequest<S>): Promise<StructuredResult<z.infer<S>>> {
    const responseSchema = sdkSchema(toGeminiSchema(request.schema));
    return generatePriced(
      { provider: this.provider, model: this.model, options: this.options },
      request,
      classifyGeminiError,
      async ({ messages, signal, maxOutputTokens }): Promise<ProviderReply> => {
        const reply = await this.content(
          {
            ...geminiContents(messages),
            generationConfig: {
              responseMimeType: "application/json",
              responseSchema,
              ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
              ...(maxOutputTokens !== undefined ? { maxOutputTokens } : {}),
            },
          },
          signal,
        );
        const text = reply.parts.map((part) => part.text ?? "").join("");
        // A safety or recitation stop is the model declining, which a re-ask may fix; it is not an outage.
        const refusal = geminiRefusal(reply, text === "");
        return {
          text,
          usage: reply.usage,
          ...(refusal ? { refusal } : {}),
          ...(reply.finishReason ? { finishReason: reply.finishReason } : {}),
        };
      },
    );
  }

  async turn(request: ToolTurnRequest): Promise<ToolTurnResult> {
    if (request.protocol === "actions") return actionTurn(this, request);
    const functionDeclarations = geminiFunctionDeclarations(request.tools);
    return nativeTurn(
      { provider: this.provider, model: this.model, options: this.options },
      request,
      classifyGeminiError,
      async ({ signal, maxOutputTokens }): Promise<NativeTurnReply> => {
        const reply = await this.content(
          {
            ...geminiToolContents(request.messages),
            ...(functionDeclarations.length > 0
              ? { tools: [{ functionDeclarations }], toolConfig: { functionCallingConfig: { mode: FunctionCallingMode.AUTO } } }
              : {}),
            generationConfig: {
              ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
              ...(maxOutputTokens !== undefined ? { maxOutputTokens } : {}),
            },
          },
          signal,
        );
        const text = reply.parts.map((part) => part.text ?? "").join("");
        const calls = reply.parts.flatMap(({ functionCall, thoughtSignature }) => (functionCall ? [{ ...functionCall, thoughtSignature }] : []));
        // A safety stop, or MALFORMED_FUNCTION_CALL (a call Gemini could not parse), leaves nothing to act on.
        const refusal = geminiRefusal(reply, text === "" && calls.length === 0);
        return {
          text,
          calls: calls.map((call, index) => ({
            id: madeUpCallId(request.messages, index),
            name: call.name,
            arguments: call.args ?? {},
            ...(call.thoughtSignature ? { thoughtSignature: call.thoughtSignature } : {}),
          })),
          usage: reply.usage,
          ...(refusal ? { refusal } : {}),
          ...(reply.finishReason ? { finishReason: reply.finishReason } : {}),
        };
      },
    );
  }

  /** One generateContent call under `signal`: the first candidate's parts without thoughts, and what ended it. */
  private async content(body: GenerateContentRequest, signal: AbortSignal): Promise<GeminiReply> {
    const result = await this.generative.generateContent(body, { signal });
    const parsed = GenerateContentReply.safeParse(result.response);
    if (!parsed.success) {
      throw new GoogleGenerativeAIFetchError(`unexpected generateContent shape: ${errorMessage(parsed.error)}`, 502);
    }
    const candidate = parsed.data.candidates?.[0];
    return {
      parts: (candidate?.content?.parts ?? []).filter((part) => part.thought !== true),
      usage: geminiUsage(parsed.data.usageMetadata),
      blockReason: parsed.data.promptFeedback?.blockReason,
      finishReason: candidate?.finishReason,
    };
  }
}
