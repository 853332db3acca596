// The agent's toolbox for one work run: the tools bound to the task's work tree, its edit rules and scope, its
// sandbox and limits. `run` takes a call the provider already checked against the tool's schema and returns
// what the model sees next plus what the trajectory records (exit code, paths read and changed, the test
// result, the submission, the scope decision). Everything the model got wrong (unknown tool, bad arguments,
// unsafe path, a search that does not match) comes back as an outcome; `run` throws only when the machine
// fails (the sandbox cannot start, an I/O error), which the loop treats as an infrastructure failure.
import path from "node:path";
import type { z } from "zod";
import type { ToolCall, ToolSpec } from "../../models/tool-calling.js";
import { checkRelativePath, SANDBOX_DEFAULTS, UnsafePathError, type RepoCommands, type SandboxOptions } from "../../workspace/index.js";
import type { EditRules } from "../edits.js";
import { runCommandTool, runTestsTool, type CommandContext, type RunLimits } from "./command-tools.js";
import { TOOL_ARGS, TOOL_NAMES, toolSpecs, type ToolArgs, type ToolName } from "./tool-specs.js";
import { listDirTool, readFileTool, searchTool, type ReadLimits, type Step } from "./tree-read.js";
import { editTool, type EditRequest, type WrittenState } from "./tree-edit.js";
import type { ScopeDecision, Toolbox, ToolOutcome } from "./types.js";

export type ToolboxLimits = ReadLimits & {
  /** Each run_command call is stopped after this long. */
  commandTimeoutMs: number;
  /** Setup and test commands of run_tests are each stopped after this long. */
  testTimeoutMs: number;
};

export const TOOLBOX_DEFAULTS: ToolboxLimits = {
  commandTimeoutMs: 120_000,
  testTimeoutMs: SANDBOX_DEFAULTS.timeoutMs,
  observationBytes: 10 * 1024,
  readMaxLines: 400,
  readMaxFileBytes: 2 * 1024 * 1024,
  maxLineChars: 500,
  searchMaxResults: 100,
  listMaxEntries: 500,
};

export type ToolboxOptions = {
  /** The task's work tree. */
  root: string;
  sandbox: SandboxOptions;
  commands: RepoCommands;
  /** The planned scope, protected paths, task class and write limits; grants widen `scope` as the run goes. */
  rules: EditRules;
  /** The rule layer's answer to a request for more scope (lives with the loop). */
  requestScope: (paths: string[], reason: string) => Promise<ScopeDecision>;
  limits?: Partial<ToolboxLimits>;
  /** The task's per-run sandbox limits. */
  run?: RunLimits;
};

/** The toolbox plus what the loop needs to save the work: each written path's final content (null: deleted). */
export interface AgentToolbox extends Toolbox {
  writes(): ReadonlyMap<string, string | null>;
}

/** File names whose change means dependencies may have changed, so run_tests runs setup again. */
const MANIFESTS = new Set([
  "package.json",
  "package-lock.json",
  "npm-shrinkwrap.json",
  "yarn.lock",
  "pnpm-lock.yaml",
  "requirements.txt",
  "pyproject.toml",
  "poetry.lock",
  "go.mod",
  "go.sum",
  "Cargo.toml",
  "Cargo.lock",
  "Gemfile",
  "Gemfile.lock",
]);

export function createToolbox(options: ToolboxOptions): AgentToolbox {
  const limits: ToolboxLimits = { ...TOOLBOX_DEFAULTS, ...options.limits };
  const specs: ToolSpec[] = toolSpecs(limits);
  const grants: string[] = [];
  const state: WrittenState = { writes: new Map(), sizes: new Map(options.rules.change ?? []) };
  const commandContext: CommandContext = {
    root: options.root,
    sandbox: options.sandbox,
    run: options.run ?? {},
    commandTimeoutMs: limits.commandTimeoutMs,
    testTimeoutMs: limits.testTimeoutMs,
    observationBytes: limits.observationBytes,
  };
  let setupNeeded = true;
  const scope = (): string[] => [...options.rules.scope, ...grants];
  const rules = (): EditRules => ({ ...options.rules, scope: scope() });

  const edit = async (request: EditRequest): Promise<Step> => {
    const step = await editTool(options.root, request, rules(), state);
    if (step.changed?.some((file) => MANIFESTS.has(path.posix.basename(file)))) setupNeeded = true;
    return step;
  };

  const handlers: { [Name in ToolName]: (args: ToolArgs<Name>) => Promise<Step> } = {
    run_command: (args) => runCommandTool(commandContext, args.command),
    read_file: (args) => readFileTool(options.root, args, limits),
    search: (args) => searchTool(options.root, args, limits),
    list_dir: (args) => listDirTool(options.root, args, limits),
    edit_file: (args) => edit({ kind: "replace", path: args.path, search: args.search, replace: args.replace }),
    create_file: (args) => edit({ kind: "write", path: args.path, content: args.content }),
    delete_file: (args) => edit({ kind: "delete", path: args.path }),
    run_tests: async () => {
      const { setupPassed, ...step } = await runTestsTool(commandContext, options.commands, setupNeeded);
      if (setupPassed) setupNeeded = false;
      return step;
    },
    request_scope: async (args) => {
      const decision = await decideScope(options.requestScope, args.paths, args.reason);
      for (const granted of decision.granted) if (!grants.includes(granted)) grants.push(granted);
      return { ...scopeStep(decision), scope: { requested: args.paths, reason: args.reason, decision } };
    },
    submit: (args) =>
      Promise.resolve({ status: "ok", observation: "Submitted. The app now runs the setup and tests itself; that run is what counts.", submission: args }),
  };

  return {
    specs,
    scope,
    writes: () => new Map(state.writes),
    async run(call: ToolCall, signal?: AbortSignal): Promise<ToolOutcome> {
      const started = performance.now();
      const step = await dispatch(handlers, call, signal);
      return { ...step, durationMs: Math.round(performance.now() - started) };
    },
  };
}

function isToolName(name: string): name is ToolName {
  return (TOOL_NAMES as readonly string[]).includes(name);
}

async function dispatch(handlers: { [Name in ToolName]: (args: ToolArgs<Name>) => Promise<Step> }, call: ToolCall, signal?: AbortSignal): Promise<Step> {
  if (signal?.aborted) return { status: "error", observation: "Not run: the work run is stopping." };
  if (!isToolName(call.name)) {
    return { status: "error", observation: `There is no tool named ${JSON.stringify(call.name)}. The tools are: ${TOOL_NAMES.join(", ")}.` };
  }
  if (call.argumentError !== undefined) {
    return {
      status: "error",
      observation: `The arguments for ${call.name} were not valid: ${call.argumentError}. Call it again with arguments that match its schema.`,
    };
  }
  // Parsed again here: the provider checked them, but the toolbox takes nothing on trust. Strict modes spell
  // an absent optional argument null, so nulls count as absent.
  const parsed = (TOOL_ARGS[call.name] as z.ZodObject).safeParse(withoutNulls(call.arguments ?? {}));
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(arguments)"}: ${issue.message}`).join("; ");
    return { status: "error", observation: `The arguments for ${call.name} were not valid: ${issues}. Call it again with arguments that match its schema.` };
  }
  const handler = handlers[call.name] as (args: unknown) => Promise<Step>;
  return handler(parsed.data);
}

function withoutNulls(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([, value]) => value !== null));
}

/** Unsafe paths (`..`, absolute, .git) are refused here; only the rest reach the rule layer. */
async function decideScope(requestScope: ToolboxOptions["requestScope"], paths: string[], reason: string): Promise<ScopeDecision> {
  const unsafe: ScopeDecision["refused"] = [];
  const safe: string[] = [];
  for (const requested of paths) {
    try {
      checkRelativePath(requested);
      safe.push(requested);
    } catch (error) {
      if (!(error instanceof UnsafePathError)) throw error;
      unsafe.push({ path: requested, reason: error.message });
    }
  }
  const decision = safe.length > 0 ? await requestScope(safe, reason) : { granted: [], refused: [] };
  return { granted: decision.granted, refused: [...unsafe, ...decision.refused] };
}

function scopeStep(decision: ScopeDecision): Step {
  const lines: string[] = [];
  if (decision.granted.length > 0) lines.push(`Granted: ${decision.granted.join(", ")}. You may now edit these paths.`);
  for (const refusal of decision.refused) lines.push(`Refused: ${refusal.path}: ${refusal.reason}`);
  if (lines.length === 0) lines.push("Nothing was granted.");
  return { status: decision.granted.length > 0 ? "ok" : "refused", observation: lines.join("\n") };
}
