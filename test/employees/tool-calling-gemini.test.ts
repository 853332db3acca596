// Native tool calling through the real `@google/generative-ai` SDK, with only HTTP faked by nock: function
// declarations out, functionCall parts in (with made-up stable ids), functionResponse parts back.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ModelCallError } from "../../src/models/model-client.js";
import { RateLimitError } from "../../src/models/structured-output.js";
import type { AgentMessage } from "../../src/models/tool-calling.js";
import { loadFixture, GEMINI_BASE as BASE, geminiClient as client, rejection, scriptPosts, type ScriptedReply } from "./provider-fixtures.js";
import { conversation, geminiToolReply, request } from "./tool-calling-fixtures.js";

const PATH = "/v1beta/models/gemini-2.5-flash:generateContent";

const Body = z.record(z.string(), z.unknown());
type Body = z.infer<typeof Body>;

function scriptReplies(replies: ScriptedReply[]) {
  return scriptPosts(nock(BASE).matchHeader("x-goog-api-key", "gm-test"), PATH, (body) => Body.parse(body), replies);
}

describe("gemini tool calling", () => {
  it("declares the functions, sends earlier calls and their answers as parts, and returns two calls with stable ids", async () => {
    const { bodies } = scriptReplies([
      {
        status: 200,
        body: geminiToolReply([
          { name: "read_file", args: { path: "src/login.ts", start_line: 40 }, thoughtSignature: "sig-1" },
          { name: "search", args: { pattern: "\\+" } },
        ]),
      },
    ]);

    const result = await client().turn(request({ temperature: 0 }));

    const body = bodies[0] ?? {};
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: "read_file",
            description: "Read a file of the repository with line numbers.",
            parameters: {
              type: "object",
              properties: { path: { type: "string", description: "(at least 1 character)" }, start_line: { type: "integer", nullable: true } },
              required: ["path", "start_line"],
            },
          },
          {
            name: "search",
            description: "Search the tree for a regular expression.",
            parameters: { type: "object", properties: { pattern: { type: "string", description: "(at least 1 character)" } }, required: ["pattern"] },
          },
        ],
      },
    ]);
    expect(body.toolConfig).toEqual({ functionCallingConfig: { mode: "AUTO" } });
    expect(body.generationConfig).toEqual({ temperature: 0 });
    expect(body.systemInstruction).toEqual({ role: "system", parts: [{ text: "You fix issues in this repository with the tools." }] });
    expect(body.contents).toEqual([
      { role: "user", parts: [{ text: "Login fails when the e-mail has a plus sign." }] },
      {
        role: "model",
        parts: [
          { text: "Looking for the e-mail check." },
          { functionCall: { name: "search", args: { pattern: "isValidEmail" } } },
          { functionCall: { name: "read_file", args: { path: "src/auth.ts" } } },
        ],
      },
      {
        role: "user",
        parts: [
          { functionResponse: { name: "search", response: { content: "src/auth.ts:12: export function isValidEmail(e: string)" } } },
          {
            functionResponse: {
              name: "read_file",
              response: { content: "12 export function isValidEmail(e: string) {\n13   return /^[a-z.]+@/.test(e);\n14 }" },
            },
          },
        ],
      },
    ]);
    // One model turn came before, so this is turn 1.
    expect(result.toolCalls).toEqual([
      {
        id: "call_1_0",
        name: "read_file",
        rawArguments: '{"path":"src/login.ts","start_line":40}',
        arguments: { path: "src/login.ts", start_line: 40 },
        thoughtSignature: "sig-1",
      },
      { id: "call_1_1", name: "search", rawArguments: '{"pattern":"\\\\+"}', arguments: { pattern: "\\+" } },
    ]);
    expect(result.finishReason).toBe("STOP");
  });

  it("sends a call's thought signature back with it on the next turn", async () => {
    const { bodies } = scriptReplies([{ status: 200, body: geminiToolReply([], "Done.") }]);
    const messages: AgentMessage[] = [
      ...conversation.slice(0, 2),
      {
        role: "assistant",
        content: "",
        toolCalls: [{ id: "call_0_0", name: "search", rawArguments: '{"pattern":"x"}', arguments: { pattern: "x" }, thoughtSignature: "sig-9" }],
      },
      { role: "tool", callId: "call_0_0", name: "search", content: "no matches" },
    ];

    await client().turn(request({ messages }));

    const contents = z.array(z.unknown()).parse(bodies[0]?.contents);
    expect(contents[1]).toEqual({ role: "model", parts: [{ functionCall: { name: "search", args: { pattern: "x" } }, thoughtSignature: "sig-9" }] });
  });

  it("returns a text-only final turn with no tool calls", async () => {
    scriptReplies([{ status: 200, body: geminiToolReply([], "The fix is in src/auth.ts.") }]);

    const result = await client().turn(request());

    expect(result.toolCalls).toEqual([]);
    expect(result.text).toBe("The fix is in src/auth.ts.");
    expect(result.refusal).toBeUndefined();
  });

  it("reports a call Gemini could not parse (MALFORMED_FUNCTION_CALL) as a refusal with no calls", async () => {
    const reply = { ...geminiToolReply([]), candidates: [{ content: { role: "model", parts: [] }, finishReason: "MALFORMED_FUNCTION_CALL", index: 0 }] };
    scriptReplies([{ status: 200, body: reply }]);

    const result = await client().turn(request());

    expect(result.toolCalls).toEqual([]);
    expect(result.refusal).toBe("no answer (finish reason MALFORMED_FUNCTION_CALL)");
  });

  it("hands arguments that are no JSON object back as an argumentError", async () => {
    scriptReplies([{ status: 200, body: geminiToolReply([{ name: "search", args: '{"pattern": ' }]) }]);

    const result = await client().turn(request());

    expect(result.toolCalls[0]?.arguments).toBeUndefined();
    expect(result.toolCalls[0]?.argumentError).toMatch(/^The arguments of search are not valid JSON/);
  });

  it("lists each schema problem with its path when the arguments do not match", async () => {
    scriptReplies([{ status: 200, body: geminiToolReply([{ name: "read_file", args: { path: 7 } }]) }]);

    const result = await client().turn(request());

    expect(result.toolCalls[0]?.argumentError).toMatch(/^- path: .*expected string/m);
    expect(result.toolCalls[0]?.arguments).toBeUndefined();
  });

  it("answers a call to an unknown tool with the names of the tools that exist", async () => {
    scriptReplies([{ status: 200, body: geminiToolReply([{ name: "delete_repo", args: {} }]) }]);

    const result = await client().turn(request());

    expect(result.toolCalls[0]?.argumentError).toBe(
      'There is no tool named "delete_repo". The tools are: read_file, search. Call one of them by its exact name.',
    );
  });

  it("normalises usage (cached apart, thinking as output) and prices the turn", async () => {
    scriptReplies([{ status: 200, body: geminiToolReply([{ name: "search", args: { pattern: "x" } }]) }]);

    const result = await client().turn(request());

    // Fixture: promptTokenCount 2400 of which 1600 cached; 50 candidate and 30 thinking tokens.
    expect(result.usage).toEqual({ input: 800, cachedInput: 1600, output: 80 });
    expect(result.costUsd).toBeCloseTo((800 * 0.3 + 1600 * 0.075 + 80 * 2.5) / 1e6, 12);
  });

  it("classifies a 429 as rate_limit with the RetryInfo delay", async () => {
    scriptReplies([{ status: 429, body: loadFixture("gemini-error-429.json") }]);

    const error = await rejection(client().turn(request()));

    expect(error).toBeInstanceOf(RateLimitError);
    expect(error instanceof RateLimitError && error.retryAfterMs).toBe(37_000);
  });

  it("classifies a 500 as a server failure", async () => {
    scriptReplies([{ status: 500, body: loadFixture("gemini-error-500.json") }]);

    const error = await rejection(client().turn(request()));

    expect(error instanceof ModelCallError && error.kind).toBe("server");
    expect(error instanceof ModelCallError && error.details.status).toBe(500);
  });
});
