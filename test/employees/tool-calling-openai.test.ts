// Native tool calling through the real `openai` SDK, with only HTTP faked by nock: tools as strict function
// schemas, earlier calls and answers in OpenAI's shape, and every bad call handed back as `argumentError`.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ModelCallError, OutputAllowanceTooSmall } from "../../src/models/model-client.js";
import { RateLimitError } from "../../src/models/structured-output.js";
import { turnPromptTokenBound } from "../../src/models/tool-turn.js";
import { loadFixture, OPENAI_BASE as BASE, openAIClient as client, rejection, scriptPosts, type ScriptedReply } from "./provider-fixtures.js";
import { openAIToolReply, request } from "./tool-calling-fixtures.js";

const Body = z.record(z.string(), z.unknown());
type Body = z.infer<typeof Body>;

function scriptReplies(replies: ScriptedReply[]) {
  return scriptPosts(nock(BASE), "/v1/chat/completions", (body) => Body.parse(body), replies);
}

describe("openai tool calling", () => {
  it("sends the tools as strict functions and the earlier calls and answers, and returns two validated calls", async () => {
    const { bodies } = scriptReplies([
      {
        status: 200,
        body: openAIToolReply([
          { id: "call_r2", name: "read_file", arguments: '{"path":"src/login.ts","start_line":40}' },
          { id: "call_s2", name: "search", arguments: '{"pattern":"\\\\+"}' },
        ]),
      },
    ]);

    const result = await client().turn(request());

    expect(bodies).toHaveLength(1);
    const body = bodies[0] ?? {};
    expect(body.tool_choice).toBe("auto");
    expect(body.parallel_tool_calls).toBe(true);
    expect(body.tools).toEqual([
      {
        type: "function",
        function: {
          name: "read_file",
          description: "Read a file of the repository with line numbers.",
          strict: true,
          parameters: {
            type: "object",
            properties: {
              path: { type: "string", description: "(at least 1 character)" },
              start_line: { type: ["integer", "null"], minimum: 1 },
            },
            required: ["path", "start_line"],
            additionalProperties: false,
          },
        },
      },
      {
        type: "function",
        function: {
          name: "search",
          description: "Search the tree for a regular expression.",
          strict: true,
          parameters: {
            type: "object",
            properties: { pattern: { type: "string", description: "(at least 1 character)" } },
            required: ["pattern"],
            additionalProperties: false,
          },
        },
      },
    ]);
    expect(body.messages).toEqual([
      { role: "system", content: "You fix issues in this repository with the tools." },
      { role: "user", content: "Login fails when the e-mail has a plus sign." },
      {
        role: "assistant",
        content: "Looking for the e-mail check.",
        tool_calls: [
          { id: "call_s1", type: "function", function: { name: "search", arguments: '{"pattern":"isValidEmail"}' } },
          { id: "call_r1", type: "function", function: { name: "read_file", arguments: '{"path":"src/auth.ts","start_line":null}' } },
        ],
      },
      { role: "tool", tool_call_id: "call_s1", content: "src/auth.ts:12: export function isValidEmail(e: string)" },
      { role: "tool", tool_call_id: "call_r1", content: "12 export function isValidEmail(e: string) {\n13   return /^[a-z.]+@/.test(e);\n14 }" },
    ]);
    expect(result.toolCalls).toEqual([
      { id: "call_r2", name: "read_file", rawArguments: '{"path":"src/login.ts","start_line":40}', arguments: { path: "src/login.ts", start_line: 40 } },
      { id: "call_s2", name: "search", rawArguments: '{"pattern":"\\\\+"}', arguments: { pattern: "\\+" } },
    ]);
    expect(result.text).toBe("");
    expect(result.finishReason).toBe("tool_calls");
    expect(result.provider).toBe("openai");
    expect(result.model).toBe("gpt-4.1");
  });

  it("maps a null the model wrote for an optional argument to an absent one", async () => {
    scriptReplies([{ status: 200, body: openAIToolReply([{ id: "call_1", name: "read_file", arguments: '{"path":"a.ts","start_line":null}' }]) }]);

    const result = await client().turn(request());

    expect(result.toolCalls[0]?.arguments).toEqual({ path: "a.ts" });
  });

  it("returns a text-only final turn with no tool calls", async () => {
    scriptReplies([{ status: 200, body: openAIToolReply([], "The fix is in src/auth.ts.") }]);

    const result = await client().turn(request());

    expect(result.toolCalls).toEqual([]);
    expect(result.text).toBe("The fix is in src/auth.ts.");
    expect(result.finishReason).toBe("stop");
  });

  it("hands malformed argument JSON back as an argumentError instead of throwing", async () => {
    scriptReplies([{ status: 200, body: openAIToolReply([{ id: "call_1", name: "read_file", arguments: '{"path": "src/a.ts"' }]) }]);

    const result = await client().turn(request());

    const call = result.toolCalls[0];
    expect(call?.arguments).toBeUndefined();
    expect(call?.rawArguments).toBe('{"path": "src/a.ts"');
    expect(call?.argumentError).toMatch(/^The arguments of read_file are not valid JSON \(.+\)\. Send them as one JSON object/);
  });

  it("lists each schema problem with its path when the arguments do not match", async () => {
    scriptReplies([{ status: 200, body: openAIToolReply([{ id: "call_1", name: "read_file", arguments: '{"path":"","start_line":0}' }]) }]);

    const result = await client().turn(request());

    const error = result.toolCalls[0]?.argumentError ?? "";
    expect(result.toolCalls[0]?.arguments).toBeUndefined();
    expect(error).toContain("The arguments of read_file do not match its schema:");
    expect(error).toMatch(/^- path: .*>=1 characters/m);
    expect(error).toMatch(/^- start_line: .*>=1/m);
  });

  it("answers a call to an unknown tool with the names of the tools that exist", async () => {
    scriptReplies([{ status: 200, body: openAIToolReply([{ id: "call_1", name: "run_shell", arguments: '{"cmd":"ls"}' }]) }]);

    const result = await client().turn(request());

    expect(result.toolCalls[0]).toEqual({
      id: "call_1",
      name: "run_shell",
      rawArguments: '{"cmd":"ls"}',
      argumentError: 'There is no tool named "run_shell". The tools are: read_file, search. Call one of them by its exact name.',
    });
  });

  it("normalises usage with cached tokens apart and prices the turn", async () => {
    scriptReplies([{ status: 200, body: openAIToolReply([{ id: "call_1", name: "search", arguments: '{"pattern":"x"}' }]) }]);

    const result = await client().turn(request());

    // Fixture: prompt_tokens 1500 of which cached_tokens 1024, completion_tokens 60.
    expect(result.usage).toEqual({ input: 476, cachedInput: 1024, output: 60 });
    expect(result.costUsd).toBeCloseTo((476 * 2 + 1024 * 0.5 + 60 * 8) / 1e6, 12);
    expect(result.attempts).toBe(1);
  });

  it("classifies a 429 as rate_limit with the retry-after hint after one request", async () => {
    const { bodies } = scriptReplies([{ status: 429, body: loadFixture("openai-error-429.json"), headers: { "retry-after": "7" } }]);

    const error = await rejection(client().turn(request()));

    expect(error).toBeInstanceOf(RateLimitError);
    expect(error instanceof RateLimitError && error.retryAfterMs).toBe(7000);
    expect(error instanceof ModelCallError && error.details.status).toBe(429);
    expect(bodies).toHaveLength(1);
  });

  it("classifies a 500 as a server failure", async () => {
    scriptReplies([{ status: 500, body: loadFixture("openai-error-500.json") }]);

    const error = await rejection(client().turn(request()));

    expect(error instanceof ModelCallError && error.kind).toBe("server");
    expect(error instanceof ModelCallError && error.isProviderFailure).toBe(true);
  });

  it("cuts the output limit so the turn's prompt bound plus the longest reply fits the dollars reserved", async () => {
    const { bodies } = scriptReplies([{ status: 200, body: openAIToolReply([{ id: "call_1", name: "search", arguments: '{"pattern":"x"}' }]) }]);
    const promptTokens = turnPromptTokenBound(request());
    // Room for the prompt at $2/M and exactly 500 output tokens at $8/M.
    const maxCostUsd = (promptTokens * 2 + 500 * 8) / 1e6;

    await client().turn(request({ maxCostUsd, maxOutputTokens: 4000 }));

    expect(bodies[0]?.max_tokens).toBe(500);
  });

  it("fails as a budget stop, with what the turn cost, when the reply is cut off at a limit the reservation lowered", async () => {
    const reply = openAIToolReply([{ id: "call_1", name: "read_file", arguments: '{"path": "src/' }]);
    const choices = z.array(z.record(z.string(), z.unknown())).parse(reply.choices);
    const withLength = {
      ...reply,
      choices: choices.map((choice) => ({ ...choice, finish_reason: "length" })),
      usage: { prompt_tokens: 900, completion_tokens: 500 },
    };
    scriptReplies([{ status: 200, body: withLength }]);
    const maxCostUsd = (turnPromptTokenBound(request()) * 2 + 500 * 8) / 1e6;

    const error = await rejection(client().turn(request({ maxCostUsd, maxOutputTokens: 4000 })));

    expect(error instanceof OutputAllowanceTooSmall && error.details.reason).toBe("truncated");
    expect(error instanceof OutputAllowanceTooSmall && error.details.usage).toEqual({ input: 900, cachedInput: 0, output: 500 });
    expect(error instanceof OutputAllowanceTooSmall && error.details.costUsd).toBeCloseTo((900 * 2 + 500 * 8) / 1e6, 12);
  });

  it("stops waiting at the turn's timeout and classifies it as timeout", async () => {
    nock(BASE).post("/v1/chat/completions").delay(10_000).reply(200, openAIToolReply([]));

    const error = await rejection(client().turn(request({ timeoutMs: 150 })));

    expect(error instanceof ModelCallError && error.kind).toBe("timeout");
    expect(error instanceof Error && error.message).toBe("openai gpt-4.1 did not answer within 150 ms");
  });

  it("refuses a turn whose reservation cannot pay for the prompt and a minimal reply, without calling", async () => {
    const promptTokens = turnPromptTokenBound(request());

    const error = await rejection(client().turn(request({ maxCostUsd: (promptTokens * 2) / 1e6, maxOutputTokens: 4000 })));

    expect(error).toBeInstanceOf(OutputAllowanceTooSmall);
    expect(error instanceof OutputAllowanceTooSmall && error.details.reason).toBe("prompt");
    expect(error instanceof OutputAllowanceTooSmall && error.details.attempts).toBe(0);
    expect(error instanceof Error && error.message).toContain("The call to openai gpt-4.1 was not made");
  });
});
