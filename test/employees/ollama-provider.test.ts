// The Ollama provider through the real `ollama` SDK, with only HTTP faked by nock.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createModelClient } from "../../src/models/providers/index.js";
import {
  closedPort,
  loadFixture,
  ollamaReply,
  TEST_NOW,
  testPrices,
  modelCallFailure as failure,
  scriptPosts,
  triageMessages as messages,
  Triage,
  type ScriptedReply,
  OLLAMA_HOST as HOST,
  ollamaClient as client,
} from "./provider-fixtures.js";

const valid = { summary: "Login broken on Safari", severity: "high", labels: ["bug"], owner: "mona" };

const ChatRequestBody = z.object({
  model: z.string(),
  messages: z.array(z.object({ role: z.string(), content: z.string() })),
  format: z.unknown(),
  stream: z.boolean(),
  options: z.record(z.string(), z.unknown()),
});
type ChatRequestBody = z.infer<typeof ChatRequestBody>;

function scriptReplies(replies: ScriptedReply[]) {
  return scriptPosts(nock(HOST), "/api/chat", (body) => ChatRequestBody.parse(body), replies);
}

describe("ollama provider", () => {
  it("sends the model, the messages and the strict schema as format, without streaming", async () => {
    const { bodies } = scriptReplies([{ status: 200, body: ollamaReply(JSON.stringify(valid)) }]);

    const result = await client().generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: 512 });

    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.model).toBe("qwen2.5-coder:7b");
    expect(bodies[0]?.messages).toEqual(messages);
    expect(bodies[0]?.stream).toBe(false);
    expect(bodies[0]?.options).toEqual({ num_predict: 512 });
    expect(bodies[0]?.format).toEqual({
      type: "object",
      properties: {
        summary: { type: "string", description: "(at least 1 character)" },
        severity: { type: "string", enum: ["low", "high"] },
        labels: { type: "array", items: { type: "string" }, maxItems: 3 },
        owner: { type: ["string", "null"] },
      },
      required: ["summary", "severity", "labels", "owner"],
      additionalProperties: false,
    });
    expect(result.value).toEqual(valid);
  });

  it("reports prompt_eval_count and eval_count as usage at zero cost", async () => {
    scriptReplies([{ status: 200, body: ollamaReply(JSON.stringify(valid)) }]);

    const result = await client().generate({ name: "Triage", schema: Triage, messages });

    // Fixture: prompt_eval_count 34, eval_count 12.
    expect(result.usage).toEqual({ input: 34, cachedInput: 0, output: 12 });
    expect(result.costUsd).toBe(0);
  });

  it("re-asks once after an invalid reply and succeeds", async () => {
    const { bodies } = scriptReplies([
      { status: 200, body: ollamaReply(JSON.stringify({ ...valid, labels: ["a", "b", "c", "d"] })) },
      { status: 200, body: ollamaReply(JSON.stringify(valid)) },
    ]);

    const result = await client().generate({ name: "Triage", schema: Triage, messages });

    expect(result.attempts).toBe(2);
    expect(result.reasks[0]).toMatch(/^- labels: /);
    expect(bodies[1]?.messages.at(-1)?.content).toContain(result.reasks[0]);
  });

  it("classifies a missing model (404) as bad_request with a pull hint", async () => {
    scriptReplies([{ status: 404, body: loadFixture("ollama-error-404.json") }]);

    const error = await failure(client().generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("bad_request");
    expect(error.message).toContain("ollama pull");
  });

  it("classifies 500 as server", async () => {
    scriptReplies([{ status: 500, body: { error: "llama runner process has terminated: signal: killed" } }]);

    const error = await failure(client().generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("server");
    expect(error.details.status).toBe(500);
  });

  it("aborts a hung call at the timeout and classifies it as timeout", async () => {
    nock(HOST)
      .post("/api/chat")
      .delay(10_000)
      .reply(200, ollamaReply(JSON.stringify(valid)));

    const error = await failure(client(150).generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("timeout");
  });

  it("classifies a refused connection to the local default port as server", async () => {
    const unreachable = createModelClient(
      { id: "local-coder", provider: "ollama", model: "qwen2.5-coder:7b" },
      { OLLAMA_HOST: `http://127.0.0.1:${await closedPort()}` },
      { prices: testPrices(), now: () => TEST_NOW },
    );

    const error = await failure(unreachable.generate({ name: "Triage", schema: Triage, messages }));

    expect(error.kind).toBe("server");
    expect(error.message).toContain("ECONNREFUSED");
  });
});
