// Eval mining benchmark: a synthetic repository of 2,000 first-parent commits (built with `git fast-import` in
// well under a second) holding a tiny node:test project, where every 100th commit changes a source file and its
// test together (20 candidates) and the rest change source alone or documentation. Reported apart:
// 1. the history pass: commits examined per second before any sandbox run (median of 9 passes);
// 2. the sandbox runs: `aura eval mine --limit 3` end to end, its sandbox runs and their time;
// 3. `aura eval run`'s overhead per task beyond model and test time: one task on the 1,000-file fixture of
//    bench:task / bench:agent (add() subtracts), attempted ATTEMPTS times by one employee whose model answers at
//    once (the Manager's plan scripted, the agent's turns through the real OpenAI SDK answered by nock). Per
//    attempt: wall time minus the time inside sandboxed setup and test runs (the agent's, the Auditor's on the
//    head and on the base, grading's), read from the app's own aura_sandbox_run_seconds in this process. The
//    earlier estimate (the Auditor taken to run once, at what grading cost) is printed beside it: the Auditor
//    runs setup and tests on both commits, so it counted ~1 s of the repository's own commands as overhead.
//    Measured twice: with the eval's default work folder (the tmpfs at /dev/shm when it has room, else inside
//    --out) and with --work-dir inside --out on the machine's temp disk; the file system of each is printed. The
//    first attempt of each includes starting the app (once per slot and employee).
// Targets: examining >= 500 commits/s; per-task overhead <= 1 s. Run: npm run bench:eval (tsx bench/eval.ts).
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import nock from "nock";
import { loadConfig } from "../src/config/env.js";
import { loadPolicySet } from "../src/config/policy-files.js";
import { scanHistory } from "../src/eval/history.js";
import { runEval } from "../src/eval/run.js";
import { formatTaskLine } from "../src/eval/task-file.js";
import { CircuitBreaker } from "../src/models/circuit-breaker.js";
import { metrics } from "../src/observability/metrics.js";
import { createModelRegistry } from "../src/services.js";
import { scriptedCompany } from "../test/e2e/pipeline-fixture.js";
import { FLOW_PROJECT } from "../test/work/label-to-pull.js";
import { call, openAIAgent, submit, turn, type ChatRequest } from "../test/work/agent-fixtures.js";
import { mineRepository } from "../src/eval/mine.js";
import { openRepository } from "../src/eval/repository.js";
import { probeBwrap } from "../src/workspace/sandbox.js";
import { hermeticGitEnv } from "../test/workspace/git-fixture.js";
import { benchDatabase, machine } from "./database.js";
import { median } from "./stats.js";

const COMMITS = 2_000;
const EVERY = 100;
const PASSES = 9;
const TARGET = 500;
const FILES = 1_000;
const ATTEMPTS = 5;
const TARGET_OVERHEAD_S = 1;

function blob(file: string, content: string): string {
  return `M 100644 inline ${file}\ndata ${Buffer.byteLength(content)}\n${content}\n`;
}

/** A fast-import stream of the synthetic history, oldest first. */
function history(): string {
  const parts: string[] = [];
  for (let i = 1; i <= COMMITS; i++) {
    const message = i % EVERY === 0 ? `Fix feature ${i}` : i % 7 === 0 ? `Document ${i}` : `Change module ${i}`;
    parts.push(`commit refs/heads/main\ncommitter Bench <bench@example.com> ${1_700_000_000 + i * 60} +0000\ndata ${Buffer.byteLength(message)}\n${message}\n`);
    if (i === 1) {
      parts.push(blob(".github/aura.yml", "test: node --test\n"), blob("package.json", "{}\n"));
      parts.push(blob("test/base.test.js", 'require("node:test")("base", () => {});\n'));
    }
    if (i % EVERY === 0) {
      const feature = `src/feature-${i}.js`;
      parts.push(blob(feature, `exports.value = () => ${i};\n`));
      parts.push(
        blob(
          `test/feature-${i}.test.js`,
          `const assert = require("node:assert");\nrequire("node:test")("feature ${i}", () => assert.equal(require("../${feature}").value(), ${i}));\n`,
        ),
      );
    } else if (i % 7 === 0) {
      parts.push(blob(`docs/page-${i % 40}.md`, `# Page ${i}\n`));
    } else {
      parts.push(blob(`src/module-${i % 50}.js`, `exports.v = ${i};\n`));
    }
  }
  return parts.join("");
}

async function main(): Promise<void> {
  const temp = mkdtempSync(path.join(os.tmpdir(), "aura-bench-eval-"));
  chmodSync(temp, 0o711);
  try {
    const repo = path.join(temp, "synthetic");
    const built = performance.now();
    execFileSync("git", ["init", "--quiet", "--initial-branch=main", repo], { env: hermeticGitEnv });
    execFileSync("git", ["fast-import", "--quiet"], { cwd: repo, env: hermeticGitEnv, input: history() });
    execFileSync("git", ["reset", "--quiet", "--hard", "main"], { cwd: repo, env: hermeticGitEnv });
    process.stdout.write(`machine: ${machine()}\nbuilt ${COMMITS} commits with git fast-import in ${((performance.now() - built) / 1000).toFixed(2)} s\n`);

    const opened = await openRepository(repo);
    const rates: number[] = [];
    let candidates = 0;
    for (let pass = 0; pass < PASSES; pass++) {
      const started = performance.now();
      const scan = await scanHistory(opened.target);
      const seconds = (performance.now() - started) / 1000;
      rates.push(scan.examined / seconds);
      candidates = scan.candidates.length;
    }
    const rate = median(rates);
    process.stdout.write(
      `history pass, ${COMMITS} commits: median of ${PASSES} ${Math.round(rate).toLocaleString("en")} commits/s ` +
        `(min ${Math.round(Math.min(...rates)).toLocaleString("en")}, max ${Math.round(Math.max(...rates)).toLocaleString("en")}); ${candidates} candidates; ` +
        `target >= ${TARGET}: ${rate >= TARGET ? "met" : "NOT met"}\n`,
    );

    const probe = probeBwrap();
    if (!probe.ok) {
      process.stdout.write(`sandbox runs skipped: bubblewrap does not work here (${probe.error})\n`);
      return;
    }
    const report = await mineRepository({ repoPath: repo, limit: 3, sandbox: { allowUnsandboxed: false } });
    process.stdout.write(
      `aura eval mine --limit 3: examined ${report.examined} in ${(report.scanMs / 1000).toFixed(3)} s; kept ${report.kept.length}, rejected ${report.rejected.length}; ` +
        `${report.sandboxRuns} sandbox runs in ${(report.sandboxMs / 1000).toFixed(2)} s (${(report.sandboxMs / report.sandboxRuns / 1000).toFixed(2)} s per run)\n`,
    );
    await measureEvalRun(temp);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

/** The 1,000-file fixture with add() broken, and a fix commit (source and a test for it) on top. */
function evalFixture(temp: string): { repo: string; base: string; fix: string } {
  const repo = path.join(temp, "widgets");
  const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, env: hermeticGitEnv, encoding: "utf8" }).trim();
  mkdirSync(repo);
  git("init", "--quiet", "--initial-branch=main");
  const files: Record<string, string> = { ...FLOW_PROJECT, ".github/aura.yml": "test: node --test test/\nemployees: [gpt-4.1-mini]\n" };
  for (let i = 0; Object.keys(files).length < FILES; i++) files[`lib/module-${i % 25}/file-${i}.js`] = `// module ${i}\nexports.value${i} = ${i};\n`;
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    writeFileSync(path.join(repo, file), content);
  }
  git("add", "-A");
  git("commit", "--quiet", "-m", "widgets");
  const base = git("rev-parse", "HEAD");
  writeFileSync(path.join(repo, "src/math.js"), readFileSync(path.join(repo, "src/math.js"), "utf8").replace("a - b", "a + b"));
  writeFileSync(
    path.join(repo, "test/add.test.js"),
    "const test = require('node:test');\nconst assert = require('node:assert');\nconst { add } = require('../src/math.js');\ntest('adds', () => assert.strictEqual(add(2, 3), 5));\n",
  );
  git("add", "-A");
  git("commit", "--quiet", "-m", "Fix add");
  return { repo, base, fix: git("rev-parse", "HEAD") };
}

type Kept = { tasks: { runs: { stepRecords: { kind: string; tool: string | null; durationMs: number | null }[] }[] }[] };

/** `aura eval run` on one task, ATTEMPTS attempts, with a zero-latency model: the overhead per attempt. */
async function measureEvalRun(temp: string): Promise<void> {
  const { repo, base, fix } = evalFixture(temp);
  const diff = (dir: string) =>
    execFileSync("git", ["diff", "--no-color", "--full-index", "--binary", base, fix, "--", dir], { cwd: repo, env: hermeticGitEnv, encoding: "utf8" });
  const tasksFile = path.join(temp, "tasks.jsonl");
  writeFileSync(
    tasksFile,
    formatTaskLine({
      instance_id: "widgets-add",
      repo: "widgets",
      base_commit: base,
      patch: diff("src"),
      test_patch: diff("test"),
      problem_statement: "add() subtracts; make it add.",
      FAIL_TO_PASS: ["adds"],
      PASS_TO_PASS: ["doubles"],
      test_command: "node --test test/",
      test_unit: "test",
      task_class: "bugfix",
    }),
  );
  const database = await benchDatabase();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: database.url,
    LOG_LEVEL: "silent",
    OPENAI_API_KEY: "sk-bench",
  };
  const company = scriptedCompany();
  const openai = createModelRegistry(
    loadConfig(env),
    new CircuitBreaker(),
  )(loadPolicySet().employees.employees.find((employee) => employee.id === "gpt-4.1-mini") ?? fail("gpt-4.1-mini is not in the registry"));
  // Each attempt's agent: fix, run the tests, submit (its turn read from the conversation, so every attempt starts over).
  const turns = [
    turn(call("edit_file", { path: "src/math.js", search: "exports.add = (a, b) => a - b;", replace: "exports.add = (a, b) => a + b;" })),
    turn(call("run_tests")),
    submit("add() adds now."),
  ];
  openAIAgent([
    (_index: number, request: ChatRequest) =>
      turns[Math.min(request.messages.filter((m) => m.role === "assistant").length, turns.length - 1)] ?? submit("done"),
  ]);
  nock.enableNetConnect(/127\.0\.0\.1|localhost/);
  const run = (label: string, outDir: string, workDir: string | undefined) =>
    measureAttempts({
      label,
      outDir,
      workDir,
      tasksFile,
      repo,
      env,
      modelOverride: (employee) => ({ ...company.override(employee), turn: (request) => openai.turn(request) }),
    });
  try {
    // The eval's default work folder: the tmpfs at /dev/shm when it has room (src/eval/work-dir.ts), else inside --out.
    await run("the default work folder", path.join(temp, "eval-default"), undefined);
    // --work-dir inside --out, on the machine's temp disk (the default before the tmpfs): the same attempts with
    // their checkouts written to and deleted from the disk.
    const disk = path.join(temp, "eval-disk", "work");
    await run(`--work-dir on ${fileSystemOf(temp)} (inside --out)`, path.join(temp, "eval-disk"), disk);
  } finally {
    nock.cleanAll();
    await database.stop();
  }
}

/** The file system type `dir` is on (from /proc/self/mountinfo: the longest mount point above it). */
function fileSystemOf(dir: string): string {
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => {
      const fields = line.split(" ");
      const dash = fields.indexOf("-");
      return { point: fields[4] ?? "", type: dash > 0 ? (fields[dash + 1] ?? "?") : "?" };
    })
    .filter((mount) => mount.point !== "" && (dir === mount.point || dir.startsWith(mount.point === "/" ? "/" : `${mount.point}/`)))
    .sort((a, b) => b.point.length - a.point.length);
  return mounts[0]?.type ?? "an unknown file system";
}

type AttemptsInput = {
  label: string;
  outDir: string;
  workDir: string | undefined;
  tasksFile: string;
  repo: string;
  env: NodeJS.ProcessEnv;
  modelOverride: NonNullable<Parameters<typeof runEval>[0]["modelOverride"]>;
};

/** ATTEMPTS attempts of the task; prints each one's overhead and the median. */
async function measureAttempts(input: AttemptsInput): Promise<void> {
  const marks: number[] = [];
  // Seconds inside sandbox runs so far (every setup and test run of this process: the agent's, the Auditor's on
  // head and base, grading's), read when each attempt starts and ends; the app runs in this process.
  const sandboxed: Promise<number>[] = [];
  const sandboxSeconds = async () =>
    (await metrics().sandboxDuration.get()).values
      .filter((value) => value.metricName === "aura_sandbox_run_seconds_sum")
      .reduce((sum, value) => sum + value.value, 0);
  const result = await runEval({
    tasksFile: input.tasksFile,
    repoPath: input.repo,
    employees: ["gpt-4.1-mini"],
    attempts: ATTEMPTS,
    concurrency: 1,
    outDir: input.outDir,
    workDir: input.workDir,
    env: input.env,
    sandbox: { allowUnsandboxed: false },
    onProgress: () => {
      marks.push(performance.now());
      sandboxed.push(sandboxSeconds());
    },
    stderr: new (await import("node:stream")).PassThrough().resume(),
    modelOverride: input.modelOverride,
  });
  const inSandbox = await Promise.all(sandboxed);
  const rows = result.results.map((item, index) => {
    const wall = ((marks[index * 2 + 1] ?? 0) - (marks[index * 2] ?? 0)) / 1000;
    const sandbox = (inSandbox[index * 2 + 1] ?? 0) - (inSandbox[index * 2] ?? 0);
    const kept = JSON.parse(readFileSync(path.join(input.outDir, item.trajectory), "utf8")) as Kept;
    const agentTests =
      kept.tasks
        .flatMap((task) => task.runs.flatMap((run) => run.stepRecords))
        .filter((step) => step.tool === "run_tests")
        .reduce((sum, step) => sum + (step.durationMs ?? 0), 0) / 1000;
    const tests = agentTests + 2 * item.test_seconds;
    return {
      wall,
      local: item.seconds,
      grade: item.test_seconds,
      agentTests,
      sandbox,
      estimated: wall - tests,
      overhead: wall - sandbox,
      resolved: item.resolved,
    };
  });
  const overhead = median(rows.map((row) => row.overhead));
  const chosen = path.dirname(result.workDir.path);
  const label =
    input.workDir === undefined
      ? `${input.label} (${result.workDir.kind === "tmpfs" ? `${chosen}, ${fileSystemOf(chosen)}` : `inside --out, ${fileSystemOf(chosen)}`})`
      : input.label;
  process.stdout.write(`${label}:\n`);
  for (const [index, row] of rows.entries()) {
    process.stdout.write(
      `  attempt ${index + 1}: ${row.resolved ? "resolved" : "NOT resolved"}; wall ${row.wall.toFixed(2)} s (local mode ${row.local.toFixed(2)} s), ` +
        `sandboxed setup and test runs ${row.sandbox.toFixed(2)} s; overhead ${row.overhead.toFixed(2)} s ` +
        `(the earlier estimate, agent ${row.agentTests.toFixed(2)} s + Auditor ≈ grading ${row.grade.toFixed(2)} s + grading ${row.grade.toFixed(2)} s: ${row.estimated.toFixed(2)} s)\n`,
    );
  }
  process.stdout.write(
    `aura eval run, ${FILES}-file fixture, ${ATTEMPTS} attempts, zero-latency model, ${label}: overhead per task median ${overhead.toFixed(2)} s ` +
      `(earlier estimate ${median(rows.map((row) => row.estimated)).toFixed(2)} s); target <= ${TARGET_OVERHEAD_S} s: ${overhead <= TARGET_OVERHEAD_S ? "met" : "NOT met"}\n`,
  );
}

function fail(message: string): never {
  throw new Error(message);
}

await main();
