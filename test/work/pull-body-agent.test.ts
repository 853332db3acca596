// An agent's PR body summarises its trajectory: the steps it took against its cap, the commands and test runs it
// made, the files it read and changed, the guidance it was given, the scope it was granted, and how it ended;
// lists are capped and all of it is inert. Failing tests on an agent's work are not blamed on fix rounds.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadTrajectorySummary } from "../../src/employees/agent/trajectory.js";
import { renderPullBody, type PullBodyInput, type TrajectorySummary } from "../../src/employees/pull-request.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { recordRun, toolStep, trajectoryTask, turnStep } from "./trajectory-fixtures.js";

function summary(overrides: Partial<TrajectorySummary> = {}): TrajectorySummary {
  return {
    turns: 6,
    maxSteps: 50,
    toolCalls: 6,
    commands: ["grep -rn login src"],
    testRuns: [1, 0],
    filesRead: ["src/login.js"],
    filesChanged: ["src/email.js"],
    guidance: ["AGENTS.md"],
    granted: ["src/email.js"],
    refused: [],
    endReason: "submitted",
    ...overrides,
  };
}

function body(overrides: Partial<PullBodyInput> = {}): string {
  return renderPullBody({
    taskId: 7,
    task: { key: "fix-login", title: "Fix login", instructions: "Accept plus signs.", taskClass: "bugfix", scope: ["src/**"] },
    issueNumber: 42,
    onlyTask: true,
    employee: { id: "gpt-4.1-mini", provider: "openai", model: "gpt-4.1-mini" },
    summary: "Fixed.",
    evidence: { setup: undefined, test: undefined, headSha: undefined, passed: true, fixRounds: 0 },
    cost: { usd: 0.01, tokens: 1000 },
    snapshotId: "0123456789abcdef",
    outcome: { kind: "passed" },
    revisionRounds: 0,
    trajectory: summary(),
    ...overrides,
  });
}

describe("the trajectory in an agent's PR body", () => {
  it("says what the agent did: steps of its cap, commands, test runs, files read and changed, guidance and granted scope", () => {
    const text = body();

    expect(text).toContain("#### What the agent did (its trajectory)");
    expect(text).toContain("- Steps: 6 model turns of at most 50, 6 tool calls; ended: the agent submitted its work");
    expect(text).toContain("- Commands run: `grep -rn login src`");
    expect(text).toContain("- Test runs by the agent: 2 (exit 1, exit 0)");
    expect(text).toContain("- Files read: `src/login.js`");
    expect(text).toContain("- Files changed: `src/email.js`");
    expect(text).toContain("- Repository guidance read: `AGENTS.md`");
    expect(text).toContain("- Scope granted beyond the plan: `src/email.js`");
    expect(text).not.toContain("Fix rounds used");
  });

  it("caps long lists with 'and N more' and cuts long commands", () => {
    const files = Array.from({ length: 30 }, (_, i) => `src/file-${i}.js`);
    const text = body({ trajectory: summary({ filesRead: files, commands: [`echo ${"x".repeat(300)}`] }) });

    expect(text).toContain("`src/file-7.js` and 22 more");
    expect(text).not.toContain("src/file-8.js");
    const commands = text.split("\n").find((line) => line.startsWith("- Commands run:")) ?? "";
    expect(commands.length).toBeLessThan(130);
    expect(commands).toContain("…`");
  });

  it("keeps model-chosen commands, paths and refusals inert", () => {
    const text = body({
      trajectory: summary({
        commands: ["echo '<!-- aura:task id=1 -->' @octocat fixes #12"],
        filesRead: ["docs/![x](https://evil.example/p.png)"],
        refused: [{ path: ".github/workflows/ci.yml", reason: "it is protected: @admins decide" }],
      }),
    });

    expect(text).not.toContain("<!-- aura:task id=1 -->");
    expect(text).toContain("`docs/![x](https://evil.example/p.png)`");
    expect(text).toContain("- Scope refused: `.github/workflows/ci.yml` (it is protected: `@admins` decide)");
    expect(text.match(/<!-- aura:task/g)).toHaveLength(1);
  });

  it("names the limit that stopped the run beside what is left", () => {
    const text = body({
      trajectory: summary({ turns: 50, endReason: "step-cap", testRuns: [] }),
      outcome: { kind: "stopped", reason: "The agent used all 50 steps of its step cap without submitting.", remaining: "Finishing the change." },
    });

    expect(text).toContain("- Steps: 50 model turns of at most 50, 6 tool calls; ended: **stopped by the step cap**");
    expect(text).toContain("- Test runs by the agent: none");
    expect(text).toContain("**Status: work stopped.** The agent used all 50 steps of its step cap without submitting.");
    expect(text).toContain("What is left: Finishing the change.");
  });

  it("reports failing tests on an agent's work as the app's run on what it submitted, not as fix rounds", () => {
    const agent = body({ outcome: { kind: "tests-failing" } });
    const singleShot = body({ outcome: { kind: "tests-failing" }, trajectory: undefined });

    expect(agent).toContain("**Status: the tests still fail** in the app's own run on the work the agent submitted.");
    expect(agent).not.toContain("fix rounds");
    expect(singleShot).toContain("**Status: the tests still fail** after the fix rounds.");
    expect(singleShot).not.toContain("What the agent did");
  });
});

describe("the trajectory summary read from the record", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("counts turns and tool calls, takes each command from its arguments, the test runs' exit codes and the task's grants", async () => {
    const { taskId } = await trajectoryTask(db, 301);
    const runId = await recordRun(
      db,
      taskId,
      [
        turnStep("run_command"),
        toolStep("run_command", { command: "grep -rn login src" }, "src/login.js:3: login()", 0),
        turnStep("run_command"),
        toolStep("run_command", '{"command": "ls', "The arguments for run_command were not valid"),
        turnStep("run_tests"),
        toolStep("run_tests", {}, "1 failed", 1),
        turnStep("submit"),
        toolStep("submit", { summary: "Fixed.", tested: "npm test", remaining: "" }, "Submitted."),
      ],
      { end: { endReason: "submitted", filesRead: ["src/login.js"], filesChanged: ["src/email.js"], guidance: ["AGENTS.md"] } },
    );
    await db.pool.query(
      `INSERT INTO scope_grants (task_id, run_id, path, granted, request_reason, refusal)
       VALUES ($1, $2, 'src/email.js', true, 'the parser', NULL), ($1, $2, 'policies/x.yml', false, 'why not', 'it is protected')`,
      [taskId, runId],
    );
    await db.pool.query("UPDATE work_steps SET status = 'error', exit_code = NULL WHERE run_id = $1 AND step = 4", [runId]);

    const result = await loadTrajectorySummary(db.pool, runId);

    expect(result).toEqual({
      turns: 4,
      maxSteps: 50,
      toolCalls: 4,
      commands: ["grep -rn login src"],
      testRuns: [1],
      filesRead: ["src/login.js"],
      filesChanged: ["src/email.js"],
      guidance: ["AGENTS.md"],
      granted: ["src/email.js"],
      refused: [{ path: "policies/x.yml", reason: "it is protected" }],
      endReason: "submitted",
    });
  });
});
