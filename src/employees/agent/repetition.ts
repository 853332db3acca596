// Catches an agent going round in circles: the same call again and again with nothing changing in between.
// Reads, searches and commands count as "the same" only while the work tree is unchanged (running the tests
// again after an edit is progress); edits count whatever happened in between (undoing and redoing an edit is
// not). Pure: the loop feeds it each step and stops the run with the reason it returns.
import type { ToolCall } from "../../models/tool-calling.js";
import type { ToolOutcome } from "./types.js";

export type RepetitionLimits = {
  /** The same call this many times in a row stops the run. */
  inARow: number;
  /** The same call `inWindow` times among the last `window` steps stops the run. */
  window: number;
  inWindow: number;
};

export const REPETITION_DEFAULTS: RepetitionLimits = { inARow: 3, window: 10, inWindow: 4 };

const EDIT_TOOLS = new Set(["edit_file", "create_file", "delete_file"]);

/** JSON with sorted keys and collapsed whitespace in strings, so trivially different spellings compare equal. */
function canonical(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.trim().replace(/\s+/g, " "));
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== null && item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonical(item)}`).join(",")}}`;
  }
  return JSON.stringify(value ?? null);
}

/** A call's identity for repetition: its name and normalised arguments, plus the tree's version unless it edits. */
export function stepKey(call: ToolCall, treeVersion: number): string {
  const args = call.arguments === undefined ? JSON.stringify(call.rawArguments.trim()) : canonical(call.arguments);
  return EDIT_TOOLS.has(call.name) ? `${call.name} ${args}` : `${call.name} ${args} @${treeVersion}`;
}

/** Whether the last key repeats too often: in a row, or within the window. Returns the count and the rule. */
export function findRepetition(
  keys: readonly string[],
  limits: RepetitionLimits = REPETITION_DEFAULTS,
): { rule: "in-a-row" | "in-window"; count: number } | undefined {
  const last = keys.at(-1);
  if (last === undefined) return undefined;
  let inARow = 0;
  for (let index = keys.length - 1; index >= 0 && keys[index] === last; index--) inARow++;
  if (inARow >= limits.inARow) return { rule: "in-a-row", count: inARow };
  const inWindow = keys.slice(-limits.window).filter((key) => key === last).length;
  if (inWindow >= limits.inWindow) return { rule: "in-window", count: inWindow };
  return undefined;
}

function preview(call: ToolCall): string {
  const text = call.name === "run_command" && typeof call.arguments?.command === "string" ? call.arguments.command : call.rawArguments;
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > 80 ? `${flat.slice(0, 80)}…` : flat;
}

/** Records the steps of one run and says when the last one repeats too often. */
export class RepetitionDetector {
  private readonly keys: string[] = [];
  private treeVersion = 0;

  constructor(private readonly limits: RepetitionLimits = REPETITION_DEFAULTS) {}

  /** Records one step; returns why the run should stop, or undefined to go on. */
  record(call: ToolCall, outcome: Pick<ToolOutcome, "changed">): string | undefined {
    this.keys.push(stepKey(call, this.treeVersion));
    if ((outcome.changed?.length ?? 0) > 0) this.treeVersion++;
    const found = findRepetition(this.keys, this.limits);
    if (!found) return undefined;
    const what = EDIT_TOOLS.has(call.name) ? `the same ${call.name} call` : `the same ${call.name} call with nothing changed in between`;
    const how = found.rule === "in-a-row" ? `${found.count} times in a row` : `${found.count} times in the last ${this.limits.window} steps`;
    return `the agent repeated itself: ${what} (${preview(call)}) came ${how}`;
  }
}
