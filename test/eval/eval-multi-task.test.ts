// `aura eval run` on a plan of two tasks, and both eval commands as a newcomer types them. The manager's plan
// (the real OpenAI SDK, its HTTP scripted by nock) splits the requirement into two tasks that both edit
// src/math.js: one fixes add(), the other adds sub() two lines further down. Each task leaves its own `aura/…`
// branch from the base, and the grader must combine both (the fix is on one, the other's diff touches the same
// file). The model traffic of that run is recorded, then replayed by `npx aura eval run` in a child process with
// no DATABASE_URL: the embedded PostgreSQL in AURA_DATA_DIR is started for the eval and stopped after it. And
// `npx aura eval mine` mines the same history in a child process.
import { execFile } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import nock from "nock";
import pino from "pino";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/env.js";
import { getFreePort } from "../../src/db/embedded.js";
import { runEvalCommand } from "../../src/eval/run-command.js";
import { formatTaskLine, parseTaskLines, type EvalTask } from "../../src/eval/task-file.js";
import type { TaskPlan } from "../../src/manager/plan.js";
import { sandboxOptions } from "../../src/server/start.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { asAdmin, createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { openAIReply } from "../employees/provider-fixtures.js";
import { openAIToolReply } from "../employees/tool-calling-fixtures.js";
import { answerChatCompletions, type ChatRequest } from "../work/agent-fixtures.js";
import { sh, useTempDir } from "../workspace/git-fixture.js";
import { buildMinedHistory, type MinedHistory } from "./mine-fixture.js";
import { sink } from "../helpers/sink.js";

const probe = probeBwrap();
const temp = useTempDir("aura-eval-multi-");
const EMPLOYEE = "gpt-4.1-mini";
let db: TestDatabase | undefined;
let history: MinedHistory;
let tasksFile: string;

beforeAll(async () => {
  db = await createTestDatabase();
  history = buildMinedHistory(temp.dir);
  const { root, fixAdd } = history.shas;
  const diff = (dir: string) => sh(history.repo, "diff", "--no-color", "--full-index", "--binary", root, fixAdd, "--", dir);
  const task: EvalTask = {
    instance_id: "calc-add",
    repo: "calc",
    base_commit: root,
    patch: diff("src"),
    test_patch: diff("test"),
    problem_statement: "add() subtracts: add(2, 3) returns -1. Fix it, and give the module a sub() as well.",
    FAIL_TO_PASS: ["adds"],
    PASS_TO_PASS: ["multiplies"],
    test_command: "node --test",
    test_unit: "test",
    task_class: "bugfix",
  };
  tasksFile = path.join(temp.dir, "tasks.jsonl");
  writeFileSync(tasksFile, formatTaskLine(task));
});
afterAll(async () => {
  await db?.drop();
  const name = db ? new URL(db.url).pathname.slice(1) : undefined;
  if (name) await asAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS "${name}_eval_1" WITH (FORCE)`));
});
beforeEach(() => {
  nock.cleanAll();
});

const task = (id: string, title: string): TaskPlan["tasks"][number] => ({
  id,
  title,
  instructions: `${title}.`,
  taskClass: "bugfix",
  scope: ["src/math.js"],
  acceptance: ["node --test passes"],
  dependsOn: [],
  estimate: { tokens: 20_000, usd: 0.2 },
});

const PLAN: TaskPlan = { summary: "Fix add() and add sub(), keeping the tests passing.", tasks: [task("fix-add", "Fix add()"), task("add-sub", "Add sub()")] };

const textOf = (request: ChatRequest) => request.messages.map((message) => (typeof message.content === "string" ? message.content : "")).join("\n");

/** The plan above for the manager; each task's agent makes its one edit and submits. */
function scriptCompany() {
  return answerChatCompletions((request) => {
    if (request.tools === undefined) return openAIReply(JSON.stringify(PLAN));
    const sub = /Add sub\(\)/.test(textOf(request));
    const turn = request.messages.filter((message) => message.role === "assistant").length;
    const edit = sub
      ? { path: "src/math.js", search: "exports.mul = (a, b) => a * b;", replace: "exports.mul = (a, b) => a * b;\n\nexports.sub = (a, b) => a - b;" }
      : { path: "src/math.js", search: "a - b", replace: "a + b" };
    const script = [
      { name: "edit_file", arguments: JSON.stringify(edit) },
      { name: "submit", arguments: JSON.stringify({ summary: sub ? "sub() added." : "add() adds now.", tested: "node --test", remaining: "" }) },
    ];
    const step = script[Math.min(turn, script.length - 1)] as { name: string; arguments: string };
    return openAIToolReply([{ id: `call_${turn}`, ...step }], null);
  });
}

type Result = { instance_id: string; resolved: boolean; reason: string; heads: string[] };
const resultsOf = (out: string): Result[] =>
  readFileSync(path.join(out, "results.jsonl"), "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Result);

type CliRun = { code: number; stdout: string; stderr: string };

/** Tries a TCP connection to `port` on 127.0.0.1 every 100 ms until stopped; whether one was ever accepted. */
function watchPort(port: number): { stop: () => Promise<boolean> } {
  let accepted = false;
  let stopped = false;
  const loop = (async () => {
    while (!stopped && !accepted) {
      accepted = await new Promise<boolean>((resolve) => {
        const socket = connect({ host: "127.0.0.1", port }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on("error", () => resolve(false));
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return accepted;
    },
  };
}

/** `npx aura …` as a newcomer types it, in a child process with no DATABASE_URL and no model keys. */
async function npxAura(args: string[], dataDir: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: "silent",
    AURA_DATA_DIR: dataDir,
    NO_SMEE_SETUP: "true",
    ...extraEnv,
  };
  try {
    const { stdout, stderr } = await promisify(execFile)("npx", ["aura", ...args], { cwd: process.cwd(), env, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe.skipIf(!probe.ok)(`aura eval run on a plan of two tasks${probe.ok ? "" : " (skipped: bubblewrap does not work here)"}`, () => {
  const recordings = () => path.join(temp.dir, "recordings");

  it("grades the two tasks' branches together: the fix on one, sub() on the other, both editing src/math.js", async () => {
    const company = scriptCompany();
    const out = path.join(temp.dir, "two-tasks");
    const stdout = sink();
    const stderr = sink();
    const environment: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: db?.url,
      LOG_LEVEL: "warn",
      OPENAI_API_KEY: "sk-test",
    };
    const sandbox = sandboxOptions(loadConfig(environment), pino({ level: "silent" }));

    const code = await runEvalCommand(
      ["--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", history.repo, "--out", out, "--json", "--record", recordings()],
      { out: stdout.stream, err: stderr.stream, env: environment, cwd: temp.dir },
      sandbox,
    );

    expect(code, stderr.text()).toBe(0);
    const [result] = resultsOf(out);
    expect(result?.heads).toHaveLength(2);
    expect(result).toMatchObject({ instance_id: "calc-add", resolved: true, reason: "all 1 FAIL_TO_PASS and 1 PASS_TO_PASS tests pass" });
    expect(company.requests.some((request) => /Add sub\(\)/.test(textOf(request)) && request.tools !== undefined)).toBe(true);
  }, 120_000);

  it("`npx aura eval run --replay` with no DATABASE_URL starts the embedded PostgreSQL in AURA_DATA_DIR on AURA_PG_PORT, grades the same, and stops it", async () => {
    const dataDir = path.join(temp.dir, "aura-data");
    const out = path.join(temp.dir, "replayed");
    const port = await getFreePort();
    const listening = watchPort(port);

    const run = await npxAura(
      ["eval", "run", "--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", history.repo, "--out", out, "--json", "--replay", recordings()],
      dataDir,
      { AURA_PG_PORT: String(port) },
    );

    expect(run.code, run.stderr).toBe(0);
    // The embedded server listened on the port `npm start` would use (it ignored AURA_PG_PORT before).
    expect(await listening.stop()).toBe(true);
    const summary = JSON.parse(run.stdout) as {
      run_id: number;
      traffic: { mode: string; replayed: number };
      employees: { attempts: number; resolved: number }[];
    };
    expect(summary.traffic.mode).toBe("replay");
    expect(summary.traffic.replayed).toBeGreaterThan(0);
    expect(summary.employees[0]).toMatchObject({ attempts: 1, resolved: 1 });
    expect(resultsOf(out)[0]?.heads).toHaveLength(2);
    // The cluster was made in AURA_DATA_DIR and its server is gone: no pid file, so nothing is left running.
    expect(existsSync(path.join(dataDir, "postgres", "PG_VERSION"))).toBe(true);
    expect(existsSync(path.join(dataDir, "postgres", "postmaster.pid"))).toBe(false);

    // Started again with the same --out, the eval resumes on the same stored run (the embedded database kept it).
    const again = await npxAura(
      ["eval", "run", "--tasks", tasksFile, "--employees", EMPLOYEE, "--repo", history.repo, "--out", out, "--json", "--replay", recordings()],
      dataDir,
    );

    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ run_id: summary.run_id, ran: 0, skipped: 1 });
    expect(existsSync(path.join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
  }, 240_000);

  it("`npx aura eval mine` writes the tasks and says the statements are commit messages", async () => {
    const out = path.join(temp.dir, "mined.jsonl");

    const run = await npxAura(["eval", "mine", history.repo, "--out", out, "--limit", "1"], path.join(temp.dir, "unused-data"));

    expect(run.code, run.stderr).toBe(0);
    expect(parseTaskLines(readFileSync(out, "utf8")).map((item) => item.source_commit)).toEqual([history.shas.fixMul]);
    expect(run.stdout).toContain("Kept 1 task in");
    expect(run.stdout).toContain("Problem statements are the commit messages: no GitHub token was given");
    expect(existsSync(path.join(temp.dir, "unused-data"))).toBe(false);
  }, 60_000);
});
