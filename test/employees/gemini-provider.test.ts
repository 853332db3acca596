// The Gemini provider through the real `@google/generative-ai` SDK, with only HTTP faked by nock.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { RateLimitError } from "../../src/models/structured-output.js";
import {
  geminiReply,
  loadFixture,
  modelCallFailure as failure,
  scriptPosts,
  triageMessages as messages,
  Triage,
  type ScriptedReply,
  GEMINI_BASE as BASE,
  geminiClient as client,
} from "./provider-fixtures.js";

const PATH = "/v1beta/models/gemini-2.5-flash:generateContent";

const valid = { summary: "Login broken on Safari", severity: "high", labels: ["bug"], owner: null };

const GenerateRequestBody = z.object({
  contents: z.array(z.object({ role: z.string(), parts: z.array(z.object({ text: z.string() })) })),
  systemInstruction: z.unknown(),
  generationConfig: z.record(z.string(), z.unknown()),
});
type GenerateRequestBody = z.infer<typeof GenerateRequestBody>;

function scriptReplies(replies: ScriptedReply[]) {
  return scriptPosts(nock(BASE).matchHeader("x-goog-api-key", "gm-test"), PATH, (body) => GenerateRequestBody.parse(body), replies);
}

describe("gemini provider", () => {
  it("sends the system instruction, the contents and the response schema to GEMINI_BASE_URL", async () => {
    const { bodies } = scriptReplies([{ status: 200, body: geminiReply(JSON.stringify(valid)) }]);

    const result = await client().generate({ name: "Triage", schema: Triage, messages, temperature: 0 });

    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.systemInstruction).toEqual({ role: "system", parts: [{ text: "You triage issues. Reply with JSON." }] });
    expect(bodies[0]?.contents).toEqual([{ role: "user", parts: [{ text: "The login button does nothing on Safari." }] }]);
    expect(bodies[0]?.generationConfig).toEqual({
      responseMimeType: "application/json",
      temperature: 0,
      responseSchema: {
        type: "object",
        properties: {
          summary: { type: "string", description: "(at least 1 character)" },
          severity: { type: "string", format: "enum", enum: ["low", "high"] },
          labels: { type: "array", items: { type: "string" }, maxItems: 3 },
          owner: { type: "string", nullable: true },
        },
        required: ["summary", "severity", "labels", "owner"],
      },
    });
    expect(result.value).toEqual({ summary: "Login broken on Safari", severity: "high", labels: ["bug"] });
    expect(result.attempts).toBe(1);
  });

  it("takes cached tokens out of the prompt count and bills thinking as output", async () => {
    scriptReplies([{ status: 200, body: geminiReply(JSON.stringify(valid)) }]);

    const result = await client().generate({ name: "Triage", schema: Triage, messages });

    // Fixture: promptTokenCount 2000 (1500 cached), candidatesTokenCount 60, thoughtsTokenCount 40.
    expect(result.usage).toEqual({ input: 500, cachedInput: 1500, output: 100 });
    expect(result.costUsd).toBeCloseTo((500 * 0.3 + 1500 * 0.075 + 100 * 2.5) / 1e6, 12);
  });

  it("re-asks once with the validation error as a user turn after the model's turn", async () => {
    const { bodies } = scriptReplies([
      { status: 200, body: geminiReply("Sure! Here is the triage.") },
      { status: 200, body: geminiReply(JSON.stringify(valid)) },
    ]);

    const result = await client().generate({ name: "Triage", schema: Triage, messages });

    expect(result.attempts).toBe(2);
    expect(result.reasks).toHaveLength(1);
    const contents = bodies[1]?.contents ?? [];
    expect(contents.map((content) => content.role)).toEqual(["user", "model", "user"]);
    expect(contents[1]?.parts[0]?.text).toBe("Sure! Here is the triage.");
    expect(contents[2]?.parts[0]?.text).toContain(result.reasks[0]);
  });

  it("classifies Gemini's 400 API_KEY_INVALID as auth", async () => {
    scriptReplies([{ status: 400, body: loadFixture("gemini-error-400-api-key.json") }]);

    const error = await failure(client().generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("auth");
    expect(error.details.status).toBe(400);
  });

  it("classifies 429 as rate_limit with the RetryInfo delay", async () => {
    scriptReplies([{ status: 429, body: loadFixture("gemini-error-429.json") }]);

    const error = await failure(client().generate({ name: "Triage", schema: Triage, messages }));

    expect(error).toBeInstanceOf(RateLimitError);
    expect(error instanceof RateLimitError && error.retryAfterMs).toBe(37_000);
  });

  it("classifies 500 as server", async () => {
    scriptReplies([{ status: 500, body: loadFixture("gemini-error-500.json") }]);

    const error = await failure(client().generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("server");
  });

  it("aborts a hung call at the timeout and classifies it as timeout", async () => {
    nock(BASE)
      .post(PATH)
      .delay(10_000)
      .reply(200, geminiReply(JSON.stringify(valid)));

    const error = await failure(client(150).generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("timeout");
  });

  it("fails with invalid_output after three blocked replies", async () => {
    const blocked = { promptFeedback: { blockReason: "SAFETY" }, usageMetadata: { promptTokenCount: 10, totalTokenCount: 10 } };
    scriptReplies([
      { status: 200, body: blocked },
      { status: 200, body: blocked },
      { status: 200, body: blocked },
    ]);

    const error = await failure(client().generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("invalid_output");
    expect(error.details.attempts).toBe(3);
    expect(error.details.reasks?.[0]).toMatch(/blocked \(SAFETY\)/);
  });
});
