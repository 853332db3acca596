// The action protocol: tool use for models without native tool calling. Each turn the model writes exactly one
// action as structured output ({ thought, tool, arguments_json }) through the ordinary `generate` path, so an
// invalid action is re-asked as any structured reply is. The conversation is rendered as plain chat: earlier
// actions as their JSON, tool results as user messages naming the tool and the call. Provider-neutral.
import { z } from "zod";
import { toStrictJsonSchema } from "./json-schema.js";
import type { ChatMessage, ModelClient } from "./model-client.js";
import { toToolCall } from "./tool-arguments.js";
import type { AgentMessage, ToolSpec, ToolTurnRequest, ToolTurnResult } from "./tool-calling.js";

/** The message type of one action (its JSON-schema name, and what a re-ask calls it). */
export const ACTION_NAME = "AgentAction";

/**
 * One action. The arguments travel as a JSON string because their shape depends on the tool, and a string is
 * the one field every provider's structured output (OpenAI strict, Gemini, Ollama grammars) takes for that.
 */
export function actionSchema(tools: readonly ToolSpec[]) {
  const [first, ...rest] = tools.map((tool) => tool.name);
  if (first === undefined) throw new Error("the action protocol needs at least one tool");
  return z.object({
    thought: z.string().describe("Your reasoning for this step, briefly."),
    tool: z.enum([first, ...rest]).describe("The name of the one tool to call now."),
    arguments_json: z.string().describe("The tool's arguments: one JSON object matching its schema, written as a string."),
  });
}

export type Action = z.infer<ReturnType<typeof actionSchema>>;

/** The instructions of the protocol and every tool with its argument schema, as a system message. */
export function actionInstructions(tools: readonly ToolSpec[]): string {
  const lines = tools.map((tool) => `- ${tool.name}: ${tool.description}\n  arguments schema: ${JSON.stringify(toStrictJsonSchema(tool.parameters))}`);
  return [
    "You work by taking one action per turn. Reply with only a JSON object with these fields:",
    '- "thought": your reasoning for this step, briefly;',
    '- "tool": the name of the one tool to call;',
    '- "arguments_json": the tool\'s arguments as a JSON object written as a string, for example "{\\"path\\": \\"src/a.ts\\"}".',
    "The result of the tool comes back in the next user message. The tools:",
    ...lines,
  ].join("\n");
}

/** An earlier call as the model would have written it under this protocol. */
function actionText(thought: string, call: { name: string; rawArguments: string }): string {
  return JSON.stringify({ thought, tool: call.name, arguments_json: call.rawArguments });
}

/** The conversation as plain chat: the protocol's instructions after the leading system messages. */
export function actionMessages(messages: readonly AgentMessage[], tools: readonly ToolSpec[]): ChatMessage[] {
  const leading = messages.findIndex((message) => message.role !== "system");
  const split = leading === -1 ? messages.length : leading;
  const chat = messages.map((message): ChatMessage => {
    if (message.role === "tool") return { role: "user", content: `Result of ${message.name} (call ${message.callId}):\n${message.content}` };
    if (message.role === "assistant") {
      const content = message.toolCalls.length === 0 ? message.content : message.toolCalls.map((call) => actionText(message.content, call)).join("\n");
      return { role: "assistant", content };
    }
    return { role: message.role, content: message.content };
  });
  return [...chat.slice(0, split), { role: "system", content: actionInstructions(tools) }, ...chat.slice(split)];
}

/**
 * One turn under the action protocol, through the client's own structured output: exactly one ToolCall, its
 * id made up as `call_<turn>_0` and its arguments validated like a native call's (an error goes back to the
 * model through the loop). A reply that is no valid action is re-asked by `generate`.
 */
export async function actionTurn(client: Pick<ModelClient, "generate">, request: ToolTurnRequest): Promise<ToolTurnResult> {
  const result = await client.generate({
    name: ACTION_NAME,
    schema: actionSchema(request.tools),
    messages: actionMessages(request.messages, request.tools),
    ...(request.timeoutMs !== undefined ? { timeoutMs: request.timeoutMs } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.maxOutputTokens !== undefined ? { maxOutputTokens: request.maxOutputTokens } : {}),
    ...(request.maxCostUsd !== undefined ? { maxCostUsd: request.maxCostUsd } : {}),
    ...(request.signal ? { signal: request.signal } : {}),
  });
  const turn = request.messages.filter((message) => message.role === "assistant").length;
  const call = toToolCall(request.tools, { id: `call_${turn}_0`, name: result.value.tool, arguments: result.value.arguments_json });
  return {
    text: result.value.thought,
    toolCalls: [call],
    usage: result.usage,
    costUsd: result.costUsd,
    model: result.model,
    provider: result.provider,
    durationMs: result.durationMs,
    attempts: result.attempts,
  };
}
