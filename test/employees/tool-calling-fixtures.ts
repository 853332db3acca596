// Shared pieces of the tool-calling tests: a small toolbox's specs, a conversation with one earlier turn of two
// tool calls and their answers, and the provider replies carrying tool calls (fixtures named in `_source`).
import { z } from "zod";
import type { AgentMessage, ToolSpec, ToolTurnRequest } from "../../src/models/tool-calling.js";
import { loadFixture } from "./provider-fixtures.js";

export const tools: ToolSpec[] = [
  {
    name: "read_file",
    description: "Read a file of the repository with line numbers.",
    parameters: z.object({ path: z.string().min(1), start_line: z.number().int().min(1).optional() }),
  },
  {
    name: "search",
    description: "Search the tree for a regular expression.",
    parameters: z.object({ pattern: z.string().min(1) }),
  },
];

/** The task, and the model's first turn: two tool calls, each answered. */
export const conversation: AgentMessage[] = [
  { role: "system", content: "You fix issues in this repository with the tools." },
  { role: "user", content: "Login fails when the e-mail has a plus sign." },
  {
    role: "assistant",
    content: "Looking for the e-mail check.",
    toolCalls: [
      { id: "call_s1", name: "search", rawArguments: '{"pattern":"isValidEmail"}', arguments: { pattern: "isValidEmail" } },
      { id: "call_r1", name: "read_file", rawArguments: '{"path":"src/auth.ts","start_line":null}', arguments: { path: "src/auth.ts" } },
    ],
  },
  { role: "tool", callId: "call_s1", name: "search", content: "src/auth.ts:12: export function isValidEmail(e: string)" },
  { role: "tool", callId: "call_r1", name: "read_file", content: "12 export function isValidEmail(e: string) {\n13   return /^[a-z.]+@/.test(e);\n14 }" },
];

export function request(overrides: Partial<ToolTurnRequest> = {}): ToolTurnRequest {
  return { messages: conversation, tools, protocol: "native", ...overrides };
}

/** A chat completion whose assistant message has `content` and these function calls (arguments as sent, a string). */
export function openAIToolReply(calls: { id: string; name: string; arguments: string }[], content: string | null = null): Record<string, unknown> {
  const body = loadFixture("openai-chat-completion-tool-calls.json");
  const choices = z.array(z.object({ message: z.record(z.string(), z.unknown()) }).loose()).parse(body.choices);
  return {
    ...body,
    choices: choices.map((choice) => ({
      ...choice,
      finish_reason: calls.length > 0 ? "tool_calls" : "stop",
      message: {
        ...choice.message,
        content,
        ...(calls.length > 0
          ? { tool_calls: calls.map((call) => ({ id: call.id, type: "function", function: { name: call.name, arguments: call.arguments } })) }
          : { tool_calls: undefined }),
      },
    })),
  };
}

/** A generateContent response whose first candidate has `text` (when given) and these functionCall parts. */
export function geminiToolReply(calls: { name: string; args: unknown; thoughtSignature?: string }[], text?: string): Record<string, unknown> {
  const body = loadFixture("gemini-generate-content-function-call.json");
  const candidates = z.array(z.record(z.string(), z.unknown())).parse(body.candidates);
  const parts = [
    ...(text !== undefined ? [{ text }] : []),
    ...calls.map((call) => ({
      functionCall: { name: call.name, args: call.args },
      ...(call.thoughtSignature ? { thoughtSignature: call.thoughtSignature } : {}),
    })),
  ];
  return { ...body, candidates: candidates.map((candidate) => ({ ...candidate, content: { role: "model", parts } })) };
}

/** An /api/chat response whose message has `content` and these tool calls (arguments as an object). */
export function ollamaToolReply(calls: { name: string; arguments: unknown; id?: string }[], content = ""): Record<string, unknown> {
  const body = loadFixture("ollama-chat-tool-calls.json");
  return {
    ...body,
    message: {
      role: "assistant",
      content,
      ...(calls.length > 0
        ? { tool_calls: calls.map((call) => ({ ...(call.id ? { id: call.id } : {}), function: { name: call.name, arguments: call.arguments } })) }
        : {}),
    },
  };
}
