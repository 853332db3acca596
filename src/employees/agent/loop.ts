// The agent loop, as simple as the strongest simple agents: each turn the model calls tools or submits; each
// call runs through the toolbox and its observation goes back to the model; every turn and every call is one
// trajectory step. The loop ends on submit or on a limit (steps, wall clock, idle turns, repetition, budget),
// and a refused scope request ends it too. It never decides whether the work is good: after it ends, the app
// runs the repository's setup and tests itself (loop-work.ts). Model and toolbox come in through `AgentLoop`,
// so this file holds only the loop's own rules.
import { BudgetExhausted } from "../../models/budgets.js";
import { ModelCallError, OutputAllowanceTooSmall } from "../../models/model-client.js";
import type { AgentMessage, ToolCall, ToolTurnResult } from "../../models/tool-calling.js";
import { SandboxUnavailableError } from "../../workspace/index.js";
import { withoutNul, type EndReason, type StepRecord } from "./trajectory.js";
import type { ScopeDecision, Submission, Toolbox, ToolOutcome } from "./types.js";

/** The limits that stop a run and keep its work. */
export type LoopLimits = {
  /** Model turns the run may take. */
  maxSteps: number;
  /** Milliseconds from the loop's start (by `now`) after which no new turn starts. */
  maxMs: number;
  /** Turns in a row without a tool call that worked. */
  maxIdleTurns: number;
};

/** A limit that stopped the run: which one, the sentence a director reads, and what is left. */
export type LoopStop = {
  limit: Exclude<EndReason, "submitted" | "scope-refused" | "provider-failure" | "single-shot" | "interrupted">;
  reason: string;
  remaining: string;
};

/** Records a call that ran; says why it repeats earlier ones too often (the run stops), else undefined. */
export type RepetitionCheck = (call: ToolCall, outcome: ToolOutcome) => string | undefined;

/** Shortens the conversation when it nears the model's window; undefined when it need not. */
export type Shortener = (messages: readonly AgentMessage[], lastInputTokens: number) => { messages: AgentMessage[]; note: string } | undefined;

export type AgentLoop = {
  toolbox: Toolbox;
  messages: AgentMessage[];
  /** One model turn under the run's budget (reserved and settled by the caller). */
  turn: (messages: AgentMessage[], step: number, signal: AbortSignal | undefined) => Promise<ToolTurnResult>;
  /** Records one step of the trajectory. */
  record: (step: StepRecord) => Promise<void>;
  limits: LoopLimits;
  now: () => Date;
  repetition?: RepetitionCheck;
  shorten?: Shortener;
  /** Aborted when the job is stopped: the loop throws, the run stays open and is marked interrupted later. */
  signal?: AbortSignal;
};

export type LoopResult = {
  endReason: EndReason;
  submission?: Submission;
  stop?: LoopStop;
  /** The scope request whose refusal ended the run. */
  refusedScope?: ScopeDecision;
  providerFailure?: ModelCallError;
  /** The sandbox failed under a command: the run stopped (not the model's fault). */
  sandboxFailure?: string;
  turns: number;
  filesRead: string[];
  filesChanged: string[];
  messages: AgentMessage[];
};

/** Thrown when the job stops the loop (its abort signal fired): the run is left open and counts as interrupted. */
export class AgentInterrupted extends Error {
  override name = "AgentInterrupted";
}

const NUDGE = "You answered without calling a tool. Call a tool to go on, or call submit when the task is done.";

/** Tool calls one turn may make; the calls past it are answered "not run", so one turn cannot outrun the step cap. */
export const MAX_CALLS_PER_TURN = 16;

/** What the conversation keeps for a turn that said nothing at all (some providers refuse an empty model turn). */
const EMPTY_TURN = "(no reply)";

/** The message that answers a turn the provider gave no usable reply for (a safety block, a call it could not parse). */
function refusalNudge(refusal: string): string {
  const malformed = /MALFORMED_FUNCTION_CALL/.test(refusal);
  return malformed
    ? `Your last turn could not be used: the provider could not parse your tool call (${refusal}). Call the tool again with arguments as one JSON object that matches its schema.`
    : `Your last turn could not be used: the provider gave no answer (${refusal}). Go on with the task by calling a tool, or call submit when it is done.`;
}

type State = { messages: AgentMessage[]; turns: number; idle: number; lastInputTokens: number; read: Set<string>; changed: Set<string>; startedMs: number };

/** Runs the loop until the model submits, a limit stops it, a scope request is refused, or the provider fails. */
export async function runLoop(loop: AgentLoop): Promise<LoopResult> {
  const state: State = {
    messages: [...loop.messages],
    turns: 0,
    idle: 0,
    lastInputTokens: 0,
    read: new Set(),
    changed: new Set(),
    startedMs: loop.now().getTime(),
  };
  const finish = (result: Omit<LoopResult, "turns" | "filesRead" | "filesChanged" | "messages">): LoopResult => ({
    ...result,
    turns: state.turns,
    filesRead: [...state.read],
    filesChanged: [...state.changed],
    messages: state.messages,
  });
  for (;;) {
    if (loop.signal?.aborted) throw new AgentInterrupted("the work run was stopped before it ended");
    const limit = limitReached(loop, state);
    if (limit) return finish({ endReason: limit.limit, stop: limit });
    await shortenIfNeeded(loop, state);
    state.turns++;
    const reply = await askModel(loop, state);
    if ("failure" in reply) return finish(reply.failure);
    const outcome = await runCalls(loop, state, reply.result);
    if (outcome) return finish(outcome);
  }
}

function limitReached(loop: AgentLoop, state: State): LoopStop | undefined {
  const changed = state.changed.size > 0;
  if (state.turns >= loop.limits.maxSteps) {
    return {
      limit: "step-cap",
      reason: `The agent used all ${loop.limits.maxSteps} steps of its step cap without submitting.`,
      remaining: leftOver(changed),
    };
  }
  const elapsed = loop.now().getTime() - state.startedMs;
  if (elapsed >= loop.limits.maxMs) {
    return {
      limit: "wall-clock",
      reason: `The agent ran out of time: ${Math.round(elapsed / 60_000)} minutes, over its limit of ${Math.round(loop.limits.maxMs / 60_000)}, after ${state.turns} steps.`,
      remaining: leftOver(changed),
    };
  }
  return undefined;
}

function leftOver(changed: boolean): string {
  return changed
    ? "Finishing the change and making the tests pass: the agent stopped before it submitted. The edits so far are on the branch."
    : "All of the task: the agent changed no file before it stopped.";
}

async function shortenIfNeeded(loop: AgentLoop, state: State): Promise<void> {
  const shortened = loop.shorten?.(state.messages, state.lastInputTokens);
  if (!shortened) return;
  state.messages = shortened.messages;
  await loop.record({ kind: "shortening", observation: shortened.note });
}

/** One turn: the model's reply recorded, or what its failure means for the run. */
async function askModel(
  loop: AgentLoop,
  state: State,
): Promise<{ result: ToolTurnResult } | { failure: Omit<LoopResult, "turns" | "filesRead" | "filesChanged" | "messages"> }> {
  let result: ToolTurnResult;
  try {
    result = nulFree(await loop.turn(state.messages, state.turns, loop.signal));
  } catch (error) {
    if (loop.signal?.aborted) throw new AgentInterrupted("the work run was stopped during a model turn");
    return { failure: turnFailure(error, state.changed.size > 0) };
  }
  state.lastInputTokens = result.usage.input + result.usage.cachedInput;
  await loop.record({
    kind: "turn",
    model: result.model,
    inputTokens: result.usage.input + result.usage.cachedInput,
    outputTokens: result.usage.output,
    costUsd: result.costUsd,
    latencyMs: result.durationMs,
    observation: turnText(result),
    ...(result.finishReason ? { status: result.finishReason } : {}),
  });
  const empty = result.text.trim() === "" && result.toolCalls.length === 0;
  state.messages.push({ role: "assistant", content: empty ? EMPTY_TURN : result.text, toolCalls: result.toolCalls });
  return { result };
}

/** The model's turn with every NUL character shown as U+FFFD: nothing it wrote may fail the record (PostgreSQL refuses NUL). */
function nulFree(result: ToolTurnResult): ToolTurnResult {
  const clean = (value: unknown): unknown =>
    typeof value === "string"
      ? withoutNul(value)
      : Array.isArray(value)
        ? value.map(clean)
        : value !== null && typeof value === "object"
          ? Object.fromEntries(Object.entries(value).map(([key, item]) => [withoutNul(key), clean(item)]))
          : value;
  if (!JSON.stringify([result.text, result.toolCalls, result.refusal ?? ""]).includes("\\u0000")) return result;
  return {
    ...result,
    ...(clean({ text: result.text, toolCalls: result.toolCalls, ...(result.refusal ? { refusal: result.refusal } : {}) }) as Partial<ToolTurnResult>),
  };
}

function turnText(result: ToolTurnResult): string {
  const calls = result.toolCalls.map((call) => call.name).join(", ");
  const text = calls === "" ? result.text : `${result.text}${result.text === "" ? "" : "\n"}[calls: ${calls}]`;
  return result.refusal ? `${text}${text === "" ? "" : "\n"}[no usable reply: ${result.refusal}]` : text;
}

/** What a failed turn means: a budget stop, a provider failure to fail over from, or a model that gave no valid turn. */
function turnFailure(error: unknown, changed: boolean): Omit<LoopResult, "turns" | "filesRead" | "filesChanged" | "messages"> {
  if (error instanceof BudgetExhausted || error instanceof OutputAllowanceTooSmall) {
    return { endReason: "budget", stop: { limit: "budget", reason: error.message, remaining: leftOver(changed) } };
  }
  if (error instanceof ModelCallError && error.isProviderFailure) return { endReason: "provider-failure", providerFailure: error };
  if (error instanceof ModelCallError) {
    return {
      endReason: "idle",
      stop: { limit: "idle", reason: `The employee gave no valid turn: ${error.message.split("\n")[0] ?? ""}`, remaining: leftOver(changed) },
    };
  }
  throw error;
}

/**
 * Runs the turn's calls in order and answers each (every call gets its answer, as the providers require), then
 * decides: a refused scope request or a submission ends the run, a repetition stops it, a turn without a
 * working call counts toward the idle limit. A turn runs at most MAX_CALLS_PER_TURN calls, and after its first
 * none once the wall-clock limit passed; a submit counts only as the turn's last call after calls that all worked.
 */
async function runCalls(
  loop: AgentLoop,
  state: State,
  result: ToolTurnResult,
): Promise<Omit<LoopResult, "turns" | "filesRead" | "filesChanged" | "messages"> | undefined> {
  if (result.toolCalls.length === 0) {
    state.messages.push({ role: "user", content: result.refusal ? refusalNudge(result.refusal) : NUDGE });
    return idleStop(loop, state, result.refusal ? `the provider gave no usable reply: ${result.refusal}` : "it answered in text without calling a tool");
  }
  let progress = false;
  let failedBefore: string | undefined;
  let submission: Submission | undefined;
  let refusedScope: ScopeDecision | undefined;
  let repeated: string | undefined;
  for (const [index, call] of result.toolCalls.entries()) {
    const outcome = notRun(loop, state, result.toolCalls, index, failedBefore) ?? (await runCall(loop, call));
    if ("sandboxFailure" in outcome) return outcome;
    await recordCall(loop, call, outcome);
    repeated ??= loop.repetition?.(call, outcome);
    state.messages.push({ role: "tool", callId: call.id, name: call.name, content: withoutNul(outcome.observation) });
    for (const file of outcome.read ?? []) state.read.add(file);
    for (const file of outcome.changed ?? []) state.changed.add(file);
    if (outcome.status === "ok") progress = true;
    else failedBefore ??= call.name;
    if (outcome.scope && outcome.scope.decision.refused.length > 0) refusedScope ??= outcome.scope.decision;
    if (outcome.submission) submission ??= outcome.submission;
  }
  if (refusedScope) return { endReason: "scope-refused", refusedScope };
  if (submission) return { endReason: "submitted", submission };
  if (repeated)
    return {
      endReason: "repetition",
      stop: { limit: "repetition", reason: `${repeated.charAt(0).toUpperCase()}${repeated.slice(1)}.`, remaining: leftOver(state.changed.size > 0) },
    };
  if (progress) {
    state.idle = 0;
    return undefined;
  }
  return idleStop(loop, state, "none of its tool calls worked");
}

/** Runs one call through the toolbox; a sandbox that stopped working ends the run (not the model's fault). */
async function runCall(loop: AgentLoop, call: ToolCall): Promise<ToolOutcome | { endReason: "sandbox"; sandboxFailure: string }> {
  try {
    return await loop.toolbox.run(call, loop.signal);
  } catch (error) {
    if (loop.signal?.aborted) throw new AgentInterrupted("the work run was stopped during a tool call");
    if (error instanceof SandboxUnavailableError) return { endReason: "sandbox", sandboxFailure: error.message };
    throw error;
  }
}

/** The answer to a call the loop does not run (past the per-turn cap, after the time limit, a submit it does not take), or undefined. */
function notRun(loop: AgentLoop, state: State, calls: readonly ToolCall[], index: number, failedBefore: string | undefined): ToolOutcome | undefined {
  const answer = (observation: string): ToolOutcome => ({ status: "error", observation, durationMs: 0 });
  const call = calls[index];
  if (index >= MAX_CALLS_PER_TURN) {
    return answer(
      `Not run: a turn may make at most ${MAX_CALLS_PER_TURN} tool calls and this was call ${index + 1}. Make it again in your next turn if you still need it.`,
    );
  }
  // The turn's first call runs even when the reply came late (an edit it makes is kept); the rest wait no longer.
  if (index > 0 && loop.now().getTime() - state.startedMs >= loop.limits.maxMs) {
    return answer("Not run: the work run's time limit was reached during this turn.");
  }
  if (call?.name !== "submit" || call.argumentError !== undefined) return undefined;
  if (index < calls.length - 1) {
    return answer(
      "Not submitted: submit must be the last call of its turn, and other calls came after it. Look at their results, then call submit again on its own.",
    );
  }
  if (failedBefore !== undefined) {
    return answer(`Not submitted: ${failedBefore} did not work earlier in this turn. Look at its result and fix what it reports, then call submit again.`);
  }
  return undefined;
}

function idleStop(loop: AgentLoop, state: State, why: string): Omit<LoopResult, "turns" | "filesRead" | "filesChanged" | "messages"> | undefined {
  state.idle++;
  if (state.idle < loop.limits.maxIdleTurns) return undefined;
  return {
    endReason: "idle",
    stop: {
      limit: "idle",
      reason: `The agent made no progress for ${state.idle} turns in a row (the last time ${why}).`,
      remaining: leftOver(state.changed.size > 0),
    },
  };
}

async function recordCall(loop: AgentLoop, call: ToolCall, outcome: ToolOutcome): Promise<void> {
  await loop.record({
    kind: "tool",
    tool: call.name,
    arguments: call.rawArguments,
    status: outcome.status,
    ...(outcome.exitCode !== undefined ? { exitCode: outcome.exitCode } : {}),
    durationMs: outcome.durationMs,
    observation: outcome.observation,
  });
}
