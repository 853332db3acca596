// The action protocol for models without native tools, through the real SDKs with nock: one action per turn
// as structured output, the conversation rendered as plain chat, an invalid action re-asked by the
// structured loop, and the action's arguments validated like a native call's.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { actionInstructions } from "../../src/models/action-protocol.js";
import { createModelClient } from "../../src/models/providers/index.js";
import {
  geminiReply,
  ollamaReply,
  openAIReply,
  TEST_NOW,
  testPrices,
  OPENAI_BASE as OPENAI,
  OLLAMA_HOST as OLLAMA,
  GEMINI_BASE as GEMINI,
  openAIClient as openai,
  ollamaClient as ollama,
  scriptPosts,
} from "./provider-fixtures.js";
import { request, tools } from "./tool-calling-fixtures.js";

const Body = z.object({ messages: z.array(z.object({ role: z.string(), content: z.string() })) }).loose();
type Body = z.infer<typeof Body>;

function script(base: string, path: string, replies: unknown[]): Body[] {
  return scriptPosts(
    nock(base),
    path,
    (body) => Body.parse(body),
    replies.map((body) => ({ status: 200, body })),
  ).bodies;
}

const action = (tool: string, args: string, thought = "Read the login code.") => JSON.stringify({ thought, tool, arguments_json: args });

/** The fixture conversation as plain chat: the protocol after the system prompt, actions as JSON, results as user messages. */
const rendered = [
  { role: "system", content: "You fix issues in this repository with the tools." },
  { role: "system", content: actionInstructions(tools) },
  { role: "user", content: "Login fails when the e-mail has a plus sign." },
  {
    role: "assistant",
    content: [
      JSON.stringify({ thought: "Looking for the e-mail check.", tool: "search", arguments_json: '{"pattern":"isValidEmail"}' }),
      JSON.stringify({ thought: "Looking for the e-mail check.", tool: "read_file", arguments_json: '{"path":"src/auth.ts","start_line":null}' }),
    ].join("\n"),
  },
  { role: "user", content: "Result of search (call call_s1):\nsrc/auth.ts:12: export function isValidEmail(e: string)" },
  { role: "user", content: "Result of read_file (call call_r1):\n12 export function isValidEmail(e: string) {\n13   return /^[a-z.]+@/.test(e);\n14 }" },
];

describe("action protocol", () => {
  it("openai: asks for one action with the tool names as an enum and returns it as one validated call", async () => {
    const bodies = script(OPENAI, "/v1/chat/completions", [openAIReply(action("read_file", '{"path":"src/login.ts"}'))]);

    const result = await openai().turn(request({ protocol: "actions" }));

    expect(bodies).toHaveLength(1);
    expect(bodies[0]?.tools).toBeUndefined();
    expect(bodies[0]?.messages).toEqual(rendered);
    expect(bodies[0]?.response_format).toEqual({
      type: "json_schema",
      json_schema: {
        name: "AgentAction",
        strict: true,
        schema: {
          type: "object",
          properties: {
            thought: { type: "string", description: "Your reasoning for this step, briefly." },
            tool: { type: "string", enum: ["read_file", "search"], description: "The name of the one tool to call now." },
            arguments_json: { type: "string", description: "The tool's arguments: one JSON object matching its schema, written as a string." },
          },
          required: ["thought", "tool", "arguments_json"],
          additionalProperties: false,
        },
      },
    });
    expect(result.text).toBe("Read the login code.");
    expect(result.toolCalls).toEqual([{ id: "call_1_0", name: "read_file", rawArguments: '{"path":"src/login.ts"}', arguments: { path: "src/login.ts" } }]);
    expect(result.attempts).toBe(1);
    expect(result.usage).toEqual({ input: 176, cachedInput: 1024, output: 80 });
  });

  it("openai: re-asks an action naming no tool there is, then takes the corrected one", async () => {
    const bodies = script(OPENAI, "/v1/chat/completions", [
      openAIReply(action("run_shell", '{"cmd":"ls"}')),
      openAIReply(action("search", '{"pattern":"plus"}')),
    ]);

    const result = await openai().turn(request({ protocol: "actions" }));

    expect(bodies).toHaveLength(2);
    const reask = bodies[1]?.messages.at(-1)?.content ?? "";
    expect(reask).toContain("Your previous reply was not a valid AgentAction.");
    expect(reask).toMatch(/- tool: .*"read_file"\|"search"/);
    expect(result.attempts).toBe(2);
    expect(result.toolCalls).toEqual([{ id: "call_1_0", name: "search", rawArguments: '{"pattern":"plus"}', arguments: { pattern: "plus" } }]);
  });

  it("openai: hands malformed arguments_json back as an argumentError, without a re-ask", async () => {
    script(OPENAI, "/v1/chat/completions", [openAIReply(action("read_file", '{"path": '))]);

    const result = await openai().turn(request({ protocol: "actions" }));

    expect(result.attempts).toBe(1);
    expect(result.toolCalls[0]?.argumentError).toMatch(/^The arguments of read_file are not valid JSON/);
  });

  it("ollama: sends the action schema as format and returns the action", async () => {
    const bodies = script(OLLAMA, "/api/chat", [ollamaReply(action("search", '{"pattern":"\\\\+"}', "Find the regex."))]);

    const result = await ollama().turn(request({ protocol: "actions" }));

    expect(bodies[0]?.messages).toEqual(rendered);
    expect(bodies[0]?.tools).toBeUndefined();
    expect(bodies[0]?.format).toMatchObject({ properties: { tool: { enum: ["read_file", "search"] } } });
    expect(result.text).toBe("Find the regex.");
    expect(result.toolCalls).toEqual([{ id: "call_1_0", name: "search", rawArguments: '{"pattern":"\\\\+"}', arguments: { pattern: "\\+" } }]);
  });

  it("ollama: re-asks a reply that is not JSON, then takes the action", async () => {
    const bodies = script(OLLAMA, "/api/chat", [ollamaReply("I will read the file now."), ollamaReply(action("read_file", '{"path":"src/auth.ts"}'))]);

    const result = await ollama().turn(request({ protocol: "actions" }));

    expect(bodies).toHaveLength(2);
    expect(bodies[1]?.messages.at(-2)).toEqual({ role: "assistant", content: "I will read the file now." });
    expect(bodies[1]?.messages.at(-1)?.content).toContain("the reply is not valid JSON");
    expect(result.attempts).toBe(2);
    expect(result.toolCalls[0]?.arguments).toEqual({ path: "src/auth.ts" });
  });

  it("gemini: the action schema is a response schema Gemini takes, with the tools as a string enum", async () => {
    const bodies: unknown[] = [];
    nock(GEMINI)
      .post("/v1beta/models/gemini-2.5-flash:generateContent", (body: unknown) => {
        bodies.push(body);
        return true;
      })
      .reply(200, JSON.stringify(geminiReply(action("search", '{"pattern":"x"}'))), { "content-type": "application/json" });
    const gemini = createModelClient(
      { id: "gemini-flash", provider: "gemini", model: "gemini-2.5-flash" },
      { GEMINI_API_KEY: "gm-test", GEMINI_BASE_URL: GEMINI },
      { prices: testPrices(), now: () => TEST_NOW },
    );

    const result = await gemini.turn(request({ protocol: "actions" }));

    expect(bodies[0]).toMatchObject({
      generationConfig: {
        responseMimeType: "application/json",
        responseSchema: { properties: { tool: { type: "string", format: "enum", enum: ["read_file", "search"] } } },
      },
    });
    expect(result.toolCalls[0]?.arguments).toEqual({ pattern: "x" });
  });
});
