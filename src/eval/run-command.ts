// The command line of `aura eval run --tasks FILE --employees a,b [--repo DIR] [--attempts K] [--concurrency C]
// [--out DIR] [--work-dir DIR] [--json] [--record DIR | --replay DIR]`: checks its input before anything runs (one message, exit
// 2), runs the eval (progress on standard error), and prints the figures per employee and task class as a table,
// or as JSON with --json. Exit 0 when every attempt was graded, 1 when a replay missed a recording.
import path from "node:path";
import { parseArgs } from "node:util";
import type { SandboxOptions } from "../workspace/index.js";
import { EvalInputError, orInputError } from "./errors.js";
import { ReplayMissing } from "./record.js";
import { INTERVAL_METHOD } from "../accountant/eval-results.js";
import { renderTable } from "./report.js";
import { runEval, type EvalRunResult } from "./run.js";

export const EVAL_RUN_USAGE =
  "aura eval run --tasks FILE --employees a,b [--repo DIR] [--attempts K] [--concurrency C] [--out DIR] [--work-dir DIR] [--json] [--record DIR | --replay DIR]";

export type EvalRunIo = { out: NodeJS.WritableStream; err: NodeJS.WritableStream; env: NodeJS.ProcessEnv; cwd?: string };

type RunArgs = {
  tasks: string;
  employees: string[];
  repo: string;
  attempts: number;
  concurrency: number;
  out: string;
  /** Where the attempts' scratch repositories, the app's work trees and grading's trees go (default: src/eval/work-dir.ts). */
  workDir: string | undefined;
  json: boolean;
  record: string | undefined;
  replay: string | undefined;
};

function count(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^[1-9]\d*$/.test(value) || Number(value) > max)
    throw new EvalInputError(`--${name} ${value} is not a whole number from 1 to ${max}; use e.g. --${name} ${fallback === 1 ? 2 : fallback}.`);
  return Number(value);
}

export function parseRunArgs(args: string[], cwd: string): RunArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: false,
      options: {
        tasks: { type: "string" },
        employees: { type: "string" },
        repo: { type: "string" },
        attempts: { type: "string" },
        concurrency: { type: "string" },
        out: { type: "string" },
        "work-dir": { type: "string" },
        json: { type: "boolean" },
        record: { type: "string" },
        replay: { type: "string" },
      },
    });
  } catch (error) {
    throw new EvalInputError(`${error instanceof Error ? error.message : String(error)}. Usage: ${EVAL_RUN_USAGE}`);
  }
  const { values } = parsed;
  if (values.tasks === undefined) throw new EvalInputError(`Give the task file with --tasks FILE (made by aura eval mine). Usage: ${EVAL_RUN_USAGE}`);
  const employees = (values.employees ?? "")
    .split(",")
    .map((id) => id.trim())
    .filter((id) => id !== "");
  if (employees.length === 0)
    throw new EvalInputError(`Name the employees to measure with --employees a,b (ids from policies/employees.yml). Usage: ${EVAL_RUN_USAGE}`);
  if (new Set(employees).size !== employees.length) throw new EvalInputError(`--employees names an employee twice: ${values.employees ?? ""}.`);
  if (values.record !== undefined && values.replay !== undefined) throw new EvalInputError("Give --record DIR or --replay DIR, not both.");
  return {
    tasks: path.resolve(cwd, values.tasks),
    employees,
    repo: path.resolve(cwd, values.repo ?? "."),
    attempts: count("attempts", values.attempts, 1, 100),
    concurrency: count("concurrency", values.concurrency, 1, 16),
    out: path.resolve(cwd, values.out ?? "aura-eval"),
    workDir: values["work-dir"] === undefined ? undefined : path.resolve(cwd, values["work-dir"]),
    json: values.json === true,
    record: values.record === undefined ? undefined : path.resolve(cwd, values.record),
    replay: values.replay === undefined ? undefined : path.resolve(cwd, values.replay),
  };
}

function summaryJson(args: RunArgs, result: EvalRunResult) {
  return {
    tasks: args.tasks,
    repo: args.repo,
    attempts: args.attempts,
    run_id: result.runId,
    results_file: result.resultsFile,
    trajectories: result.trajectories,
    work_dir: result.workDir,
    ran: result.ran,
    skipped: result.skipped,
    interval: INTERVAL_METHOD,
    traffic: result.traffic,
    employees: result.summary,
  };
}

/** Runs `aura eval run`. */
export async function runEvalCommand(args: string[], io: EvalRunIo, sandbox: SandboxOptions): Promise<number> {
  const say = (message: string) => io.err.write(`aura eval run: ${message}\n`);
  const parsed = await orInputError(() => parseRunArgs(args, io.cwd ?? process.cwd()), say);
  if (!parsed) return 2;
  const input = parsed.value;
  let ran: { value: EvalRunResult } | undefined;
  try {
    ran = await orInputError(
      () =>
        runEval({
          tasksFile: input.tasks,
          repoPath: input.repo,
          employees: input.employees,
          attempts: input.attempts,
          concurrency: input.concurrency,
          outDir: input.out,
          workDir: input.workDir,
          record: input.record,
          replay: input.replay,
          env: io.env,
          sandbox,
          onProgress: (text) => io.err.write(`aura eval: ${text}\n`),
          stderr: io.err,
        }),
      say,
    );
  } catch (error) {
    if (!(error instanceof ReplayMissing)) throw error;
    say(error.message);
    return 1;
  }
  if (!ran) return 2;
  const result = ran.value;
  if (input.json) {
    io.out.write(`${JSON.stringify(summaryJson(input, result), null, 2)}\n`);
    return 0;
  }
  const lines = [
    renderTable(result.summary),
    `Results: ${result.resultsFile} (${result.ran} attempt${result.ran === 1 ? "" : "s"} run now, ${result.skipped} graded before and skipped).`,
    `Trajectories: ${result.trajectories}/<instance>__<employee>__<attempt>.json`,
    `Eval run ${result.runId} is recorded in the app's database: the scoreboard shows it labelled "eval", and a director can accept it as an employee's trial with /aura trial <employee> eval ${result.runId}.`,
  ];
  if (result.traffic)
    lines.push(
      `Model traffic: ${result.traffic.mode === "record" ? `${result.traffic.recorded} replies recorded` : `${result.traffic.replayed} replies replayed`} in ${result.traffic.dir}.`,
    );
  io.out.write(`${lines.join("\n")}\n`);
  return 0;
}
