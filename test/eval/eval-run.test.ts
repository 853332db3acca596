// `aura eval run` end to end: a calculator with a real history built here, two tasks taken from it (a fix of
// add() and a fix of mul()), one employee whose agent is the real OpenAI SDK with its HTTP scripted by nock (it
// fixes add and fumbles mul), local mode with real PostgreSQL and the real bubblewrap sandbox, and grading in
// the sandbox with the hidden test patches. Also: a resumed eval skips the attempt already graded; the model
// traffic recorded by one run replays with no network; a replay missing a recording names the request; and each
// bad input is one message with nothing run or written.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import nock from "nock";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/env.js";
import type { TaskPlan } from "../../src/manager/plan.js";
import { runEvalCommand } from "../../src/eval/run-command.js";
import { formatTaskLine, type EvalTask } from "../../src/eval/task-file.js";
import { sandboxOptions } from "../../src/server/start.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { createHash } from "node:crypto";
import os from "node:os";
import { asAdmin, createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { openAIReply } from "../employees/provider-fixtures.js";
import { openAIToolReply } from "../employees/tool-calling-fixtures.js";
import { answerChatCompletions, type ChatRequest } from "../work/agent-fixtures.js";
import { sh, useTempDir } from "../workspace/git-fixture.js";
import { buildMinedHistory, type MinedHistory } from "./mine-fixture.js";
import { sink } from "../helpers/sink.js";

// Whole pipelines and CLI child processes: 30 s is too short on a loaded 2-core machine; this only guards a hang.
vi.setConfig({ testTimeout: 180_000 });

const probe = probeBwrap();
const temp = useTempDir("aura-eval-run-");
const EMPLOYEE = "gpt-4.1-mini";
let db: TestDatabase | undefined;
let history: MinedHistory;
let tasksFile: string;

const diff = (from: string, to: string, dir: string) => sh(history.repo, "diff", "--no-color", "--full-index", "--binary", from, to, "--", dir);

beforeAll(async () => {
  db = await createTestDatabase();
  history = buildMinedHistory(temp.dir);
  const { root, fixAdd, square, fixMul } = history.shas;
  const tasks: EvalTask[] = [
    {
      instance_id: "calc-add",
      repo: "calc",
      base_commit: root,
      patch: diff(root, fixAdd, "src"),
      test_patch: diff(root, fixAdd, "test"),
      problem_statement: "Fix add: it subtracted\n\nadd(2, 3) returned -1.",
      FAIL_TO_PASS: ["adds"],
      PASS_TO_PASS: ["multiplies"],
      test_command: "node --test",
      test_unit: "test",
      task_class: "bugfix",
    },
    {
      instance_id: "calc-mul",
      repo: "calc",
      base_commit: square,
      patch: diff(square, fixMul, "src"),
      test_patch: diff(square, fixMul, "test"),
      problem_statement: "Fix mul for negative numbers",
      FAIL_TO_PASS: ["multiplies", "multiplies negatives"],
      PASS_TO_PASS: ["adds", "squares"],
      test_command: "node --test",
      test_unit: "test",
      task_class: "feature",
    },
  ];
  tasksFile = path.join(temp.dir, "tasks.jsonl");
  writeFileSync(tasksFile, tasks.map(formatTaskLine).join(""));
});
afterAll(async () => {
  await db?.drop();
  // The app copies of the eval's slots, made on the same server.
  const name = db ? new URL(db.url).pathname.slice(1) : undefined;
  if (name) for (const slot of [1, 2]) await asAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS "${name}_eval_${slot}" WITH (FORCE)`));
});

/** The eval run stored in the app's database for this eval folder, with its graded attempts. */
async function storedRun(out: string) {
  const pool = db?.pool;
  if (!pool) throw new Error("no database");
  const run = await pool.query<{ id: string; run_by: string; tasks_digest: string; ended: boolean }>(
    "SELECT id, run_by, tasks_digest, ended_at IS NOT NULL AS ended FROM eval_runs WHERE out_dir = $1",
    [out],
  );
  const id = run.rows[0]?.id;
  const attempts = await pool.query<{ instance_id: string; employee_id: string; resolved: boolean; reason: string }>(
    "SELECT instance_id, employee_id, resolved, reason FROM eval_attempts WHERE run_id = $1 ORDER BY instance_id",
    [id ?? 0],
  );
  return {
    runs: run.rows.length,
    id: Number(id),
    runBy: run.rows[0]?.run_by,
    digest: run.rows[0]?.tasks_digest,
    ended: run.rows[0]?.ended,
    attempts: attempts.rows,
  };
}
beforeEach(() => {
  nock.cleanAll();
});

const plan = (id: string, title: string, scope: string[]): TaskPlan => ({
  summary: `${title} and keep the tests passing.`,
  tasks: [
    {
      id,
      title,
      instructions: `${title}.`,
      taskClass: "bugfix",
      scope,
      acceptance: ["node --test passes"],
      dependsOn: [],
      estimate: { tokens: 20_000, usd: 0.2 },
    },
  ],
});

const textOf = (request: ChatRequest) => request.messages.map((message) => (typeof message.content === "string" ? message.content : "")).join("\n");

/**
 * The manager's plan for each requirement, and the agent's turns: on the add task it fixes add() and submits;
 * on the mul task it only rewords a comment (the hidden tests still fail). A turn is the count of the
 * assistant's earlier messages, so a revision run starts its script again.
 */
function scriptCompany() {
  return answerChatCompletions((request) => {
    const mul = /Fix mul/.test(textOf(request));
    if (request.tools === undefined) {
      const reply = mul ? plan("fix-mul", "Fix mul()", ["src/math.js", "test/mul.test.js"]) : plan("fix-add", "Fix add()", ["src/math.js", "test/add.test.js"]);
      return openAIReply(JSON.stringify(reply));
    }
    const turn = request.messages.filter((message) => message.role === "assistant").length;
    const edit = mul
      ? { path: "src/math.js", search: "// Sums.", replace: "// Adds two numbers." }
      : { path: "src/math.js", search: "a - b", replace: "a + b" };
    const script = [
      { name: "edit_file", arguments: JSON.stringify(edit) },
      { name: "submit", arguments: JSON.stringify({ summary: mul ? "Reworded the comment." : "add() adds now.", tested: "node --test", remaining: "" }) },
    ];
    const step = script[Math.min(turn, script.length - 1)] as { name: string; arguments: string };
    return openAIToolReply([{ id: `call_${turn}`, ...step }], null);
  });
}

function env(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db?.url, LOG_LEVEL: "warn", OPENAI_API_KEY: "sk-test" };
}

async function evalRun(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  const stdout = sink();
  const stderr = sink();
  const environment = { ...env(), ...extraEnv };
  const sandbox = sandboxOptions(loadConfig(environment), pino({ level: "silent" }));
  const code = await runEvalCommand(args, { out: stdout.stream, err: stderr.stream, env: environment, cwd: temp.dir }, sandbox);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

type Summary = {
  run_id: number;
  ran: number;
  skipped: number;
  interval: string;
  work_dir: { path: string; kind: string };
  traffic: { mode: string; recorded: number; replayed: number } | null;
  employees: {
    employee: string;
    attempts: number;
    resolved: number;
    share: number;
    interval: { lower: number; upper: number };
    costPerResolvedUsd: number | null;
    medianSteps: number;
    byClass: Record<string, { attempts: number; resolved: number }>;
  }[];
};

type Result = { instance_id: string; employee: string; attempt: number; resolved: boolean; reason: string; steps: number; trajectory: string };

const resultsOf = (out: string): Result[] =>
  readFileSync(path.join(out, "results.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Result);

const userView = () => ({
  refs: sh(history.repo, "for-each-ref"),
  status: sh(history.repo, "status", "--porcelain"),
  head: sh(history.repo, "rev-parse", "HEAD"),
});

describe.skipIf(!probe.ok)(`aura eval run${probe.ok ? "" : " (skipped: bubblewrap does not work here)"}`, () => {
  const recordings = () => path.join(temp.dir, "recordings");

  it("grades two tasks for one employee: add resolved, mul not; share, interval, cost and steps in the JSON; trajectories kept; the user's repository untouched", async () => {
    const before = userView();
    const company = scriptCompany();
    const out = path.join(temp.dir, "first");

    const result = await evalRun(["--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", history.repo, "--out", out, "--json", "--record", recordings()]);

    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as Summary;
    expect(summary).toMatchObject({ ran: 2, skipped: 0, traffic: { mode: "record" } });
    expect(summary.interval).toContain("Beta posterior");
    const [figures] = summary.employees;
    expect(figures).toMatchObject({ employee: EMPLOYEE, attempts: 2, resolved: 1, share: 0.5 });
    // Beta(2, 2): its 2.5 % and 97.5 % quantiles.
    expect(figures?.interval.lower).toBeCloseTo(0.0943, 3);
    expect(figures?.interval.upper).toBeCloseTo(0.9057, 3);
    expect(figures?.byClass).toMatchObject({ bugfix: { attempts: 1, resolved: 1 }, feature: { attempts: 1, resolved: 0 } });
    expect(figures?.medianSteps).toBeGreaterThan(0);
    const results = resultsOf(out);
    expect(results.map((item) => [item.instance_id, item.resolved])).toEqual(
      expect.arrayContaining([
        ["calc-add", true],
        ["calc-mul", false],
      ]),
    );
    expect(results.find((item) => item.instance_id === "calc-mul")?.reason).toMatch(
      /^FAIL_TO_PASS still failing or missing: "multiplies", "multiplies negatives"/,
    );
    // The test patch was hidden: no request to the model carried the new test's text.
    expect(company.requests.some((request) => textOf(request).includes("multiplies negatives"))).toBe(false);
    for (const item of results) {
      const kept = JSON.parse(readFileSync(path.join(out, item.trajectory), "utf8")) as { tasks: { runs: { steps: number; stepRecords: unknown[] }[] }[] };
      expect(kept.tasks[0]?.runs[0]?.stepRecords.length).toBeGreaterThan(0);
    }
    // The scratch checkouts went to the machine's tmpfs when it has room (then removed), else to work/ in --out (emptied).
    if (summary.work_dir.kind === "tmpfs") {
      expect(summary.work_dir.path).toMatch(/^\/dev\/shm\/aura-eval-[0-9a-f]{12}$/);
      expect(existsSync(summary.work_dir.path)).toBe(false);
      expect(existsSync(path.join(out, "work"))).toBe(false);
    } else {
      expect(summary.work_dir).toEqual({ kind: "out", path: path.join(out, "work") });
      expect(readdirSync(path.join(out, "work"))).toEqual([]);
    }
    // One app for the slot's two attempts: started once, each attempt on its own repository and issue.
    expect(result.stderr.match(/aura: starting the app/g)).toHaveLength(1);
    expect(result.stderr.match(/aura: Employees available to this run/g)).toHaveLength(2);
    expect(userView()).toEqual(before);
    expect(readdirSync(recordings()).length).toBeGreaterThan(0);
    // The run and its graded attempts are in the app's database as well, for the scoreboard and /aura trial.
    const stored = await storedRun(out);
    expect(stored).toMatchObject({
      runs: 1,
      id: summary.run_id,
      runBy: os.userInfo().username,
      digest: createHash("sha256").update(readFileSync(tasksFile)).digest("hex"),
      ended: true,
    });
    expect(stored.attempts.map((item) => [item.instance_id, item.employee_id, item.resolved])).toEqual([
      ["calc-add", EMPLOYEE, true],
      ["calc-mul", EMPLOYEE, false],
    ]);
  });

  it("replays the recorded model traffic with no network and grades the same", async () => {
    const out = path.join(temp.dir, "replayed");

    const result = await evalRun(["--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", history.repo, "--out", out, "--json", "--replay", recordings()], {
      OPENAI_API_KEY: undefined,
    });

    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as Summary;
    expect(summary.traffic?.mode).toBe("replay");
    expect(summary.traffic?.replayed).toBeGreaterThan(0);
    expect(summary.employees[0]).toMatchObject({ attempts: 2, resolved: 1 });
  });

  it("a resumed eval skips the attempt its results file already holds", async () => {
    const out = path.join(temp.dir, "resumed");
    mkdirSync(out);
    const graded = {
      instance_id: "calc-add",
      employee: EMPLOYEE,
      attempt: 1,
      task_class: "bugfix",
      resolved: true,
      reason: "graded before the kill",
      outcome: "passed",
      cost_usd: 0.01,
      seconds: 10,
      test_seconds: 1,
      steps: 2,
      heads: [],
      trajectory: "trajectories/x.json",
    };
    // The killed run also left half a line behind.
    writeFileSync(path.join(out, "results.jsonl"), `${JSON.stringify(graded)}\n{"instance_id":"calc-mu`);
    const company = scriptCompany();

    const result = await evalRun(["--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", history.repo, "--out", out, "--json"]);

    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as Summary;
    expect(summary).toMatchObject({ ran: 1, skipped: 1 });
    expect(summary.employees[0]).toMatchObject({ attempts: 2, resolved: 1 });
    expect(company.requests.every((request) => /Fix mul/.test(textOf(request)))).toBe(true);
    expect(resultsOf(out).filter((item) => item.instance_id === "calc-add")).toEqual([expect.objectContaining({ reason: "graded before the kill" })]);
    // The attempt graded before the kill reaches the database too, and the run is finished.
    const stored = await storedRun(out);
    expect(stored).toMatchObject({ runs: 1, ended: true });
    expect(stored.attempts.map((item) => [item.instance_id, item.reason])).toEqual([
      ["calc-add", "graded before the kill"],
      ["calc-mul", expect.stringMatching(/^FAIL_TO_PASS still failing/)],
    ]);
  });

  it("with --concurrency 2 runs the two tasks on two app copies, each on its own database, and stores one run; --work-dir holds the checkouts", async () => {
    const out = path.join(temp.dir, "two-slots");
    const work = path.join(temp.dir, "two-slots-work");

    const result = await evalRun(
      [
        ...["--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", history.repo, "--out", out, "--json", "--concurrency", "2"],
        ...["--replay", recordings(), "--work-dir", work],
      ],
      { OPENAI_API_KEY: undefined },
    );

    expect(result.code, result.stderr).toBe(0);
    // The attempts' scratch repositories and grading's trees were made under --work-dir, and are gone.
    expect(existsSync(path.join(out, "work"))).toBe(false);
    expect(readdirSync(work)).toEqual([]);
    // An app per slot.
    expect(result.stderr.match(/aura: starting the app/g)).toHaveLength(2);
    expect((JSON.parse(result.stdout) as Summary).employees[0]).toMatchObject({ attempts: 2, resolved: 1 });
    const name = new URL(db?.url ?? "postgres://x/none").pathname.slice(1);
    const copies = await asAdmin((admin) =>
      admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY 1", [`${name}_eval_%`]),
    );
    expect(copies.rows.map((row) => row.datname)).toEqual([`${name}_eval_1`, `${name}_eval_2`]);
    const stored = await storedRun(out);
    expect(stored).toMatchObject({ runs: 1, ended: true });
    expect(stored.attempts.map((item) => [item.instance_id, item.resolved])).toEqual([
      ["calc-add", true],
      ["calc-mul", false],
    ]);
  });

  it("a replay missing a recording stops with one message naming the request", async () => {
    const empty = path.join(temp.dir, "no-recordings");
    mkdirSync(empty);
    const out = path.join(temp.dir, "missing");

    const result = await evalRun(["--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", history.repo, "--out", out, "--replay", empty]);

    expect(result.code).toBe(1);
    expect(result.stdout).toBe("");
    expect(result.stderr).toMatch(
      /aura eval run: No recorded reply for POST https:\/\/api\.openai\.com\/v1\/chat\/completions \(request key [0-9a-f]{32}, body starting .*\) \(expected .*no-recordings\/[0-9a-f]{32}\.json\)\. The replay cannot go on/,
    );
    expect(existsSync(path.join(out, "results.jsonl"))).toBe(false);
  });
});

describe("aura eval run refuses bad input with one message and runs nothing", () => {
  const refused = async (args: string[], message: string) => {
    const out = path.join(temp.dir, `refused-${Math.abs(hash(message))}`);
    const result = await evalRun([...args, "--out", out]);
    expect(result).toEqual({ code: 2, stdout: "", stderr: `aura eval run: ${message}\n` });
    expect(existsSync(out)).toBe(false);
  };
  const hash = (text: string) => [...text].reduce((sum, char) => (sum * 31 + char.charCodeAt(0)) | 0, 7);

  it("a task file with a bad line", async () => {
    const bad = path.join(temp.dir, "bad.jsonl");
    writeFileSync(bad, `${readFileSync(tasksFile, "utf8").split("\n")[0] ?? ""}\n{"instance_id": "x"\n`);

    const result = await evalRun(["--tasks", bad, "--employees", EMPLOYEE, "--repo", history.repo, "--out", path.join(temp.dir, "bad-out")]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^aura eval run: .*bad\.jsonl, line 2: not valid JSON \(.*\)\. Nothing was run; fix the line and try again\.\n$/);
    expect(existsSync(path.join(temp.dir, "bad-out"))).toBe(false);
  });

  it("an unknown employee", async () => {
    await refused(
      ["--tasks", tasksFile, "--employees", `${EMPLOYEE},gpt-99`, "--repo", history.repo],
      'Unknown employee "gpt-99": policies/employees.yml has gpt-4.1-mini, gemini-2.5-flash, qwen2.5-coder-7b. Nothing was run.',
    );
  });

  it("a task whose base_commit is not in the repository", async () => {
    const other = path.join(temp.dir, "other");
    mkdirSync(other);
    sh(other, "init", "-q", "-b", "main");
    sh(other, "commit", "-q", "--allow-empty", "-m", "unrelated");

    await refused(
      ["--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", other],
      `Task calc-add: base_commit ${history.shas.root} is not a commit of ${other}. Give the repository the tasks were made from with --repo (or fetch that commit). Nothing was run.`,
    );
  });

  it("a replay folder that does not exist", async () => {
    const missing = path.join(temp.dir, "never-recorded");

    await refused(
      ["--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", history.repo, "--replay", missing],
      `--replay ${missing}: no such folder. Record one first with --record ${missing}.`,
    );
  });

  it("a --work-dir that is a file", async () => {
    const file = path.join(temp.dir, "work-file");
    writeFileSync(file, "");

    await refused(
      ["--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", history.repo, "--work-dir", file],
      `--work-dir ${file} is a file; give a folder for the scratch repositories and work trees.`,
    );
  });

  it("malformed --attempts and --concurrency", async () => {
    await refused(
      ["--tasks", tasksFile, "--employees", EMPLOYEE, "--attempts", "0"],
      "--attempts 0 is not a whole number from 1 to 100; use e.g. --attempts 2.",
    );
    await refused(
      ["--tasks", tasksFile, "--employees", EMPLOYEE, "--concurrency", "two"],
      "--concurrency two is not a whole number from 1 to 16; use e.g. --concurrency 2.",
    );
  });
});
