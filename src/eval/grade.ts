// Grading one eval attempt in the sandbox, as SWE-bench grades: the attempt's work (its `aura/…` branch heads, one
// per task of the plan, merged together) on the task's base commit, with the files the test patch touches reset
// to the base first, then the hidden test patch applied, then the tests run with no network. Resolved when every
// FAIL_TO_PASS test passes and every PASS_TO_PASS test still passes (by name from the runner's output, judge.ts's
// reading; for tasks whose unit is the whole test file, when the run passes).
import { defaultRepoCommands, git, runInSandbox, type GitTarget, type SandboxOptions } from "../workspace/index.js";
import type { TestRun } from "./judge.js";
import { openScratch } from "./scratch.js";
import type { EvalTask } from "./task-file.js";
import { parseTestResults } from "./test-results.js";

export type Grade = { resolved: boolean; reason: string; testSeconds: number };

const OUTPUT_BYTES = 16 * 1024 * 1024;
const SHOWN = 3;

const list = (names: string[]) =>
  names
    .slice(0, SHOWN)
    .map((name) => JSON.stringify(name))
    .join(", ") + (names.length > SHOWN ? ` and ${names.length - SHOWN} more` : "");

/** The paths a unified diff touches (both sides of each `diff --git` header). */
export function patchPaths(patch: string): string[] {
  const paths = new Set<string>();
  for (const match of patch.matchAll(/^diff --git a\/(\S+) b\/(\S+)$/gm)) {
    if (match[1]) paths.add(match[1]);
    if (match[2]) paths.add(match[2]);
  }
  return [...paths];
}

/** The verdict on a test run of the attempt's work with the test patch applied. */
export function verdictOf(task: Pick<EvalTask, "FAIL_TO_PASS" | "PASS_TO_PASS" | "test_unit">, run: TestRun): { resolved: boolean; reason: string } {
  if (run.timedOut) return { resolved: false, reason: "the tests timed out" };
  if (task.test_unit === "file" || run.results === undefined) {
    if (task.test_unit !== "file" && task.FAIL_TO_PASS.length > 0 && run.results === undefined && run.exitCode !== 0) {
      return { resolved: false, reason: `the tests fail (exit ${String(run.exitCode)}) and name no tests to read` };
    }
    return run.exitCode === 0 ? { resolved: true, reason: "the tests pass" } : { resolved: false, reason: `the tests fail (exit ${String(run.exitCode)})` };
  }
  const results = run.results;
  const failing = (names: string[]) => names.filter((name) => results.get(name) !== "pass");
  const notFixed = failing(task.FAIL_TO_PASS);
  const broken = failing(task.PASS_TO_PASS);
  if (notFixed.length > 0) return { resolved: false, reason: `FAIL_TO_PASS still failing or missing: ${list(notFixed)}` };
  if (broken.length > 0) return { resolved: false, reason: `PASS_TO_PASS broken: ${list(broken)}` };
  return { resolved: true, reason: `all ${task.FAIL_TO_PASS.length} FAIL_TO_PASS and ${task.PASS_TO_PASS.length} PASS_TO_PASS tests pass` };
}

export type GradeInput = {
  task: EvalTask;
  source: GitTarget;
  heads: string[];
  sandbox: SandboxOptions;
  timeoutMs?: number;
  /** Where grading's scratch repository is made (default: the system's temp folder). */
  scratchParent?: string;
  /**
   * Given the scratch repository's removal instead of waiting for it (a checkout of the whole tree takes ~0.1 s
   * to delete): the caller waits for it before it is done.
   */
  deferRemoval?: (removal: Promise<void>) => void;
};

/** Grades the work at `heads` (commits in `source`) against `task`; no head at all is not resolved. */
export async function gradeAttempt(input: GradeInput): Promise<Grade> {
  const { task } = input;
  if (input.heads.length === 0) return { resolved: false, reason: "the run left no branch to grade", testSeconds: 0 };
  const testFiles = patchPaths(task.test_patch);
  const scratch = await openScratch(input.source, input.scratchParent);
  try {
    const tree = await scratch.checkout(task.base_commit);
    for (const head of input.heads) {
      // The attempt's change minus the files the hidden test patch owns (SWE-bench resets those to the base).
      const excluded = testFiles.map((file) => `:(exclude,literal)${file}`);
      const diff = (
        await git(input.source, ["diff", "--no-color", "--no-ext-diff", "--no-renames", "--binary", "--full-index", task.base_commit, head, "--", ...excluded])
      ).stdout;
      // Each task's branch starts from the base, so two tasks that edit one file have diffs whose context the
      // other changed: they are merged in three ways, as merging both branches would, and only a real conflict fails.
      if (!(await tree.apply(diff, { threeWay: true })))
        return { resolved: false, reason: `the work at ${head.slice(0, 12)} conflicts with the other tasks' work on the base`, testSeconds: 0 };
    }
    if (!(await tree.apply(task.test_patch))) return { resolved: false, reason: "the test patch does not apply to the attempt's work", testSeconds: 0 };
    const defaults = task.test_command === undefined ? await defaultRepoCommands(tree.path) : undefined;
    const test = task.test_command ?? defaults?.test;
    const setup = task.setup_command ?? defaults?.setup;
    if (test === undefined) return { resolved: false, reason: "the task has no test_command and the tree no package.json test script", testSeconds: 0 };
    const run = (command: string, phase: "setup" | "test") =>
      runInSandbox(input.sandbox, { command, cwd: tree.path, phase, maxOutputBytes: OUTPUT_BYTES, ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}) });
    let seconds = 0;
    if (setup !== undefined) {
      const prepared = await run(setup, "setup");
      seconds += prepared.durationMs / 1000;
      if (prepared.exitCode !== 0) return { resolved: false, reason: `setup \`${setup}\` failed (exit ${String(prepared.exitCode)})`, testSeconds: seconds };
    }
    const result = await run(test, "test");
    seconds += result.durationMs / 1000;
    const verdict = verdictOf(task, {
      exitCode: result.exitCode,
      timedOut: result.timedOut,
      results: result.logTruncated ? undefined : parseTestResults(result.log),
    });
    return { ...verdict, testSeconds: seconds };
  } finally {
    const removal = scratch.close();
    if (input.deferRemoval) input.deferRemoval(removal);
    else await removal;
  }
}
