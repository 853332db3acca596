// A reserved call is bounded by its reservation: each provider's real SDK sends an output limit no larger than
// what the reserved dollars can pay for after the prompt (counted generously: one token per UTF-8 byte plus
// the schema), never above the employee's own maximum, and a call the reservation cannot pay for is not sent.
// When the budget, not the model, ends a call (no re-ask affordable, a reply cut at a limit the budget
// lowered), the failure is a budget outcome, never the employee's invalid output.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { toGeminiSchema, toStrictJsonSchema } from "../../src/models/json-schema.js";
import { ModelCallError, OutputAllowanceTooSmall, type ChatMessage } from "../../src/models/model-client.js";
import { createModelClient } from "../../src/models/providers/index.js";
import { geminiReply, ollamaReply, openAIReply, TEST_NOW, testPrices, scriptPosts } from "./provider-fixtures.js";

const Triage = z.object({ summary: z.string().min(1), severity: z.enum(["low", "high"]) });
const valid = JSON.stringify({ summary: "Login broken on Safari", severity: "high" });
const messages: ChatMessage[] = [
  { role: "system", content: "You triage issues. Reply with JSON." },
  { role: "user", content: "The login button does nothing on Safari. ünïcödé counts by bytes." },
];

const Body = z.record(z.string(), z.unknown());
type Body = z.infer<typeof Body>;

/** The schema counted at the larger of the forms providers send (strict JSON schema, Gemini's schema). */
const schemaBytes = Math.max(...[toStrictJsonSchema(Triage), toGeminiSchema(Triage)].map((schema) => Buffer.byteLength(JSON.stringify(schema), "utf8")));

/** The prompt bound the limit must leave room for: every message's UTF-8 bytes plus 8, plus the schema. */
function promptBound(sent: readonly ChatMessage[]): number {
  return sent.reduce((sum, message) => sum + Buffer.byteLength(message.content, "utf8") + 8, schemaBytes);
}

/** What a re-ask adds: the rejected reply at what it was billed (or its bytes, if fewer), the re-ask message of at most 2048 bytes, and their framing. */
const reaskBound = (reply: string, outputTokens: number) => Math.min(Buffer.byteLength(reply, "utf8"), outputTokens) + 2_048 + 16;

/** Dollars for `input` prompt tokens and `output` reply tokens at a per-million price. */
const dollars = (price: { input: number; output: number }, input: number, output: number) => (input * price.input + output * price.output) / 1e6;

function record(scope: nock.Scope, path: string, replies: Body[]) {
  return scriptPosts(
    scope,
    path,
    (body) => Body.parse(body),
    replies.map((body) => ({ status: 200, body })),
  ).bodies;
}

const GPT41 = { input: 2, output: 8 };

function openai(baseUrl?: string, model = "gpt-4.1") {
  return createModelClient(
    { id: "openai-senior", provider: "openai", model },
    { OPENAI_API_KEY: "sk-test", ...(baseUrl ? { OPENAI_BASE_URL: baseUrl } : {}) },
    { prices: testPrices(), now: () => TEST_NOW },
  );
}

describe("output limit from the reservation", () => {
  it("openai: sends max_completion_tokens to OpenAI's API, the largest reply the reserved dollars pay for after the prompt", async () => {
    const bodies = record(nock("https://api.openai.com"), "/v1/chat/completions", [openAIReply(valid)]);
    const maxCostUsd = 0.05;

    await openai().generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: 32_768, maxCostUsd });

    const body = bodies[0] ?? {};
    const limit = Number(body.max_completion_tokens);
    const prompt = promptBound(messages);
    expect(body.max_tokens).toBeUndefined();
    expect(limit).toBeLessThan(32_768);
    expect(dollars(GPT41, prompt, limit)).toBeLessThanOrEqual(maxCostUsd);
    expect(dollars(GPT41, prompt, limit + 1)).toBeGreaterThan(maxCostUsd);
  });

  it("openai: a gateway gets max_tokens, capped by the employee's own maximum when the reservation allows more", async () => {
    const bodies = record(nock("https://gateway.openai.test"), "/v1/chat/completions", [openAIReply(valid)]);

    await openai("https://gateway.openai.test/v1").generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: 700, maxCostUsd: 5 });

    expect(bodies[0]?.max_tokens).toBe(700);
    expect(bodies[0]?.max_completion_tokens).toBeUndefined();
  });

  it("openai: a re-ask gets only what the first attempt left of the reservation", async () => {
    const bodies = record(nock("https://api.openai.com"), "/v1/chat/completions", [openAIReply("not json"), openAIReply(valid)]);
    const maxCostUsd = 0.05;

    const result = await openai().generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: 32_768, maxCostUsd });

    // Fixture usage per reply: 176 uncached, 1024 cached prompt tokens, 80 output tokens.
    const firstCost = (176 * 2 + 1024 * 0.5 + 80 * 8) / 1e6;
    const second = Number(bodies[1]?.max_completion_tokens);
    const reaskPrompt = promptBound(messages) + reaskBound("not json", 80);
    expect(second).toBeLessThan(Number(bodies[0]?.max_completion_tokens));
    expect(firstCost + dollars(GPT41, reaskPrompt, second)).toBeLessThanOrEqual(maxCostUsd);
    expect(firstCost + dollars(GPT41, reaskPrompt, second + 1)).toBeGreaterThan(maxCostUsd);
    expect(result.costUsd).toBeLessThanOrEqual(maxCostUsd);
  });

  it("openai: a reservation that cannot pay for the prompt plus a minimal reply sends nothing", async () => {
    // No interceptor: a request would fail the test (network is disabled).
    const error = await openai()
      .generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: 4_096, maxCostUsd: 0.0001 })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OutputAllowanceTooSmall);
    expect(String((error as Error).message)).toContain("was not made");
  });

  it("gemini: sends generationConfig.maxOutputTokens from the reservation", async () => {
    const bodies = record(nock("https://gemini.gateway.test"), "/v1beta/models/gemini-2.5-flash:generateContent", [geminiReply(valid)]);
    const client = createModelClient(
      { id: "gemini-flash", provider: "gemini", model: "gemini-2.5-flash" },
      { GEMINI_API_KEY: "gm-test", GEMINI_BASE_URL: "https://gemini.gateway.test" },
      { prices: testPrices(), now: () => TEST_NOW },
    );
    const maxCostUsd = 0.01;

    await client.generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: 65_536, maxCostUsd });

    const config = z.object({ maxOutputTokens: z.number(), responseSchema: z.unknown() }).parse(bodies[0]?.generationConfig);
    const prompt = promptBound(messages);
    const flash = { input: 0.3, output: 2.5 };
    expect(config.maxOutputTokens).toBeLessThan(65_536);
    expect(dollars(flash, prompt, config.maxOutputTokens)).toBeLessThanOrEqual(maxCostUsd);
    expect(dollars(flash, prompt, config.maxOutputTokens + 1)).toBeGreaterThan(maxCostUsd);
  });

  it("ollama: a free model gets the employee's maximum as options.num_predict and is never refused for cost", async () => {
    const bodies = record(nock("http://ollama.test:11434"), "/api/chat", [ollamaReply(valid)]);
    const client = createModelClient(
      { id: "local-coder", provider: "ollama", model: "qwen2.5-coder:7b" },
      { OLLAMA_HOST: "http://ollama.test:11434" },
      { prices: testPrices(), now: () => TEST_NOW },
    );

    await client.generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: 2_048, maxCostUsd: 0 });

    expect(bodies[0]?.options).toEqual({ num_predict: 2_048 });
  });
});

/** A chat completion whose reply is `content`, with the given finish reason and usage. */
function openAIReplyWith(content: string, finish: string, usage: { prompt: number; completion: number }): Body {
  const body = openAIReply(content);
  const choices = z.array(z.record(z.string(), z.unknown())).parse(body.choices);
  return {
    ...body,
    choices: choices.map((choice) => ({ ...choice, finish_reason: finish })),
    usage: { prompt_tokens: usage.prompt, completion_tokens: usage.completion, total_tokens: usage.prompt + usage.completion },
  };
}

describe("a call the budget ends is a budget outcome, not the employee's invalid output", () => {
  it("a reply cut off at a limit the reservation lowered fails as OutputAllowanceTooSmall, carrying what it cost, with no re-ask", async () => {
    // The reservation pays for the prompt and about 100 reply tokens; the employee may write 4096.
    const maxCostUsd = dollars(GPT41, promptBound(messages), 100);
    const bodies = record(nock("https://api.openai.com"), "/v1/chat/completions", [
      openAIReplyWith('{"summary": "Login broken on Saf', "length", { prompt: 400, completion: 100 }),
    ]);

    const error = await openai()
      .generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: 4_096, maxCostUsd })
      .catch((e: unknown) => e);

    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.max_completion_tokens).toBe(100);
    expect(error).not.toBeInstanceOf(ModelCallError);
    expect(error).toBeInstanceOf(OutputAllowanceTooSmall);
    const stop = error as OutputAllowanceTooSmall;
    expect(stop.details).toMatchObject({ reason: "truncated", outputTokens: 100, maxOutputTokens: 4_096, attempts: 1 });
    expect(stop.details.costUsd).toBeCloseTo(dollars(GPT41, 400, 100), 10);
    expect(stop.message).toContain("was cut off at 100 output tokens");
    expect(stop.message).toContain("not a fault of the employee");
  });

  it("a bad reply whose re-ask the rest of the reservation cannot pay for fails as OutputAllowanceTooSmall, not invalid_output", async () => {
    // Enough for the first prompt and 100 tokens, not for the prompt again plus the reply and the re-ask.
    const maxCostUsd = dollars(GPT41, promptBound(messages), 100);
    const bodies = record(nock("https://api.openai.com"), "/v1/chat/completions", [openAIReplyWith("not json", "stop", { prompt: 400, completion: 3 })]);

    const error = await openai()
      .generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: 4_096, maxCostUsd })
      .catch((e: unknown) => e);

    expect(bodies).toHaveLength(1);
    expect(error).toBeInstanceOf(OutputAllowanceTooSmall);
    const stop = error as OutputAllowanceTooSmall;
    expect(stop.details).toMatchObject({ reason: "reask", attempts: 1 });
    expect(stop.details.costUsd).toBeCloseTo(dollars(GPT41, 400, 3), 10);
    expect(stop.message).toContain("cannot pay for a re-ask");
  });

  it("a reply cut off at the employee's own limit is still the employee's invalid output", async () => {
    const bodies = record(nock("https://api.openai.com"), "/v1/chat/completions", [
      openAIReplyWith('{"summary": "Lo', "length", { prompt: 400, completion: 100 }),
      openAIReplyWith('{"summary": "Lo', "length", { prompt: 500, completion: 100 }),
      openAIReplyWith('{"summary": "Lo', "length", { prompt: 600, completion: 100 }),
    ]);

    const error = await openai()
      .generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: 100, maxCostUsd: 5 })
      .catch((e: unknown) => e);

    expect(bodies.map((body) => body.max_completion_tokens)).toEqual([100, 100, 100]);
    expect(error).toBeInstanceOf(ModelCallError);
    expect((error as ModelCallError).kind).toBe("invalid_output");
  });
});
