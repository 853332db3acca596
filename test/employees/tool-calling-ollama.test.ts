// Native tool calling through the real `ollama` SDK, with only HTTP faked by nock: `tools` out,
// message.tool_calls with object arguments in, and `tool` messages naming the tool back.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ModelCallError } from "../../src/models/model-client.js";
import { RateLimitError } from "../../src/models/structured-output.js";
import { loadFixture, OLLAMA_HOST as HOST, ollamaClient as client, rejection, scriptPosts, type ScriptedReply } from "./provider-fixtures.js";
import { ollamaToolReply, request } from "./tool-calling-fixtures.js";

const Body = z.record(z.string(), z.unknown());
type Body = z.infer<typeof Body>;

function scriptReplies(replies: ScriptedReply[]) {
  return scriptPosts(nock(HOST), "/api/chat", (body) => Body.parse(body), replies);
}

describe("ollama tool calling", () => {
  it("sends the tools and the earlier calls and answers, and returns two validated calls with stable ids", async () => {
    const { bodies } = scriptReplies([
      {
        status: 200,
        body: ollamaToolReply([
          { name: "read_file", arguments: { path: "src/login.ts", start_line: 40 } },
          { name: "search", arguments: { pattern: "\\+" } },
        ]),
      },
    ]);

    const result = await client().turn(request({ maxOutputTokens: 800 }));

    const body = bodies[0] ?? {};
    expect(body.model).toBe("qwen2.5-coder:7b");
    expect(body.stream).toBe(false);
    expect(body.options).toEqual({ num_predict: 800 });
    expect(body.tools).toEqual([
      {
        type: "function",
        function: {
          name: "read_file",
          description: "Read a file of the repository with line numbers.",
          parameters: {
            type: "object",
            properties: { path: { type: "string", description: "(at least 1 character)" }, start_line: { type: ["integer", "null"], minimum: 1 } },
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
          { function: { name: "search", arguments: { pattern: "isValidEmail" } } },
          { function: { name: "read_file", arguments: { path: "src/auth.ts" } } },
        ],
      },
      { role: "tool", tool_name: "search", content: "src/auth.ts:12: export function isValidEmail(e: string)" },
      { role: "tool", tool_name: "read_file", content: "12 export function isValidEmail(e: string) {\n13   return /^[a-z.]+@/.test(e);\n14 }" },
    ]);
    expect(result.toolCalls).toEqual([
      { id: "call_1_0", name: "read_file", rawArguments: '{"path":"src/login.ts","start_line":40}', arguments: { path: "src/login.ts", start_line: 40 } },
      { id: "call_1_1", name: "search", rawArguments: '{"pattern":"\\\\+"}', arguments: { pattern: "\\+" } },
    ]);
  });

  it("keeps the call id a recent Ollama gives", async () => {
    scriptReplies([{ status: 200, body: ollamaToolReply([{ id: "call_x7", name: "search", arguments: { pattern: "a" } }]) }]);

    const result = await client().turn(request());

    expect(result.toolCalls[0]?.id).toBe("call_x7");
  });

  it("returns a text-only final turn with no tool calls", async () => {
    scriptReplies([{ status: 200, body: ollamaToolReply([], "The fix is in src/auth.ts.") }]);

    const result = await client().turn(request());

    expect(result.toolCalls).toEqual([]);
    expect(result.text).toBe("The fix is in src/auth.ts.");
    expect(result.finishReason).toBe("stop");
  });

  it("hands arguments sent as malformed JSON text back as an argumentError", async () => {
    scriptReplies([{ status: 200, body: ollamaToolReply([{ name: "read_file", arguments: '{"path": "a.ts",' }]) }]);

    const result = await client().turn(request());

    expect(result.toolCalls[0]?.arguments).toBeUndefined();
    expect(result.toolCalls[0]?.rawArguments).toBe('{"path": "a.ts",');
    expect(result.toolCalls[0]?.argumentError).toMatch(/^The arguments of read_file are not valid JSON/);
  });

  it("lists each schema problem with its path when the arguments do not match", async () => {
    scriptReplies([{ status: 200, body: ollamaToolReply([{ name: "read_file", arguments: { path: "a.ts", start_line: "ten" } }]) }]);

    const result = await client().turn(request());

    expect(result.toolCalls[0]?.argumentError).toMatch(/^- start_line: .*expected number/m);
  });

  it("answers a call to an unknown tool with the names of the tools that exist", async () => {
    scriptReplies([{ status: 200, body: ollamaToolReply([{ name: "shell", arguments: { cmd: "ls" } }]) }]);

    const result = await client().turn(request());

    expect(result.toolCalls[0]?.argumentError).toBe('There is no tool named "shell". The tools are: read_file, search. Call one of them by its exact name.');
  });

  it("normalises usage and prices the local model at nothing", async () => {
    scriptReplies([{ status: 200, body: ollamaToolReply([{ name: "search", arguments: { pattern: "x" } }]) }]);

    const result = await client().turn(request());

    // Fixture: prompt_eval_count 122, eval_count 33.
    expect(result.usage).toEqual({ input: 122, cachedInput: 0, output: 33 });
    expect(result.costUsd).toBe(0);
  });

  it("classifies a 429 as rate_limit with the retry-after hint", async () => {
    scriptReplies([{ status: 429, body: { error: "server busy, please try again" }, headers: { "retry-after": "3" } }]);

    const error = await rejection(client().turn(request()));

    expect(error).toBeInstanceOf(RateLimitError);
    expect(error instanceof RateLimitError && error.retryAfterMs).toBe(3000);
  });

  it("classifies a 500 as a server failure", async () => {
    scriptReplies([{ status: 500, body: { error: "llama runner process has terminated" } }]);

    const error = await rejection(client().turn(request()));

    expect(error instanceof ModelCallError && error.kind).toBe("server");
    expect(error instanceof ModelCallError && error.message).toContain("llama runner process has terminated");
  });

  it("says to pull the model when Ollama does not have it", async () => {
    scriptReplies([{ status: 404, body: loadFixture("ollama-error-404.json") }]);

    const error = await rejection(client().turn(request()));

    expect(error instanceof ModelCallError && error.kind).toBe("bad_request");
    expect(error instanceof ModelCallError && error.message).toContain("ollama pull");
  });
});
