// Keeps a long agent conversation inside the model's window: when it grows past a token bound, the oldest
// tool observations (and then the oldest large tool-call arguments) are replaced by a short stub, while the
// system message, the first user message (the task) and the latest turns stay whole. What was shortened is
// returned for the trajectory, so the record says what the model no longer saw.
import type { AgentMessage, ToolCall } from "../../models/tool-calling.js";
import { estimateTokens } from "../task-context.js";

export type ShortenOptions = {
  /** The conversation should fit in this many tokens (estimated at 4 characters per token). */
  maxTokens: number;
  /** The latest assistant turns, with their tool answers, that stay whole. Default 4. */
  keepLatestTurns?: number;
};

export type ShortenedEntry = {
  /** Index of the message in the conversation. */
  index: number;
  /** An observation (role tool) or a call's arguments (role assistant). */
  kind: "observation" | "arguments";
  callId: string;
  name: string;
  tokensBefore: number;
  tokensAfter: number;
};

export type ShortenResult = {
  messages: AgentMessage[];
  shortened: ShortenedEntry[];
  tokensBefore: number;
  tokensAfter: number;
  /** False when even every stub left it over the bound (the loop decides what then). */
  fits: boolean;
};

const STUB_MARK = "[shortened to save context";
/** Argument strings longer than this are stubbed in old calls (a whole file's content, a long search). */
const LONG_ARGUMENT_CHARS = 400;

function callTokens(call: ToolCall): number {
  return estimateTokens(call.name) + estimateTokens(call.rawArguments) + 4;
}

export function messageTokens(message: AgentMessage): number {
  const calls = message.role === "assistant" ? message.toolCalls.reduce((sum, call) => sum + callTokens(call), 0) : 0;
  return estimateTokens(message.content) + calls + 4;
}

export function conversationTokens(messages: readonly AgentMessage[]): number {
  return messages.reduce((sum, message) => sum + messageTokens(message), 0);
}

/** Indices that are never shortened: system messages, the first user message, and the latest turns. */
function keptWhole(messages: readonly AgentMessage[], keepLatestTurns: number): (index: number) => boolean {
  const assistants = messages.flatMap((message, index) => (message.role === "assistant" ? [index] : []));
  const latestFrom = keepLatestTurns <= 0 ? messages.length : assistants.length <= keepLatestTurns ? 0 : (assistants[assistants.length - keepLatestTurns] ?? 0);
  const firstUser = messages.findIndex((message) => message.role === "user");
  return (index) => index >= latestFrom || index === firstUser || messages[index]?.role === "system";
}

function observationStub(name: string, content: string): string {
  const firstLine = content.split("\n", 1)[0] ?? "";
  const shown = firstLine.length > 120 ? `${firstLine.slice(0, 120)}…` : firstLine;
  return `${STUB_MARK}: the ${name} result of ${estimateTokens(content)} tokens began ${JSON.stringify(shown)}; call the tool again if you need it]`;
}

/** The call with every long string argument replaced by a stub; the arguments stay valid JSON. */
function stubArguments(call: ToolCall): ToolCall | undefined {
  if (call.arguments === undefined) return undefined;
  let changed = false;
  const args = Object.fromEntries(
    Object.entries(call.arguments).map(([key, value]) => {
      if (typeof value !== "string" || value.length <= LONG_ARGUMENT_CHARS || value.startsWith(STUB_MARK)) return [key, value];
      changed = true;
      return [key, `${STUB_MARK}: ${value.length} characters]`];
    }),
  );
  return changed ? { ...call, arguments: args, rawArguments: JSON.stringify(args) } : undefined;
}

export function shortenContext(messages: readonly AgentMessage[], options: ShortenOptions): ShortenResult {
  const tokensBefore = conversationTokens(messages);
  const result: AgentMessage[] = [...messages];
  const shortened: ShortenedEntry[] = [];
  let total = tokensBefore;
  const kept = keptWhole(messages, options.keepLatestTurns ?? 4);
  // Observations first (they are most of the bulk and the easiest to fetch again), then old arguments.
  for (const pass of ["observation", "arguments"] as const) {
    for (let index = 0; index < result.length && total > options.maxTokens; index++) {
      const message = result[index];
      if (message === undefined || kept(index)) continue;
      const before = messageTokens(message);
      let replacement: AgentMessage | undefined;
      if (pass === "observation" && message.role === "tool" && !message.content.startsWith(STUB_MARK)) {
        replacement = { ...message, content: observationStub(message.name, message.content) };
      } else if (pass === "arguments" && message.role === "assistant") {
        const calls = message.toolCalls.map((call) => stubArguments(call) ?? call);
        if (calls.some((call, at) => call !== message.toolCalls[at])) replacement = { ...message, toolCalls: calls };
      }
      if (replacement === undefined) continue;
      const after = messageTokens(replacement);
      if (after >= before) continue;
      result[index] = replacement;
      total -= before - after;
      shortened.push(entryFor(index, pass, message, before, after));
    }
  }
  return { messages: result, shortened, tokensBefore, tokensAfter: total, fits: total <= options.maxTokens };
}

function entryFor(index: number, kind: ShortenedEntry["kind"], message: AgentMessage, before: number, after: number): ShortenedEntry {
  if (message.role === "tool") return { index, kind, callId: message.callId, name: message.name, tokensBefore: before, tokensAfter: after };
  const calls = message.role === "assistant" ? message.toolCalls : [];
  return {
    index,
    kind,
    callId: calls.map((call) => call.id).join(","),
    name: calls.map((call) => call.name).join(","),
    tokensBefore: before,
    tokensAfter: after,
  };
}
