// The OpenAI provider through the real `openai` SDK, with only HTTP faked by nock.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createModelClient } from "../../src/models/providers/index.js";
import { RateLimitError } from "../../src/models/structured-output.js";
import {
  closedPort,
  loadFixture,
  openAIReply,
  TEST_NOW,
  testPrices,
  modelCallFailure as failure,
  scriptPosts,
  triageMessages as messages,
  Triage,
  type ScriptedReply,
  OPENAI_BASE as BASE,
  openAIClient as client,
} from "./provider-fixtures.js";

const valid = { summary: "Login broken on Safari", severity: "high", labels: ["bug"], owner: null };

const ChatRequestBody = z.object({
  model: z.string(),
  messages: z.array(z.object({ role: z.string(), content: z.string() })),
  response_format: z.unknown(),
});
type ChatRequestBody = z.infer<typeof ChatRequestBody>;

/** Replies in order, recording each request body. */
function scriptReplies(replies: ScriptedReply[]) {
  return scriptPosts(nock(BASE), "/v1/chat/completions", (body) => ChatRequestBody.parse(body), replies);
}

describe("openai provider", () => {
  it("sends the model, the strict json_schema and the messages, and maps the null optional back", async () => {
    const { scope, bodies } = scriptReplies([{ status: 200, body: openAIReply(JSON.stringify(valid)) }]);
    scope.matchHeader("authorization", "Bearer sk-test");

    const result = await client().generate({ name: "Triage", schema: Triage, messages });

    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.model).toBe("gpt-4.1");
    expect(bodies[0]?.messages).toEqual(messages);
    expect(bodies[0]?.response_format).toEqual({
      type: "json_schema",
      json_schema: {
        name: "Triage",
        strict: true,
        schema: {
          type: "object",
          properties: {
            summary: { type: "string", description: "(at least 1 character)" },
            severity: { type: "string", enum: ["low", "high"] },
            labels: { type: "array", items: { type: "string" }, maxItems: 3 },
            owner: { type: ["string", "null"] },
          },
          required: ["summary", "severity", "labels", "owner"],
          additionalProperties: false,
        },
      },
    });
    expect(result.value).toEqual({ summary: "Login broken on Safari", severity: "high", labels: ["bug"] });
    expect("owner" in result.value).toBe(false);
    expect(result.attempts).toBe(1);
    expect(result.reasks).toEqual([]);
    expect(result.provider).toBe("openai");
    expect(result.model).toBe("gpt-4.1");
  });

  it("normalises usage with cached tokens apart and prices it at the entry in force", async () => {
    scriptReplies([{ status: 200, body: openAIReply(JSON.stringify(valid)) }]);

    const result = await client().generate({ name: "Triage", schema: Triage, messages });

    // Fixture: prompt_tokens 1200 of which cached_tokens 1024, completion_tokens 80.
    expect(result.usage).toEqual({ input: 176, cachedInput: 1024, output: 80 });
    // 2025-04-14 price: 176 × $2 + 1024 × $0.50 + 80 × $8 per million.
    expect(result.costUsd).toBeCloseTo((176 * 2 + 1024 * 0.5 + 80 * 8) / 1e6, 12);
  });

  it("re-asks once after a reply that is not JSON, with the parse error in the conversation", async () => {
    const { bodies } = scriptReplies([
      { status: 200, body: openAIReply('{"summary": "Login broken"') },
      { status: 200, body: openAIReply(JSON.stringify(valid)) },
    ]);

    const result = await client().generate({ name: "Triage", schema: Triage, messages });

    expect(result.attempts).toBe(2);
    expect(result.reasks).toHaveLength(1);
    expect(result.reasks[0]).toMatch(/not valid JSON/);
    const second = bodies[1]?.messages ?? [];
    expect(second.slice(0, 2)).toEqual(messages);
    expect(second[2]).toEqual({ role: "assistant", content: '{"summary": "Login broken"' });
    expect(second[3]?.role).toBe("user");
    expect(second[3]?.content).toContain(result.reasks[0]);
    expect(result.usage).toEqual({ input: 352, cachedInput: 2048, output: 160 });
  });

  it("re-asks with the zod validation error naming the bad field", async () => {
    const { bodies } = scriptReplies([
      { status: 200, body: openAIReply(JSON.stringify({ ...valid, severity: "urgent" })) },
      { status: 200, body: openAIReply(JSON.stringify(valid)) },
    ]);

    const result = await client().generate({ name: "Triage", schema: Triage, messages });

    expect(result.reasks).toHaveLength(1);
    expect(result.reasks[0]).toMatch(/^- severity: /);
    expect(bodies[1]?.messages[3]?.content).toContain("- severity: ");
  });

  it("fails with invalid_output after three invalid replies, carrying attempts, re-asks and spend", async () => {
    const bad = openAIReply(JSON.stringify({ ...valid, labels: "bug" }));
    const { scope } = scriptReplies([
      { status: 200, body: bad },
      { status: 200, body: bad },
      { status: 200, body: bad },
    ]);

    const error = await failure(client().generate({ name: "Triage", schema: Triage, messages }));

    expect(scope.isDone()).toBe(true);
    expect(error.kind).toBe("invalid_output");
    expect(error.isProviderFailure).toBe(false);
    expect(error.details.attempts).toBe(3);
    expect(error.details.reasks).toHaveLength(2);
    expect(error.details.usage).toEqual({ input: 3 * 176, cachedInput: 3 * 1024, output: 3 * 80 });
    expect(error.details.costUsd).toBeCloseTo((3 * (176 * 2 + 1024 * 0.5 + 80 * 8)) / 1e6, 12);
  });

  it("classifies 401 as auth", async () => {
    scriptReplies([{ status: 401, body: loadFixture("openai-error-401.json") }]);

    const error = await failure(client().generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("auth");
    expect(error.details.status).toBe(401);
    expect(error.isProviderFailure).toBe(true);
  });

  it("classifies 429 as rate_limit with the retry-after hint, without SDK retries", async () => {
    const { scope } = scriptReplies([{ status: 429, body: loadFixture("openai-error-429.json"), headers: { "retry-after": "7" } }]);

    const error = await failure(client().generate({ name: "Triage", schema: Triage, messages }));

    expect(scope.isDone()).toBe(true);
    expect(error).toBeInstanceOf(RateLimitError);
    expect(error.kind).toBe("rate_limit");
    expect(error instanceof RateLimitError && error.retryAfterMs).toBe(7000);
  });

  it("classifies 500 as server after a single request", async () => {
    const { bodies } = scriptReplies([{ status: 500, body: loadFixture("openai-error-500.json") }]);

    const error = await failure(client().generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("server");
    expect(error.details.status).toBe(500);
    expect(bodies).toHaveLength(1);
  });

  it("aborts a hung call at the timeout and classifies it as timeout", async () => {
    nock(BASE)
      .post("/v1/chat/completions")
      .delay(10_000)
      .reply(200, openAIReply(JSON.stringify(valid)));

    const error = await failure(client({ timeoutMs: 150 }).generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("timeout");
    expect(error.details.attempts).toBe(1);
  });

  it("classifies a refused connection as server", async () => {
    const unreachable = createModelClient(
      { id: "openai-senior", provider: "openai", model: "gpt-4.1" },
      { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `http://127.0.0.1:${await closedPort()}/v1` },
      { prices: testPrices(), now: () => TEST_NOW },
    );

    const error = await failure(unreachable.generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("server");
    expect(error.message).toContain("ECONNREFUSED");
  });

  it("does not call the provider when the caller has already aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("task cancelled"));

    const outcome = client().generate({ name: "Triage", schema: Triage, messages, signal: controller.signal });

    await expect(outcome).rejects.toThrow("task cancelled");
  });
});
