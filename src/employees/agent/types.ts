// The contract between the agent loop (loop.ts) and its toolbox (tools.ts): the loop asks the model for a
// turn, hands each tool call to the toolbox, and records what came back as one trajectory step.
import type { ToolCall, ToolSpec } from "../../models/tool-calling.js";
import type { SandboxResult } from "../../workspace/index.js";

/** What the agent said it did when it submitted. Its own claims are never evidence: the app re-runs the tests. */
export type Submission = { summary: string; tested: string; remaining: string };

/** The answer to a request to widen the task's edit scope: each path granted or refused with its reason. */
export type ScopeDecision = { granted: string[]; refused: { path: string; reason: string }[] };

/** What one tool call did. `observation` is the text the model sees next (already cut to its budget). */
export type ToolOutcome = {
  status: "ok" | "error" | "refused";
  observation: string;
  /** A command's exit code (run_command, run_tests). */
  exitCode?: number;
  /** Whether a command was stopped at its timeout. */
  timedOut?: boolean;
  /** Time the tool took, the command's own run time included. */
  durationMs: number;
  /** Relative paths this step read or changed, for the PR's summary. */
  read?: string[];
  changed?: string[];
  /** The sandbox result when the step ran the repository's tests. */
  test?: SandboxResult;
  /** Set by the submit tool: the loop ends after this step. */
  submission?: Submission;
  /** Set by the scope tool: what the rule layer granted and refused. */
  scope?: { requested: string[]; reason: string; decision: ScopeDecision };
};

/** The tools of one work run, bound to its tree, its scope and its sandbox. */
export interface Toolbox {
  readonly specs: ToolSpec[];
  run(call: ToolCall, signal?: AbortSignal): Promise<ToolOutcome>;
  /** The task's edit scope as it is now (the planned globs plus every grant). */
  scope(): readonly string[];
}
