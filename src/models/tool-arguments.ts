// Turns what a model sent as a tool call into a ToolCall, the same way on every provider: the arguments are
// parsed (OpenAI sends a JSON string, Gemini and Ollama an object) and validated with the tool's zod schema.
// Nothing here throws: a bad call carries `argumentError`, which the loop sends back to the model to fix.
import { z } from "zod";
import { fromStrictJson } from "./json-schema.js";
import { formatValidationError } from "./structured-output.js";
import type { ToolCall, ToolSpec } from "./tool-calling.js";

/** A tool call as a provider reported it, before validation. */
export type RawToolCall = { id: string; name: string; arguments: unknown; thoughtSignature?: string };

/** The most schema problems listed back to the model; the rest are counted, not repeated. */
const MAX_LISTED_ISSUES = 8;

/** The validated ToolCall for what the model sent. */
export function toToolCall(tools: readonly ToolSpec[], raw: RawToolCall): ToolCall {
  const rawArguments = typeof raw.arguments === "string" ? raw.arguments : (JSON.stringify(raw.arguments ?? {}) ?? "{}");
  const call: ToolCall = { id: raw.id, name: raw.name, rawArguments, ...(raw.thoughtSignature ? { thoughtSignature: raw.thoughtSignature } : {}) };
  const tool = tools.find((spec) => spec.name === raw.name);
  if (!tool) {
    const names = tools.map((spec) => spec.name).join(", ");
    return { ...call, argumentError: `There is no tool named "${raw.name}". The tools are: ${names || "(none)"}. Call one of them by its exact name.` };
  }
  const parsed = parseArguments(raw.arguments);
  if (!parsed.ok)
    return { ...call, argumentError: `The arguments of ${tool.name} ${parsed.problem}. Send them as one JSON object that matches the tool's schema.` };
  const result = tool.parameters.safeParse(fromStrictJson(tool.parameters, parsed.value));
  if (!result.success) {
    return {
      ...call,
      argumentError: `The arguments of ${tool.name} do not match its schema:\n${listIssues(result.error)}\nCall it again with corrected arguments.`,
    };
  }
  return { ...call, arguments: result.data };
}

function parseArguments(value: unknown): { ok: true; value: Record<string, unknown> } | { ok: false; problem: string } {
  let json: unknown = value ?? {};
  if (typeof value === "string") {
    // Some models send no arguments at all for a tool that takes none.
    if (value.trim() === "") return { ok: true, value: {} };
    try {
      json = JSON.parse(value);
    } catch (error) {
      return { ok: false, problem: `are not valid JSON (${error instanceof Error ? error.message : String(error)})` };
    }
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, problem: `are ${Array.isArray(json) ? "an array" : json === null ? "null" : `a ${typeof json}`}, not a JSON object` };
  }
  return { ok: true, value: json as Record<string, unknown> };
}

function listIssues(error: z.ZodError): string {
  const lines = formatValidationError(error).split("\n");
  if (lines.length <= MAX_LISTED_ISSUES) return lines.join("\n");
  return [...lines.slice(0, MAX_LISTED_ISSUES), `- (${lines.length - MAX_LISTED_ISSUES} more problems left out)`].join("\n");
}

/**
 * A call's arguments as Gemini and Ollama want them back in the conversation: an object (what the model sent,
 * even when it did not validate; {} when it sent no object at all).
 */
export function sentArguments(call: ToolCall): Record<string, unknown> {
  if (call.arguments) return call.arguments;
  try {
    const parsed: unknown = JSON.parse(call.rawArguments);
    return z.record(z.string(), z.unknown()).catch({}).parse(parsed);
  } catch {
    return {};
  }
}
