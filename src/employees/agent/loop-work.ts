// An employee's work as an agent, for the work loop (work-loop.ts): the first messages (rules, repository
// guidance, the task, a revision's context), the toolbox bound to the task's tree and scope, each turn under a
// budget reservation, every step on record, and after the loop the app's own setup and test run on exactly
// the edits the agent made. Returns the same Work the single-shot path returns, so saving, the PR and the
// hand-over to a director stay one path. Also records a single-shot run, so every work run is on record.
import type { Employee } from "../../config/policy-files.js";
import type { AgentLimits, EffectiveBudgets } from "../../config/repo-config.js";
import { budgetedTurn, type SpendHolder, type SpendSubject } from "../../models/budgets.js";
import type { ModelCallError } from "../../models/model-client.js";
import { defaultPriceFor } from "../../models/prices.js";
import type { AgentMessage, ToolProtocol, ToolSpec } from "../../models/tool-calling.js";
import type { Services } from "../../services.js";
import {
  git,
  listFiles,
  safeDeleteFile,
  safeWriteFile,
  SandboxUnavailableError,
  workspaceTarget,
  type RepoCommands,
  type TaskWorkspace,
} from "../../workspace/index.js";
import type { EditRules } from "../edits.js";
import type { RunEvidence } from "../pull-request.js";
import type { RevisionBrief, TaskBrief } from "../task-context.js";
import { conversationTokens, shortenContext } from "./context-shortening.js";
import { agentMessages, agentPromptHash } from "./loop-messages.js";
import { runLoop, type LoopResult, type Shortener } from "./loop.js";
import { RepetitionDetector } from "./repetition.js";
import { loadRepoGuidance } from "./repo-guidance.js";
import { grantedScope, refusalReason, requestScope } from "./scope-rules.js";
import { createToolbox } from "./tools.js";
import { closeRun, previousRun, recordStep, startRun, type EndReason, type RunEnd } from "./trajectory.js";
import type { Submission } from "./types.js";

/** The conversation is shortened when a turn's prompt passes this share of the model's window. */
export const SHORTEN_AT_SHARE = 0.75;
/** Context window assumed for a model, in tokens, when the registry gives none: hosted models and local ones. */
export const DEFAULT_CONTEXT_TOKENS = { hosted: 128_000, local: 32_000 } as const;

/** What the work loop hands the agent: who works, under which budget and limits, in which tree. */
export type AgentTask = {
  services: Services;
  employee: Employee;
  protocol: ToolProtocol;
  taskId: number;
  attempt: number;
  revisionRound: number;
  brief: TaskBrief;
  subject: SpendSubject;
  subjectText: string;
  budgets: EffectiveBudgets;
  holder: SpendHolder | undefined;
  limits: AgentLimits;
  workspace: TaskWorkspace;
  commands: RepoCommands;
  /** The edit rules of the task (planned scope, protected paths, write limits); grants widen the scope. */
  rules: EditRules;
  revision?: RevisionBrief | undefined;
  /** Credentials that must never reach the trajectory (the installation token), beside the patterns redact knows. */
  secrets: readonly string[];
  /** Called after each turn (the budget notices). */
  afterTurn?: () => Promise<void>;
  /** Called after each turn is on record, with the turn's number (the status comment's current step). */
  onTurn?: (turn: number) => Promise<void>;
  /** The app's own setup and test run on the tree (work-loop's runChecks). */
  checks: () => Promise<RunEvidence>;
  signal?: AbortSignal | undefined;
};

/** The agent's first messages, prepared before the run so the execution snapshot can name their hash. */
export type AgentStart = { messages: AgentMessage[]; promptSha256: string; guidance: string[]; scope: string[] };

/** What the agent's run produced, in the shape of the work loop's Work, plus the run's record. */
export type AgentWork = {
  finalWrites: Map<string, string | null>;
  summary: string | undefined;
  evidence: RunEvidence | undefined;
  stop: { reason: string; remaining: string; limit: EndReason } | undefined;
  providerFailure: ModelCallError | undefined;
  runId: number;
  endReason: EndReason;
  /** The repository guidance files the agent was given (for the PR). */
  guidance: string[];
  filesRead: string[];
  filesChanged: string[];
};

/** Reads the guidance files, the task's grants so far and the previous run, and builds the first messages. */
export async function prepareAgent(task: AgentTask): Promise<AgentStart> {
  const { services, workspace } = task;
  const guidance = await loadRepoGuidance(workspace.path);
  const scope = [...task.rules.scope, ...(await grantedScope(services.pool, task.taskId)).filter((path) => !task.rules.scope.includes(path))];
  const previous = task.revision ? await previousRun(services.pool, task.taskId) : undefined;
  const messages = agentMessages({
    task: task.brief,
    scope,
    files: await listFiles(workspace),
    guidance: guidance.text,
    revision: task.revision,
    previous: previous
      ? {
          submission: previous.submission,
          filesChanged: previous.filesChanged,
          endReason: previous.endReason,
          sameEmployee: previous.employeeId === task.employee.id,
        }
      : undefined,
  });
  return { messages, promptSha256: agentPromptHash(messages), guidance: guidance.files.map((file) => file.path), scope };
}

/**
 * Runs the agent to its end and checks its work: starts the run's record, loops, then (when it changed files)
 * puts the tree back to the branch plus exactly the agent's edits and runs the app's setup and tests, and
 * closes the record with its digest. An interrupted job throws out of here and leaves the run open.
 */
export async function runAgent(task: AgentTask, start: AgentStart): Promise<AgentWork> {
  const { services } = task;
  const runId = await startRun(services.pool, {
    taskId: task.taskId,
    attempt: task.attempt,
    revisionRound: task.revisionRound,
    employeeId: task.employee.id,
    mode: task.protocol,
    maxSteps: task.limits.maxSteps,
    jobId: task.holder?.jobId ?? null,
    subject: task.subjectText,
  });
  const toolbox = createToolbox({
    root: task.workspace.path,
    sandbox: { ...services.sandbox },
    commands: task.commands,
    rules: { ...task.rules, scope: start.scope },
    requestScope: (paths, reason) =>
      requestScope(services.pool, {
        taskId: task.taskId,
        runId,
        requested: paths,
        reason,
        taskClass: task.rules.taskClass,
        protectedPaths: task.rules.protectedPaths,
        actor: task.employee.id,
        subject: task.subjectText,
      }),
  });
  const repetition = new RepetitionDetector();
  let turns = 0;
  const result = await runLoop({
    toolbox,
    messages: start.messages,
    turn: (messages, step, signal) => agentTurn(task, toolbox.specs, messages, step, signal),
    record: async (step) => {
      await recordStep(services.pool, runId, step, task.secrets);
      if (step.kind === "turn") await task.onTurn?.(++turns);
    },
    limits: { maxSteps: task.limits.maxSteps, maxMs: task.limits.maxMinutes * 60_000, maxIdleTurns: task.limits.maxIdleTurns },
    now: services.now,
    repetition: (call, outcome) => repetition.record(call, outcome),
    shorten: shortener(task.employee),
    ...(task.signal ? { signal: task.signal } : {}),
  });
  const finalWrites = new Map(toolbox.writes());
  let evidence: RunEvidence | undefined;
  try {
    evidence = finalWrites.size > 0 ? await checkExactEdits(task, finalWrites) : undefined;
  } catch (error) {
    if (!(error instanceof SandboxUnavailableError)) throw error;
    result.sandboxFailure ??= error.message;
  }
  const work = workOf(result, { runId, finalWrites, evidence, guidance: start.guidance });
  await closeRun(services.pool, runId, runEnd(result, start.guidance), { actor: task.employee.id, subject: task.subjectText, taskId: task.taskId });
  return work;
}

/** One turn under a reservation: the turn's worst case is reserved, the turn made within it, the real usage settled. */
async function agentTurn(task: AgentTask, tools: ToolSpec[], messages: AgentMessage[], step: number, signal: AbortSignal | undefined) {
  const { services, employee } = task;
  const client = services.modelFor(employee);
  try {
    return await budgetedTurn(
      services.pool,
      {
        subject: task.subject,
        budgets: task.budgets,
        purpose: `agent-step-${step}`,
        ...(task.holder ? { holder: task.holder } : {}),
        at: services.now(),
        turn: { messages, tools, protocol: task.protocol },
        maxOutputTokens: employee.limits.maxTokensPerCall,
        timeoutMs: employee.limits.timeoutSeconds * 1000,
        price: defaultPriceFor(employee, services.now()),
      },
      (bounds) => client.turn({ messages, tools, protocol: task.protocol, ...bounds, ...(signal ? { signal } : {}) }),
    );
  } finally {
    await task.afterTurn?.();
  }
}

/** Shortens older observations when the last prompt passed SHORTEN_AT_SHARE of the model's window. */
function shortener(employee: Employee): Shortener {
  const window = employee.limits.contextTokens ?? (employee.dataPolicy.local ? DEFAULT_CONTEXT_TOKENS.local : DEFAULT_CONTEXT_TOKENS.hosted);
  const threshold = Math.floor(window * SHORTEN_AT_SHARE);
  return (messages, lastInputTokens) => {
    if (Math.max(lastInputTokens, conversationTokens(messages)) <= threshold) return undefined;
    const shortened = shortenContext(messages, { maxTokens: Math.floor(threshold / 2) });
    if (shortened.shortened.length === 0) return undefined;
    const note = `Shortened ${shortened.shortened.length} older ${shortened.shortened.length === 1 ? "entry" : "entries"} from about ${shortened.tokensBefore} to ${shortened.tokensAfter} tokens (window ${window}): ${shortened.shortened
      .map((entry) => `${entry.kind} of ${entry.name} ${entry.callId}`)
      .join(", ")}${shortened.fits ? "" : "; it still does not fit"}`;
    return { messages: shortened.messages, note };
  };
}

/**
 * The app's own check of the agent's work: the tree is put back to the branch's commit plus exactly the agent's
 * edits (whatever its commands left behind is gone), then setup and tests run in a fresh sandbox.
 */
async function checkExactEdits(task: AgentTask, writes: ReadonlyMap<string, string | null>): Promise<RunEvidence> {
  const target = workspaceTarget(task.workspace, undefined);
  await git(target, ["checkout", "--", "."]);
  await git(target, ["clean", "-ffdqx"]);
  for (const [path, content] of writes) {
    if (content !== null) await safeWriteFile(task.workspace.path, path, content);
    else
      await safeDeleteFile(task.workspace.path, path).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      });
  }
  return task.checks();
}

/** What is left when the agent submitted without an edit: the director decides whether it was right. */
const SUBMITTED_UNCHANGED_LEFT =
  "All of the task, unless the agent is right that nothing needs to change: read its summary and its trajectory (the aura trajectory command prints it), then revise, reassign or close the task.";

/** The director's reason for a submission without an edit, quoting the start of the agent's own summary. */
function submittedUnchanged(submission: Submission): string {
  const summary = submission.summary.replace(/\s+/g, " ").trim();
  const quoted = summary.length > 300 ? `${summary.slice(0, 300)}…` : summary;
  return `The agent submitted without changing any file. Its summary: "${quoted}"`;
}

function workOf(
  result: LoopResult,
  made: { runId: number; finalWrites: Map<string, string | null>; evidence: RunEvidence | undefined; guidance: string[] },
): AgentWork {
  const changed = made.finalWrites.size > 0;
  const remaining = changed ? "Review the partial work on the branch, then revise, reassign or close it." : "All of the task: no file was changed.";
  const stop =
    result.stop !== undefined
      ? result.stop
      : result.refusedScope
        ? { limit: "scope-refused" as const, reason: `The agent stopped because ${refusalReason(result.refusedScope)}.`, remaining }
        : result.sandboxFailure
          ? { limit: "sandbox" as const, reason: result.sandboxFailure, remaining: "Run the tests: the sandbox stopped working during the task." }
          : result.submission && !changed
            ? { limit: "submitted" as const, reason: submittedUnchanged(result.submission), remaining: SUBMITTED_UNCHANGED_LEFT }
            : undefined;
  return {
    finalWrites: made.finalWrites,
    summary: result.submission?.summary,
    evidence: made.evidence,
    stop,
    providerFailure: result.providerFailure,
    runId: made.runId,
    endReason: result.endReason,
    guidance: made.guidance,
    filesRead: result.filesRead,
    filesChanged: result.filesChanged,
  };
}

function runEnd(result: LoopResult, guidance: string[]): RunEnd {
  return {
    endReason: result.endReason,
    submission: result.submission,
    filesRead: result.filesRead,
    filesChanged: result.filesChanged,
    guidance,
  };
}

/** Records a single-shot run (`tools: none`) around the EditSet rounds, so every work run of a task is on record. */
export async function recordSingleShot<W extends { finalWrites: ReadonlyMap<string, string | null>; summary: string | undefined }>(
  services: Services,
  run: { taskId: number; attempt: number; revisionRound: number; employeeId: string; jobId: string | null; subject: string },
  work: () => Promise<W>,
): Promise<W> {
  const runId = await startRun(services.pool, { ...run, mode: "single-shot", maxSteps: null });
  const result = await work();
  await closeRun(
    services.pool,
    runId,
    {
      endReason: "single-shot",
      filesChanged: [...result.finalWrites.keys()],
      ...(result.summary ? { submission: { summary: result.summary, tested: "", remaining: "" } } : {}),
    },
    { actor: run.employeeId, subject: run.subject, taskId: run.taskId },
  );
  return result;
}
