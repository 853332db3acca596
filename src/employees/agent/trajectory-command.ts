// `aura trajectory <task> [--json]`: a task's work runs and every step of each, read from the trajectory store
// (trajectory.ts). The task is named by its id or as `owner/repo#issue:task-key` (also `owner/repo#issue/task-key`,
// the audit log's subject for a task). Text output is one block per run and one line per step, cut to fit a
// terminal; --json prints everything stored, observations whole.
import { parseArgs } from "node:util";
import { commandOf, findTask, loadTrajectory, type StoredStep, type TaskRef, type WorkRun } from "./trajectory.js";

type Queryable = Parameters<typeof loadTrajectory>[0];

export const TRAJECTORY_USAGE = "aura trajectory <task> [--json]";

/** Characters of a step's arguments and of its observation's first line in the text output. */
const ARGS_CHARS = 48;
const OBSERVATION_CHARS = 72;

/** Prints the task's trajectory; 1 with one message when the task is unknown, 2 on bad usage. */
export async function runTrajectoryCommand(db: Queryable, args: string[], out: NodeJS.WritableStream): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    out.write(`${error instanceof Error ? error.message : String(error)}\nUsage: ${TRAJECTORY_USAGE}\n`);
    return 2;
  }
  const task = await findTask(db, parsed.ref);
  if (!task) {
    out.write(
      `No task matches ${JSON.stringify(parsed.text)}. Name it by its id (aura trajectory 12) or as owner/repo#issue:task-key (aura trajectory octo-org/widgets#42:fix-login).\n`,
    );
    return 1;
  }
  const runs = await loadTrajectory(db, task.id);
  if (parsed.json) {
    out.write(`${JSON.stringify({ task, runs }, null, 2)}\n`);
    return 0;
  }
  out.write(`Task ${task.id} · ${task.repo}#${task.issueNumber}:${task.key} · ${task.title} (${task.state})\n`);
  if (runs.length === 0) out.write("No work runs yet: no employee has started on this task.\n");
  for (const [index, run] of runs.entries()) out.write(`\n${runText(index + 1, run)}`);
  return 0;
}

function parse(args: string[]): { ref: TaskRef; text: string; json: boolean } {
  const { values, positionals } = parseArgs({ args, options: { json: { type: "boolean" } }, allowPositionals: true });
  const [text, ...extra] = positionals;
  if (text === undefined) throw new Error("Name the task: its id, or owner/repo#issue:task-key.");
  if (extra.length > 0) throw new Error(`One task at a time: ${JSON.stringify(extra[0])} is one too many.`);
  if (/^\d+$/.test(text)) {
    if (!Number.isSafeInteger(Number(text))) throw new Error(`${text} is too large to be a task id.`);
    return { ref: { id: Number(text) }, text, json: values.json === true };
  }
  const match = /^([\w.-]+\/[\w.-]+)#(\d+)[:/](.+)$/.exec(text);
  if (!match) throw new Error(`${JSON.stringify(text)} is not a task id or owner/repo#issue:task-key.`);
  return { ref: { repo: match[1] as string, issueNumber: Number(match[2]), key: match[3] as string }, text, json: values.json === true };
}

function runText(number: number, run: WorkRun & { stepRecords: StoredStep[] }): string {
  const ended = run.endedAt ? `ended ${run.endedAt.toISOString()} (${seconds(run.endedAt.getTime() - run.startedAt.getTime())})` : "still open";
  const turns = run.stepRecords.filter((step) => step.kind === "turn").length;
  const cap = run.maxSteps === null ? "" : ` of at most ${run.maxSteps}`;
  const lines = [
    `Run ${number} (id ${run.id}) · ${run.employeeId} · ${run.mode} · attempt ${run.attempt}, revision round ${run.revisionRound}`,
    `  started ${run.startedAt.toISOString()}, ${ended} · end: ${run.endReason ?? "none yet"} · ${plural(run.steps, "step")} (${plural(turns, "model turn")}${cap})`,
    `  digest ${run.digest ?? "none (the run has not ended)"}`,
  ];
  if (run.guidance.length > 0) lines.push(`  guidance: ${run.guidance.join(", ")}`);
  if (run.filesChanged.length > 0) lines.push(`  changed: ${run.filesChanged.join(", ")}`);
  if (run.stepRecords.length > 0)
    lines.push(
      `  ${"step".padStart(4)}  ${"tool".padEnd(14)} ${"arguments".padEnd(ARGS_CHARS)} ${"exit".padStart(4)} ${"ms".padStart(6)} ${"tokens".padStart(11)} ${"cost".padStart(9)}  observation`,
    );
  for (const step of run.stepRecords) lines.push(`  ${stepText(step)}`);
  return `${lines.join("\n")}\n`;
}

function stepText(step: StoredStep): string {
  const tool = step.kind === "tool" ? (step.tool ?? "?") : step.kind === "turn" ? `(turn)` : "(shortening)";
  const args = step.kind === "tool" ? shortArgs(step) : step.kind === "turn" ? (step.model ?? "") : "";
  const ms = step.kind === "turn" ? step.latencyMs : step.durationMs;
  const tokens = step.inputTokens === null && step.outputTokens === null ? "" : `${step.inputTokens ?? 0}+${step.outputTokens ?? 0}`;
  const cost = step.costUsd === null ? "" : `$${step.costUsd.toFixed(4)}`;
  return [
    String(step.step).padStart(4),
    "",
    cut(tool, 14).padEnd(14),
    cut(args, ARGS_CHARS).padEnd(ARGS_CHARS),
    (step.exitCode === null ? "" : String(step.exitCode)).padStart(4),
    (ms === null ? "" : String(ms)).padStart(6),
    tokens.padStart(11),
    cost.padStart(9),
    "",
    cut(firstLine(step.observation ?? ""), OBSERVATION_CHARS),
  ].join(" ");
}

/** A tool call's arguments in short: the command of run_command, else `key=value` pairs (the raw text when not JSON). */
function shortArgs(step: StoredStep): string {
  if (step.tool === "run_command") return oneLine(commandOf(step));
  try {
    const parsed: unknown = JSON.parse(step.arguments ?? "");
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
      return Object.entries(parsed)
        .map(([key, value]) => `${key}=${oneLine(typeof value === "string" ? value : JSON.stringify(value))}`)
        .join(" ");
    }
  } catch {
    // Arguments that are not JSON are shown as the model sent them.
  }
  return oneLine(step.arguments ?? "");
}

function firstLine(text: string): string {
  return text.split("\n").find((line) => line.trim() !== "") ?? "";
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function cut(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars - 1)}…` : text;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
