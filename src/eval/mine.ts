// `aura eval mine`: turns a repository's history into eval tasks. One cheap pass over the history picks the
// commits that change tests and source together (history.ts); each candidate, newest first, is then tried in
// the sandbox on a scratch work tree (no network in the test phase): the tests run on the parent with only the
// test changes applied, then with the whole change, and judge.ts decides. The problem statement is the commit
// message, or with a GitHub token the merged pull request's linked issue or its own text, or the issue a commit
// names (mine-github.ts). Stops once `limit` tasks are kept, or when GitHub stops answering (the kept ones stay).
import { performance } from "node:perf_hooks";
import { defaultRepoCommands, runInSandbox, type SandboxOptions, type SandboxResult } from "../workspace/index.js";
import { git } from "../workspace/index.js";
import { EvalInputError } from "./errors.js";
import { scanHistory, type Candidate, type SkipReason } from "./history.js";
import { judge, type TestRun } from "./judge.js";
import { GitHubStopped, openGitHub, statementFromGitHub, type GitHubMiningOptions, type GitHubStatement, type MiningGitHub } from "./mine-github.js";
import { openRepository, testCommandsOf, type MinedRepository, type TestCommands } from "./repository.js";
import { openScratch, type Scratch } from "./scratch.js";
import type { EvalTask } from "./task-file.js";
import { pathKind } from "./test-paths.js";
import { parseTestResults } from "./test-results.js";

export type MineInput = {
  repoPath: string;
  /** Stop after this many tasks are kept. */
  limit?: number | undefined;
  /** Only commits committed at or after this instant. */
  since?: Date | undefined;
  sandbox: SandboxOptions;
  /** Each task as it is kept (the CLI writes it at once, so an interrupted run keeps what it found). */
  onTask?: (task: EvalTask) => void | Promise<void>;
  /** Progress lines for a person watching. */
  onProgress?: (text: string) => void;
  timeoutMs?: number;
  /** Problem statements from GitHub's pull requests and issues (else the commit messages). */
  github?: GitHubMiningOptions | undefined;
};

export type Rejection = { sha: string; reason: string };

export type MineReport = {
  repo: string;
  examined: number;
  candidates: number;
  skipped: Record<SkipReason, number>;
  kept: EvalTask[];
  rejected: Rejection[];
  /** Candidates not tried because the limit was reached. */
  notTried: number;
  /** Time of the history pass (before any sandbox run), and of the sandbox runs. */
  scanMs: number;
  sandboxMs: number;
  sandboxRuns: number;
  /** `owner/name` when the statements came from GitHub, else null (commit messages only). */
  github: string | null;
  /** How many kept tasks took their statement from each source. */
  statements: Record<GitHubStatement["source"], number>;
  /** Why mining stopped before the candidates ran out or the limit was reached (GitHub stopped answering). */
  stopped: string | null;
};

const OUTPUT_BYTES = 16 * 1024 * 1024;

type Prepared = { candidate: Candidate; patch: string; testPatch: string };

async function diffOf(repo: MinedRepository, candidate: Candidate, files: string[]): Promise<string> {
  if (files.length === 0) return "";
  const pathspecs = files.map((file) => `:(literal)${file}`);
  const args = [
    "diff",
    "--no-color",
    "--no-ext-diff",
    "--no-textconv",
    "--no-renames",
    "--binary",
    "--full-index",
    candidate.parent,
    candidate.sha,
    "--",
    ...pathspecs,
  ];
  return (await git(repo.target, args)).stdout;
}

async function prepare(repo: MinedRepository, candidate: Candidate): Promise<Prepared> {
  const testFiles = candidate.testFiles;
  const otherFiles = candidate.otherFiles;
  return { candidate, testPatch: await diffOf(repo, candidate, testFiles), patch: await diffOf(repo, candidate, otherFiles) };
}

function asRun(result: SandboxResult): TestRun {
  return { exitCode: result.exitCode, timedOut: result.timedOut, results: result.logTruncated ? undefined : parseTestResults(result.log) };
}

type Attempt = { task: Omit<EvalTask, "instance_id" | "repo" | "problem_statement" | "created_at" | "source_commit" | "task_class"> } | { reason: string };

/** Runs one candidate in a scratch tree: setup, tests with the test patch, tests with the whole change. */
async function attempt(scratch: Scratch, commands: TestCommands, prepared: Prepared, input: MineInput, stats: { ms: number; runs: number }): Promise<Attempt> {
  const tree = await scratch.checkout(prepared.candidate.parent);
  const run = async (command: string, phase: "setup" | "test") => {
    const started = performance.now();
    const result = await runInSandbox(input.sandbox, {
      command,
      cwd: tree.path,
      phase,
      maxOutputBytes: OUTPUT_BYTES,
      ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}),
    });
    stats.ms += performance.now() - started;
    stats.runs++;
    return result;
  };
  try {
    const { setup, test } = commands.source === "package.json" ? await defaultRepoCommands(tree.path) : commands;
    if (test === undefined) return { reason: "no test command in the parent's tree" };
    if (setup !== undefined) {
      const prepared = await run(setup, "setup");
      if (prepared.exitCode !== 0)
        return { reason: `setup \`${setup}\` failed on the parent (exit ${String(prepared.exitCode)}${prepared.timedOut ? ", timed out" : ""})` };
    }
    if (!(await tree.apply(prepared.testPatch))) return { reason: "the test changes do not apply to the parent (binary or unusual files?)" };
    const before = asRun(await run(test, "test"));
    if (!(await tree.apply(prepared.patch))) return { reason: "the source changes do not apply after the test run (the run changed tracked files?)" };
    const after = asRun(await run(test, "test"));
    const verdict = judge(
      before,
      after,
      prepared.candidate.testFiles.filter((file) => pathKind(file) === "test"),
    );
    if (!verdict.kept) return { reason: verdict.reason };
    return {
      task: {
        base_commit: prepared.candidate.parent,
        patch: prepared.patch,
        test_patch: prepared.testPatch,
        FAIL_TO_PASS: verdict.failToPass,
        PASS_TO_PASS: verdict.passToPass,
        test_command: test,
        ...(setup !== undefined ? { setup_command: setup } : {}),
        test_unit: verdict.unit,
      },
    };
  } finally {
    await tree.dispose();
  }
}

async function messageOf(repo: MinedRepository, sha: string): Promise<string> {
  return (await git(repo.target, ["log", "-1", "--no-color", "--format=%B", sha])).stdout.trim();
}

/** bugfix when the message says it fixes something, else feature: a rough class for the eval's per-class figures. */
function classOf(message: string): EvalTask["task_class"] {
  return /\b(fix(e[sd])?|bug|regression|crash)\b/i.test(message) ? "bugfix" : "feature";
}

/** The kept candidate's statement, id and class: from GitHub when it is given, else the commit message. */
async function describeKept(repo: MinedRepository, github: MiningGitHub | undefined, candidate: Candidate) {
  const message = await messageOf(repo, candidate.sha);
  const fallback = message === "" ? `(commit ${candidate.sha} has no message)` : message;
  const found: GitHubStatement = github
    ? await statementFromGitHub(github, candidate.sha, fallback)
    : { statement: fallback, source: "commit message", pull: undefined, issue: undefined };
  // SWE-bench's ids: owner__name-<pull request number>; a commit without one keeps its short SHA.
  const prefix = github ? `${github.owner}__${github.name}` : repo.name;
  return {
    ...found,
    repo: github ? `${github.owner}/${github.name}` : repo.name,
    instanceId: `${prefix}-${found.pull === undefined ? candidate.sha.slice(0, 12) : String(found.pull)}`,
    taskClass: classOf(found.source === "commit message" ? message : `${found.statement}\n${message}`),
  };
}

/** Mines `input.repoPath`; throws EvalInputError (before running anything) for input it cannot use. */
export async function mineRepository(input: MineInput): Promise<MineReport> {
  const repo = await openRepository(input.repoPath);
  const commands = await testCommandsOf(repo);
  const github = input.github ? await openGitHub(repo, input.github) : undefined;
  const scanStarted = performance.now();
  const scan = await scanHistory(repo.target, { since: input.since });
  const scanMs = performance.now() - scanStarted;
  if (scan.candidates.length === 0) {
    throw new EvalInputError(
      `No candidate in ${scan.examined} commit${scan.examined === 1 ? "" : "s"}${input.since ? ` since ${input.since.toISOString()}` : ""} of ${repo.root}: ` +
        `none changes tests (test/, tests/, __tests__/, *.test.*, *_test.*, test_*.py, spec/) and source together. Nothing was written.`,
    );
  }
  const report: MineReport = {
    repo: repo.name,
    examined: scan.examined,
    candidates: scan.candidates.length,
    skipped: scan.skipped,
    kept: [],
    rejected: [],
    notTried: 0,
    scanMs,
    sandboxMs: 0,
    sandboxRuns: 0,
    github: github ? `${github.owner}/${github.name}` : null,
    statements: { issue: 0, "pull request": 0, "commit message": 0 },
    stopped: null,
  };
  const stats = { ms: 0, runs: 0 };
  const scratch = await openScratch(repo.target);
  try {
    for (const [index, candidate] of scan.candidates.entries()) {
      if (input.limit !== undefined && report.kept.length >= input.limit) {
        report.notTried = scan.candidates.length - index;
        break;
      }
      input.onProgress?.(`[${index + 1}/${scan.candidates.length}] ${candidate.sha.slice(0, 12)}: running the tests in the sandbox`);
      const outcome = await attempt(scratch, commands, await prepare(repo, candidate), input, stats);
      if ("reason" in outcome) {
        report.rejected.push({ sha: candidate.sha, reason: outcome.reason });
        continue;
      }
      let described;
      try {
        described = await describeKept(repo, github, candidate);
      } catch (error) {
        if (!(error instanceof GitHubStopped)) throw error;
        report.stopped = `${error.message} Mining stopped at ${candidate.sha.slice(0, 12)} (it passed, but has no statement and was not written); ${report.kept.length === 0 ? "no task was kept before it" : `the ${report.kept.length} task${report.kept.length === 1 ? "" : "s"} kept before it ${report.kept.length === 1 ? "is" : "are"} written`}. Run again later (with --since to skip older commits).`;
        report.notTried = scan.candidates.length - index - 1;
        break;
      }
      const task: EvalTask = {
        instance_id: described.instanceId,
        repo: described.repo,
        problem_statement: described.statement,
        created_at: candidate.committedAt.toISOString(),
        source_commit: candidate.sha,
        task_class: described.taskClass,
        ...outcome.task,
      };
      report.statements[described.source]++;
      report.kept.push(task);
      await input.onTask?.(task);
    }
  } finally {
    await scratch.close();
  }
  report.sandboxMs = stats.ms;
  report.sandboxRuns = stats.runs;
  return report;
}
