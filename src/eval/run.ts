// `aura eval run`: gives each employee each task of a task file, `attempts` times. An attempt is local mode
// (src/local, the same code paths as live work) on a scratch repository of its own, a fresh clone-free checkout
// of the task's base commit that borrows the user's objects (the user's repository is only read): the problem
// statement is the requirement, the employee the only one on the run, and the test patch is nowhere the agent can
// see it. The resulting `aura/…` branch heads are then graded in the sandbox (grade.ts). Each graded attempt is a
// line appended to DIR/results.jsonl as it finishes, with its trajectory in DIR/trajectories/, so a killed eval
// started again skips what is graded and continues. Attempts run `concurrency` at a time, each slot on its own
// database (the app's workers of two runs must not share a queue).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { loadConfig } from "../config/env.js";
import { loadPolicySet } from "../config/policy-files.js";
import { startEmbeddedPostgres } from "../db/embedded.js";
import { migrate } from "../db/migrate.js";
import { createPool } from "../db/pool.js";
import { loadTrajectory } from "../employees/agent/trajectory.js";
import { openLocalSession, type LocalSession } from "../local/api.js";
import type { LocalReport } from "../local/report.js";
import type { LocalRunOptions } from "../local/run.js";
import { git, type GitTarget, type SandboxOptions } from "../workspace/index.js";
import { EvalInputError } from "./errors.js";
import { gradeAttempt } from "./grade.js";
import { objectsDirOf } from "./scratch.js";
import { installModelTraffic, type ModelTraffic } from "./record.js";
import { summarise, type AttemptResult, type EmployeeFigures } from "./report.js";
import { openRepository, type MinedRepository } from "./repository.js";
import { endEvalRun, openEvalRun, recordEvalAttempts } from "../accountant/eval-results.js";
import { readTaskFile, TaskFileError, type EvalTask } from "./task-file.js";
import { checkoutBytes, chooseWorkDir } from "./work-dir.js";

export type EvalRunInput = {
  tasksFile: string;
  /** The repository the tasks come from (read only). */
  repoPath: string;
  employees: string[];
  attempts: number;
  concurrency: number;
  outDir: string;
  /**
   * Where the attempts' scratch repositories, the app's work trees and grading's trees are made and removed
   * (default: a tmpfs with room, else `<outDir>/work`; src/eval/work-dir.ts): every attempt checks the repository
   * out several times, so a fast file system here is what makes the most difference.
   */
  workDir?: string | undefined;
  record?: string | undefined;
  replay?: string | undefined;
  env: NodeJS.ProcessEnv;
  sandbox: SandboxOptions;
  /** One line per attempt started and finished. */
  onProgress: (text: string) => void;
  /** Local mode's own progress lines. */
  stderr: NodeJS.WritableStream;
  /** Give up on an attempt after this long (local mode's default: 60 minutes). */
  timeoutMs?: number | undefined;
  /** Benchmarks only (bench:eval): local mode's model clients replaced, as LocalRunOptions.modelOverride. */
  modelOverride?: LocalRunOptions["modelOverride"];
};

export type EvalRunResult = {
  resultsFile: string;
  trajectories: string;
  /** Attempts graded by an earlier, interrupted run of the same eval and skipped now. */
  skipped: number;
  ran: number;
  results: AttemptResult[];
  summary: EmployeeFigures[];
  /** The eval run's id in the app's database (`/aura trial <employee> eval <id>`). */
  runId: number;
  /** Where the scratch checkouts were made (--work-dir, a tmpfs removed at the end, or `work/` in --out). */
  workDir: { path: string; kind: "given" | "tmpfs" | "out" };
  traffic: { mode: "record" | "replay"; dir: string; recorded: number; replayed: number } | null;
};

type Attempt = { task: EvalTask; employee: string; attempt: number };

const RESULTS = "results.jsonl";
/** What openScratch (mkdtemp) names grading's scratch repository in the work folder. */
const GRADING_SCRATCH = /^aura-eval-[A-Za-z0-9]{6}$/;
/** The folder in the work folder where slot N's app keeps its log and caches (`app-N`, removed when the slot ends). */
const APP_DIR_PREFIX = "app-";
const gitEnv = () => ({
  PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
  HOME: process.env.HOME ?? "/nonexistent",
  LANG: "C",
  GIT_CONFIG_NOSYSTEM: "1",
});
const run = promisify(execFile);

const keyOf = (item: { instance_id: string; employee: string; attempt: number }) => `${item.instance_id}\u0000${item.employee}\u0000${item.attempt}`;
const slug = (item: Attempt) => `${item.task.instance_id}__${item.employee}__${item.attempt}`.replace(/[^A-Za-z0-9._-]/g, "-");

/** The graded attempts already in the results file; a last line cut short by a killed run is ignored. */
function readResults(file: string): AttemptResult[] {
  if (!existsSync(file)) return [];
  const results: AttemptResult[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      results.push(JSON.parse(line) as AttemptResult);
    } catch {
      // a line the killed run did not finish writing: that attempt runs again
    }
  }
  return results;
}

/** A killed run may leave half a line at the end of the results file: it is cut off so appending stays clean. */
function repairResults(file: string): void {
  if (!existsSync(file)) return;
  const text = readFileSync(file, "utf8");
  if (text === "" || text.endsWith("\n")) return;
  writeFileSync(file, text.slice(0, text.lastIndexOf("\n") + 1));
}

/** Whether the tree at `sha` names a test command (.github/aura.yml `test:` or a package.json test script). */
async function hasTestCommand(repo: MinedRepository, sha: string): Promise<boolean> {
  const show = async (file: string) => {
    const result = await git(repo.target, ["show", `${sha}:${file}`], { okExitCodes: [128] });
    return result.exitCode === 0 ? result.stdout : undefined;
  };
  if (/^test:\s*\S/m.test((await show(".github/aura.yml")) ?? "")) return true;
  try {
    const script = (JSON.parse((await show("package.json")) ?? "{}") as { scripts?: { test?: unknown } }).scripts?.test;
    return typeof script === "string" && !/no test specified/.test(script);
  } catch {
    return false;
  }
}

/** Everything that can be checked before anything runs; throws EvalInputError with one message. */
async function checkInput(input: EvalRunInput): Promise<{ tasks: EvalTask[]; repo: MinedRepository }> {
  let tasks: EvalTask[];
  try {
    tasks = await readTaskFile(input.tasksFile);
  } catch (error) {
    if (error instanceof TaskFileError) throw new EvalInputError(error.message);
    throw error;
  }
  if (tasks.length === 0) throw new EvalInputError(`${input.tasksFile} holds no tasks. Make some with aura eval mine <repo> --out ${input.tasksFile}.`);
  const known = loadPolicySet().employees.employees.map((employee) => employee.id);
  const unknown = input.employees.filter((id) => !known.includes(id));
  if (unknown.length > 0) {
    throw new EvalInputError(
      `Unknown employee${unknown.length === 1 ? "" : "s"} ${unknown.map((id) => `"${id}"`).join(", ")}: policies/employees.yml has ${known.join(", ")}. Nothing was run.`,
    );
  }
  const repo = await openRepository(input.repoPath);
  const checked = new Map<string, string>();
  for (const task of tasks) {
    const full =
      checked.get(task.base_commit) ??
      (await git(repo.target, ["rev-parse", "--verify", "--quiet", `${task.base_commit}^{commit}`], { okExitCodes: [1, 128] })).stdout.trim();
    if (full === "") {
      throw new EvalInputError(
        `Task ${task.instance_id}: base_commit ${task.base_commit} is not a commit of ${repo.root}. Give the repository the tasks were made from with --repo (or fetch that commit). Nothing was run.`,
      );
    }
    if (!checked.has(task.base_commit) && !(await hasTestCommand(repo, full))) {
      throw new EvalInputError(
        `Task ${task.instance_id}: the tree at ${full.slice(0, 12)} names no test command (\`test:\` in .github/aura.yml or a package.json test script), which local mode's Auditor needs. Nothing was run.`,
      );
    }
    checked.set(task.base_commit, full);
    task.base_commit = full;
  }
  if (existsSync(input.outDir) && !statSync(input.outDir).isDirectory())
    throw new EvalInputError(`--out ${input.outDir} is a file; give a folder for the results.`);
  if (input.workDir !== undefined && existsSync(input.workDir) && !statSync(input.workDir).isDirectory())
    throw new EvalInputError(`--work-dir ${input.workDir} is a file; give a folder for the scratch repositories and work trees.`);
  return { tasks, repo };
}

/**
 * The eval's databases. The main one is the app's own (DATABASE_URL, or the embedded server in AURA_DATA_DIR as
 * `npm start` uses it): the eval's results go there, so the app's scoreboard and `/aura trial` can read them.
 * Local mode runs a copy of the app per slot, each on a database of its own named `<db>_eval_<n>`: the app's
 * workers of two runs, or of a running app and an eval, must never share a queue.
 */
async function evalDatabases(env: NodeJS.ProcessEnv, count: number): Promise<{ main: string; slots: string[]; stop: () => Promise<void> }> {
  // The embedded server as `npm start` runs it: the same data directory and port (the command line checked them).
  const config = loadConfig(env);
  const embedded = env.DATABASE_URL ? undefined : await startEmbeddedPostgres({ dataDir: config.AURA_DATA_DIR, port: config.AURA_PG_PORT });
  const main = env.DATABASE_URL ?? (embedded?.url as string);
  const slots: string[] = [];
  const database = new URL(main).pathname.slice(1);
  const client = new pg.Client({ connectionString: main });
  try {
    await client.connect();
    for (let slot = 1; slot <= count; slot++) {
      const copy = `${database}_eval_${slot}`;
      const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [copy]);
      if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${copy.replace(/"/g, '""')}"`);
      const url = new URL(main);
      url.pathname = `/${copy}`;
      slots.push(url.toString());
    }
  } catch (error) {
    await embedded?.stop();
    throw new EvalInputError(
      `The eval runs the app on a database of its own per slot (${database}_eval_1…) and creating one failed (${error instanceof Error ? error.message : String(error)}); grant the role of DATABASE_URL CREATEDB, or create those databases yourself. Nothing was run.`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  return { main, slots, stop: async () => void (await embedded?.stop()) };
}

/**
 * A repository at `base` on branch `eval` in `dir`, borrowing the user's objects (never writing to them). Nothing
 * reads its files: the app clones it, and local mode reads its config and test command from the commit. So its
 * checkout is sparse with no path in it: the index holds the commit (a clean status), and none of the files are
 * written (1,000 files took ~0.15 s to write and as long to delete).
 */
async function scratchRepository(repo: MinedRepository, base: string, dir: string): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  const env = gitEnv();
  const objects = await objectsDirOf(repo.target);
  await run("git", ["init", "--quiet", "--initial-branch=eval", dir], { env });
  writeFileSync(path.join(dir, ".git", "objects", "info", "alternates"), `${objects}\n`);
  await run("git", ["update-ref", "refs/heads/eval", base], { cwd: dir, env });
  mkdirSync(path.join(dir, ".git", "info"), { recursive: true });
  writeFileSync(path.join(dir, ".git", "info", "sparse-checkout"), "");
  // Sparse for this one command: the index it writes marks every file skip-worktree, which is all later commands
  // (status, the app's clone) need.
  await run("git", ["-c", "core.sparseCheckout=true", "read-tree", "-u", "--reset", "HEAD"], { cwd: dir, env });
}

/** Keeps the attempt's trajectory (every work run of every task, with its steps) and counts its steps. */
async function keepTrajectory(pool: pg.Pool, report: LocalReport, file: string): Promise<number> {
  const tasks = [];
  let steps = 0;
  for (const task of report.tasks) {
    const runs = await loadTrajectory(pool, task.id);
    steps += runs.reduce((sum, item) => sum + item.steps, 0);
    tasks.push({ key: task.key, id: task.id, employee: task.employee, state: task.state, branch: task.branch, headSha: task.headSha, runs });
  }
  writeFileSync(file, `${JSON.stringify({ report, tasks }, null, 2)}\n`);
  return steps;
}

/** The app's environment for an attempt: the slot's database; a replay answers from the recordings, so the providers only need to look configured. */
function attemptEnv(input: EvalRunInput, databaseUrl: string, traffic: ModelTraffic | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...input.env, DATABASE_URL: databaseUrl };
  if (traffic?.mode === "replay") Object.assign(env, { OPENAI_API_KEY: env.OPENAI_API_KEY ?? "replay", GEMINI_API_KEY: env.GEMINI_API_KEY ?? "replay" });
  return env;
}

/** A slot's local-mode session (the app started once for the slot's attempts of one employee). */
type SlotSession = { employee: string; session: LocalSession };

async function runAttempt(
  item: Attempt,
  context: {
    input: EvalRunInput;
    repo: MinedRepository;
    /** The eval's work folder (chooseWorkDir's). */
    work: string;
    pool: pg.Pool;
    traffic: ModelTraffic | undefined;
    removals: Promise<void>[];
    session: LocalSession;
    /** Closes the slot's session (a run that did not settle): the next attempt starts a new app. */
    unsettled: () => Promise<void>;
  },
): Promise<AttemptResult> {
  const { input, repo, traffic } = context;
  const name = slug(item);
  const dir = path.join(context.work, name);
  await scratchRepository(repo, item.task.base_commit, dir);
  const { report, settled } = await context.session.run({
    repoPath: dir,
    requirement: item.task.problem_statement,
    ...(traffic ? { signal: traffic.signal } : {}),
    ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}),
  });
  // A run that stopped waiting may still be working (pushing to its branches, spending on models): its app is
  // stopped before the branches are read and graded.
  if (!settled) await context.unsettled();
  const miss = traffic?.misses[0];
  if (miss) throw miss;
  const trajectory = path.join("trajectories", `${name}.json`);
  const steps = await keepTrajectory(context.pool, report, path.join(input.outDir, trajectory));
  const heads = report.tasks.flatMap((task) => (task.headSha ? [task.headSha] : []));
  const source: GitTarget = { gitDir: path.join(dir, ".git"), protocols: [] };
  // Grading's scratch repository (in the eval's work folder) and the attempt's (1,000 files and the app's work
  // trees take ~0.2 s to delete) go while the slot's next attempt starts; runEval waits for every removal before
  // it returns. A killed run's leftover attempt is removed when the attempt runs again (scratchRepository).
  const grade = await gradeAttempt({
    task: item.task,
    source,
    heads,
    sandbox: input.sandbox,
    scratchParent: context.work,
    deferRemoval: (removal) => context.removals.push(removal),
    ...(input.timeoutMs ? { timeoutMs: input.timeoutMs } : {}),
  });
  context.removals.push(rm(dir, { recursive: true, force: true }));
  const result: AttemptResult = {
    instance_id: item.task.instance_id,
    employee: item.employee,
    attempt: item.attempt,
    task_class: item.task.task_class ?? "unclassified",
    resolved: grade.resolved,
    reason: grade.reason,
    outcome: report.outcome,
    cost_usd: report.costUsd,
    seconds: report.seconds,
    test_seconds: grade.testSeconds,
    steps,
    heads,
    trajectory,
  };
  return result;
}

type EvalResultsStore = {
  runId: number;
  record: (results: readonly AttemptResult[]) => Promise<void>;
  end: () => Promise<void>;
  close: () => Promise<void>;
};

/** Who ran the eval: the login of the person at this machine, as eval_runs.run_by. */
function runBy(): string {
  try {
    return os.userInfo().username || "unknown";
  } catch {
    return "unknown";
  }
}

/** Opens (or, resuming, reopens) the eval run's row in the app's database, migrating it first. */
async function openResultsStore(url: string, input: EvalRunInput): Promise<EvalResultsStore> {
  await migrate(input.env.MIGRATION_DATABASE_URL ?? url);
  const pool = createPool(url, { max: 1 });
  try {
    const runId = await openEvalRun(pool, {
      tasksDigest: createHash("sha256").update(readFileSync(input.tasksFile)).digest("hex"),
      tasksFile: path.resolve(input.tasksFile),
      outDir: path.resolve(input.outDir),
      runBy: runBy(),
    });
    return {
      runId,
      record: (results) => recordEvalAttempts(pool, runId, results),
      end: () => endEvalRun(pool, runId),
      close: () => pool.end(),
    };
  } catch (error) {
    await pool.end();
    throw error;
  }
}

/** Runs the eval; throws EvalInputError for input it cannot use (before anything runs) and ReplayMissing. */
/**
 * Every attempt this eval asks for (each task, employee and attempt number): those still to run, in order, and
 * the keys of all of them; attempts already in the results file (an earlier, interrupted run) are skipped.
 */
function planAttempts(
  tasks: readonly EvalTask[],
  input: Pick<EvalRunInput, "employees" | "attempts">,
  earlier: readonly AttemptResult[],
): { queue: Attempt[]; wanted: Set<string>; skipped: number } {
  const done = new Set(earlier.map(keyOf));
  const queue: Attempt[] = [];
  const wanted = new Set<string>();
  for (const task of tasks)
    for (const employee of input.employees)
      for (let attempt = 1; attempt <= input.attempts; attempt++) {
        const key = keyOf({ instance_id: task.instance_id, employee, attempt });
        wanted.add(key);
        if (!done.has(key)) queue.push({ task, employee, attempt });
      }
  return { queue, wanted, skipped: earlier.filter((result) => wanted.has(keyOf(result))).length };
}

export async function runEval(input: EvalRunInput): Promise<EvalRunResult> {
  const { tasks, repo } = await checkInput(input);
  // Where the checkouts go: --work-dir, else a tmpfs with room, else inside --out (src/eval/work-dir.ts).
  const chosen = chooseWorkDir({
    outDir: input.outDir,
    workDir: input.workDir,
    concurrency: input.concurrency,
    checkoutBytes: await checkoutBytes(repo.target),
  });
  const work = chosen.path;
  const resultsFile = path.join(input.outDir, RESULTS);
  repairResults(resultsFile);
  const { queue, wanted, skipped } = planAttempts(tasks, input, readResults(resultsFile));
  // Checks the replay folder before anything is written.
  const mode = input.record ? "record" : input.replay ? "replay" : undefined;
  const traffic = mode
    ? installModelTraffic({ mode, dir: (input.record ?? input.replay) as string, env: input.env, paths: [path.resolve(input.outDir), repo.root] })
    : undefined;
  const total = queue.length;
  let started = 0;
  let ran = 0;
  let stopping = false;
  let databases: Awaited<ReturnType<typeof evalDatabases>> | undefined;
  let store: EvalResultsStore | undefined;
  let runId = 0;
  const removals: Promise<void>[] = [];
  try {
    mkdirSync(path.join(input.outDir, "trajectories"), { recursive: true });
    if (chosen.kind === "tmpfs") input.stderr.write(`aura eval: scratch checkouts in ${work} (a tmpfs; --work-dir chooses another folder)\n`);
    mkdirSync(work, { recursive: true, mode: 0o711 });
    chmodSync(work, 0o711);
    // Grading's scratch repositories left by a killed run (an attempt's own folder always has "__" in its name).
    for (const entry of readdirSync(work)) if (GRADING_SCRATCH.test(entry)) removals.push(rm(path.join(work, entry), { recursive: true, force: true }));
    databases = await evalDatabases(input.env, Math.max(1, Math.min(input.concurrency, queue.length)));
    store = await openResultsStore(databases.main, input);
    runId = store.runId;
    const results = store;
    // Each slot starts the app once per employee and gives it the slot's attempts one after another; an attempt
    // that stopped waiting (timeout, a replay without its recording) leaves work behind, so the next gets a new app.
    const worker = async (databaseUrl: string, slot: number) => {
      let current: SlotSession | undefined;
      // The slot's reads of trajectories, on one connection for all its attempts.
      const pool = createPool(databaseUrl, { max: 1 });
      const sessionFor = async (employee: string): Promise<LocalSession> => {
        if (current?.employee === employee) return current.session;
        await current?.session.close();
        current = undefined;
        const session = await openLocalSession({
          employee,
          env: attemptEnv(input, databaseUrl, traffic),
          stderr: input.stderr,
          dataDir: path.join(work, `${APP_DIR_PREFIX}${slot}`),
          ...(input.modelOverride ? { modelOverride: input.modelOverride } : {}),
        });
        current = { employee, session };
        return session;
      };
      try {
        for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
          const label = `${item.task.instance_id} × ${item.employee} #${item.attempt}`;
          input.onProgress(`[${++started}/${total}] ${label}: working`);
          if (stopping) return;
          const attempt = item;
          const unsettled = async () => {
            await current?.session.close();
            current = undefined;
          };
          const result = await sessionFor(attempt.employee)
            .then((session) => runAttempt(attempt, { input, repo, work, pool, traffic, removals, session, unsettled }))
            .catch((error: unknown) => {
              stopping = true;
              throw error;
            });
          appendFileSync(resultsFile, `${JSON.stringify(result)}\n`);
          await results.record([result]);
          ran++;
          input.onProgress(
            `[${started}/${total}] ${label}: ${result.resolved ? "resolved" : "not resolved"} (${result.reason}); $${result.cost_usd.toFixed(4)}, ${result.seconds.toFixed(1)} s`,
          );
        }
      } finally {
        await current?.session.close();
        await pool.end();
        // The app's log and caches of this slot go with the eval's other scratch files.
        removals.push(rm(path.join(work, `${APP_DIR_PREFIX}${slot}`), { recursive: true, force: true }));
      }
    };
    // Every slot finishes its current attempt before the first failure is reported.
    const settled = await Promise.allSettled(
      databases.slots.slice(0, Math.max(1, Math.min(input.concurrency, total))).map((url, index) => worker(url, index + 1)),
    );
    const failed = settled.find((outcome) => outcome.status === "rejected");
    if (failed) throw failed.reason;
    await Promise.all(removals);
    // Attempts graded by an interrupted run whose database write was lost are recorded now; then the run ends.
    await store.record(readResults(resultsFile).filter((result) => wanted.has(keyOf(result))));
    await store.end();
  } finally {
    await Promise.allSettled(removals);
    if (chosen.removeAtEnd) await rm(chosen.path, { recursive: true, force: true });
    traffic?.restore();
    await store?.close();
    await databases?.stop();
  }
  const results = readResults(resultsFile).filter((result) => wanted.has(keyOf(result)));
  return {
    resultsFile,
    trajectories: path.join(input.outDir, "trajectories"),
    skipped,
    ran,
    results,
    summary: summarise(results, input.employees),
    runId,
    workDir: { path: chosen.path, kind: chosen.kind },
    traffic: traffic ? { mode: traffic.mode, dir: traffic.dir, recorded: traffic.recorded, replayed: traffic.replayed } : null,
  };
}
