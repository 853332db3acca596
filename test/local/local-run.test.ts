// `aura run` end to end: the app started in this process against the local GitHub edge on a loopback port, a
// real git repository built here (a checked-out branch and a dirty working tree), real PostgreSQL, the real
// bubblewrap sandbox, and the real OpenAI SDK whose HTTP is scripted with nock: the manager's plan as structured
// output, the employee's agent turns as tool calls. Bad input is refused with one message and nothing changed;
// one of them through a child process `npx aura run`, as a newcomer would type it.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { quickAddJob } from "graphile-worker";
import nock from "nock";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { runCommand } from "../../src/local/command.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { openAIReply } from "../employees/provider-fixtures.js";
import { openAIAgent, call, turn, submit, OPENAI_API, type ChatRequest } from "../work/agent-fixtures.js";
import { PLAN, PROJECT } from "../e2e/pipeline-fixture.js";
import { sh, useTempDir } from "../workspace/git-fixture.js";
import { sink } from "../helpers/sink.js";

// Whole pipelines and CLI child processes: 30 s is too short on a loaded 2-core machine; this only guards a hang.
vi.setConfig({ testTimeout: 180_000 });

const probe = probeBwrap();
const temp = useTempDir("aura-local-");
let db: TestDatabase | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});
beforeEach(() => {
  nock.cleanAll();
});

const REQUIREMENT = "add() subtracts: add(2, 3) returns -1; it should return 5.";
const DIRTY = "# widgets\n\nSmall arithmetic helpers. (a note not yet committed)\n";

/** A checkout with the fixture project committed on `main`, plus an uncommitted edit and an untracked file. */
function userRepository(name: string, files: Record<string, string> = PROJECT, options: { commit?: boolean } = {}): string {
  const root = path.join(temp.dir, name);
  mkdirSync(root, { recursive: true, mode: 0o711 });
  sh(root, "init", "-q", "-b", "main");
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), content);
  }
  if (options.commit !== false) {
    sh(root, "add", "-A");
    sh(root, "commit", "-q", "-m", "widgets");
    writeFileSync(path.join(root, "README.md"), DIRTY);
    writeFileSync(path.join(root, "scratch.txt"), "mine\n");
  }
  return root;
}

/** The repository as the user sees it: refs, HEAD, status and the dirty files' contents. */
function userView(root: string) {
  return {
    head: sh(root, "symbolic-ref", "HEAD").trim(),
    main: sh(root, "rev-parse", "refs/heads/main").trim(),
    status: sh(root, "status", "--porcelain"),
    readme: readFileSync(path.join(root, "README.md"), "utf8"),
    scratch: readFileSync(path.join(root, "scratch.txt"), "utf8"),
    math: readFileSync(path.join(root, "src/math.js"), "utf8"),
  };
}

const auraBranches = (root: string) =>
  sh(root, "for-each-ref", "--format=%(refname)", "refs/heads/aura/")
    .split("\n")
    .filter((ref) => ref !== "");

/** Structured-output requests (the manager's plan) get PLAN; tool-calling requests (the agent) get `agent`'s turns. */
function scriptCompany(options: { agent?: false } = {}) {
  const plans: ChatRequest[] = [];
  // Added first, so it takes the planning requests before the agent's interceptor (which takes any request).
  nock(OPENAI_API)
    .persist()
    .post("/v1/chat/completions", (body: ChatRequest) => body.tools === undefined)
    .reply((_uri, body) => {
      plans.push(body as ChatRequest);
      return [200, openAIReply(JSON.stringify(PLAN)), { "content-type": "application/json" }];
    });
  // Without the agent's script, a tool-calling request would find no interceptor and fail the run.
  if (options.agent === false) return { plans, agent: undefined };
  const agent = openAIAgent([
    turn(call("edit_file", { path: "src/math.js", search: "a - b", replace: "a + b" })),
    turn(
      call("edit_file", {
        path: "test/math.test.js",
        search: "test('doubles', () => assert.strictEqual(double(4), 8));",
        replace: "test('doubles', () => assert.strictEqual(double(4), 8));\ntest('adds', () => assert.strictEqual(add(2, 3), 5));",
      }),
    ),
    turn(call("run_tests")),
    submit("add() adds now; a test covers it.", "npm test"),
  ]);
  return { plans, agent };
}

function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: db?.url, LOG_LEVEL: "info", ...extra };
}

/** Fails a run that has not ended after this long with what it printed so far (the file's guard is 180 s). */
const RUN_GUARD_MS = 150_000;

/** The last lines of the app's log of a run on `repo` (local mode writes it under the repository's git dir). */
function appLogTail(repo: string): string {
  try {
    return readFileSync(path.join(repo, ".git", "aura", "aura.log"), "utf8")
      .split("\n")
      .slice(-60)
      .join("\n");
  } catch (error) {
    return `(not readable: ${error instanceof Error ? error.message : String(error)})`;
  }
}

async function run(args: string[], extraEnv: Record<string, string> = { OPENAI_API_KEY: "sk-test" }) {
  const stdout = sink();
  const stderr = sink();
  let guard: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    guard = setTimeout(
      () =>
        reject(
          new Error(
            `aura run did not end in ${RUN_GUARD_MS / 1000} s; it printed:\n${stderr.text()}\n--- stdout:\n${stdout.text()}\n--- the app's log:\n${appLogTail(args[0] ?? ".")}`,
          ),
        ),
      RUN_GUARD_MS,
    );
  });
  try {
    const code = await Promise.race([runCommand(args, { stdout: stdout.stream, stderr: stderr.stream, env: env(extraEnv) }), stuck]);
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  } finally {
    clearTimeout(guard);
  }
}

describe.skipIf(!probe.ok)(`aura run${probe.ok ? "" : ` (skipped: ${probe.ok ? "" : probe.error})`}`, () => {
  it("fixes the bug on an aura/ branch, leaves the checked-out branch and the dirty tree alone, and reports plan, routing, verdict and evidence", async () => {
    const root = userRepository("widgets");
    const before = userView(root);
    const company = scriptCompany();

    const result = await run([root, REQUIREMENT, "--employee", "gpt-4.1-mini"]);

    expect(result.stderr).toContain("uncommitted changes; the run works from the committed main");
    expect(result.stderr).toMatch(/aura \[\d+:\d\d\] the Manager is planning — spent \$/);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(company.plans).toHaveLength(1);
    expect(company.agent?.requests.length).toBeGreaterThanOrEqual(4);
    // The report: the plan, who did the task and why, the verdict with its rules, the Auditor's evidence.
    expect(result.stdout).toContain("Fix add() and cover it with a test.");
    expect(result.stdout).toContain("1. fix-add: Fix add() [bugfix]");
    expect(result.stdout).toContain("Task fix-add (#");
    expect(result.stdout).toMatch(/Employee: gpt-4\.1-mini — .+/);
    expect(result.stdout).toContain("✓ gpt-4.1-mini:");
    expect(result.stdout).toMatch(/Verdict: success — HNSC passed: \d+ of \d+ rules/);
    expect(result.stdout).toMatch(/Evidence \(the Auditor's own test run\): passed .*"passed":2/);
    expect(result.stdout).toContain("npx aura trajectory");
    expect(result.stdout).toContain("Outcome: passed.");
    // The branch is left in the user's repository with the fix; nothing the user had was touched.
    expect(auraBranches(root)).toEqual(["refs/heads/aura/1-fix-add"]);
    expect(sh(root, "show", "aura/1-fix-add:src/math.js")).toContain("exports.add = (a, b) => a + b;");
    expect(userView(root)).toEqual(before);
    // The audit chain recorded the run like any other.
    const audited = await db?.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit.events WHERE payload::text LIKE '%local/widgets-%'");
    expect(audited?.rows[0]?.n).toBeGreaterThan(0);
  });

  it("--plan-only --json prints the plan as JSON and stops: the requirement is closed, no employee worked, no branch", async () => {
    const root = userRepository("gadgets");
    const before = userView(root);
    const company = scriptCompany({ agent: false });
    // A job an earlier run on this database left behind (due in an hour, for a GitHub edge that is gone): not
    // this run's, so the run must neither wait for it nor report it (it waited until this test's timeout).
    await quickAddJob(
      { pgPool: db?.pool },
      "pull.evaluate",
      { installationId: 1, repo: "local/gone-0000", pullNumber: 1 },
      { runAt: new Date(Date.now() + 3_600_000) },
    );

    const result = await run([root, REQUIREMENT, "--employee", "gpt-4.1-mini", "--plan-only", "--json"]);

    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      outcome: string;
      issue: number;
      requirement: { state: string; plan: { tasks: { id: string }[] } };
      tasks: { key: string; state: string; employee: string | null; routing: unknown }[];
      notes: string[];
    };
    expect(report.outcome).toBe("plan-only");
    expect(report.requirement.plan.tasks.map((task) => task.id)).toEqual(["fix-add"]);
    expect(report.requirement.state).toBe("cancelled");
    expect(report.tasks.map((task) => task.state)).toEqual(["cancelled"]);
    expect(report.notes.join("\n")).toContain("Plan only");
    expect(company.plans).toHaveLength(1);
    expect(auraBranches(root)).toEqual([]);
    expect(userView(root)).toEqual(before);
  });
});

describe("aura run refuses bad input with one message and changes nothing", () => {
  it("a path that is not a git repository (through `npx aura run`, a child process)", async () => {
    const dir = path.join(temp.dir, "not-a-repo");
    mkdirSync(dir);

    const result = await promisify(execFile)("npx", ["aura", "run", dir, REQUIREMENT], { cwd: process.cwd(), env: { ...process.env } }).catch(
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

    expect("code" in result ? result.code : 0).toBe(2);
    expect(result.stderr).toBe(
      `aura run: ${dir} is not a git repository (or is a bare one). Give the path of a checkout, or run \`git init\` there and commit your project first.\n`,
    );
    expect(result.stdout).toBe("");
  });

  it("a repository without commits", async () => {
    const root = userRepository("empty", PROJECT, { commit: false });

    const result = await run([root, REQUIREMENT]);

    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toBe(`aura run: ${root} has no commits yet. Commit your project (git add -A && git commit -m "…"), then run again.\n`);
    expect(existsSync(path.join(root, ".git", "aura"))).toBe(false);
  });

  it("a repository without a test command", async () => {
    const root = userRepository("untested", { "README.md": "# notes\n", "notes.txt": "nothing to test\n" });

    const result = await run([root, REQUIREMENT]);

    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toContain(
      `aura run: ${root} has no test command: neither \`test:\` in .github/aura.yml nor a \`test\` script in package.json at main.`,
    );
    expect(existsSync(path.join(root, ".git", "aura"))).toBe(false);
  });

  it("an unknown --employee", async () => {
    const root = userRepository("unknown-employee");

    const result = await run([root, REQUIREMENT, "--employee", "gpt-99"]);

    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toBe(
      'aura run: There is no employee "gpt-99" in policies/employees.yml. Known employees: gpt-4.1-mini, gemini-2.5-flash, qwen2.5-coder-7b.\n',
    );
    expect(existsSync(path.join(root, ".git", "aura"))).toBe(false);
  });

  it("no employee configured or reachable (no keys, no Ollama answering)", async () => {
    const root = userRepository("no-employee");

    const result = await run([root, REQUIREMENT], { OLLAMA_HOST: "http://127.0.0.1:9" });

    expect(result).toMatchObject({ code: 2, stdout: "" });
    expect(result.stderr).toBe(
      [
        "aura run: No employee can work: none of their model providers is configured or reachable.",
        "  - gpt-4.1-mini: set OPENAI_API_KEY (or OPENAI_BASE_URL for a compatible server)",
        "  - gemini-2.5-flash: set GEMINI_API_KEY",
        "  - qwen2.5-coder-7b: start Ollama at http://127.0.0.1:9 (or set OLLAMA_HOST) and pull qwen2.5-coder:7b",
        "",
      ].join("\n"),
    );
    expect(existsSync(path.join(root, ".git", "aura"))).toBe(false);
  });
});
