// The agent loop end to end through the task.work job: the real OpenAI SDK answered by nock with tool-calling
// replies, a real git remote, the real bubblewrap sandbox, real PostgreSQL. The app's own test run, never the
// agent's word, is the evidence; every step, grant and refusal is on record.
import { describe, expect, it } from "vitest";
import { runTaskWork } from "../../src/employees/work-loop.js";
import { loadRunSteps, loadTrajectory, STORED_TEXT_BYTES, trajectoryDigest } from "../../src/employees/agent/trajectory.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { sh } from "../workspace/git-fixture.js";
import { auditPayloads, call, openAIAgent, submit, toolSteps, turn, workRuns } from "./agent-fixtures.js";
import { createTaskFixture, fakeGitHub, MATH_TESTS, useWorkLoop } from "./work-fixtures.js";

const probe = probeBwrap();
const work = useWorkLoop("aura-agent-");

/** The bug is in lib/ops.js, which the planned scope (src/**, test/**) does not cover. */
const PROJECT: Record<string, string> = {
  "README.md": "# widgets\n",
  "AGENTS.md": "Run the tests with `node --test test/*.test.js`.\n",
  "src/math.js": "const { combine } = require('../lib/ops.js');\n\nexports.add = (a, b) => combine(a, b);\n\nexports.double = (a) => a * 2;\n",
  "lib/ops.js": "exports.combine = (a, b) => a - b;\n",
  "test/math.test.js": MATH_TESTS,
};

const FIX_OPS = call("edit_file", { path: "lib/ops.js", search: "a - b", replace: "a + b" });
const ONLY_OPENAI = { employees: ["gpt-4.1-mini"] };

/** A native tool-calling employee on a task of PROJECT (with `extraTasks` more in its plan), GitHub faked. */
async function agentTask(options: { extraTasks?: number } = {}) {
  const { services, dir } = work.setup({ employeeTools: "native" });
  const github = fakeGitHub();
  const fixture = await createTaskFixture(work.db, services, { parent: dir, files: PROJECT, config: ONLY_OPENAI, ...options });
  return { services, github, fixture };
}

async function taskState(taskId: number) {
  return (await work.db.pool.query<{ state: string; pr_number: number | null }>("SELECT state, pr_number FROM tasks WHERE id = $1", [taskId])).rows[0];
}

describe.skipIf(!probe.ok)("the agent loop", () => {
  it("fixes a bug it has to search for in a file outside its planned scope: the scope is granted, the PR carries the app's own test run", async () => {
    const agent = openAIAgent([
      turn(call("search", { pattern: "combine" })),
      turn(call("read_file", { path: "lib/ops.js" })),
      turn(FIX_OPS),
      turn(call("request_scope", { paths: ["lib/ops.js"], reason: "add() delegates to combine() in lib/ops.js, which subtracts" })),
      turn(FIX_OPS),
      turn(call("run_tests")),
      submit("combine() added instead of subtracting."),
    ]);
    const { services, github, fixture } = await agentTask();

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open", pullNumber: 100 });
    const branch = `aura/${fixture.issueNumber}-fix-add`;
    expect(sh(fixture.remote.bare, "diff", "--name-only", "main", branch).trim()).toBe("lib/ops.js");
    expect(sh(fixture.remote.bare, "show", `${branch}:lib/ops.js`)).toBe("exports.combine = (a, b) => a + b;\n");
    expect(github.count("POST", /\/pulls$/)).toBe(1);
    const body = String(github.pulls.get(100)?.body);
    expect(body).toContain("2 passed, 0 failed, 0 skipped");
    expect(agent.requests).toHaveLength(7);
    expect(agent.sent(0)).toContain("Run the tests with `node --test test/*.test.js`.");
    expect(agent.sent(3)).toContain("lib/ops.js is outside the task's scope");
    const grants = await work.db.pool.query("SELECT path, granted, refusal FROM scope_grants WHERE task_id = $1", [fixture.taskId]);
    expect(grants.rows).toEqual([{ path: "lib/ops.js", granted: true, refusal: null }]);
    expect(await auditPayloads(work.db.pool, "task.scope_decided")).toEqual([
      expect.objectContaining({ taskId: fixture.taskId, granted: ["lib/ops.js"], refused: [] }),
    ]);
    const snapshotId = /Aura-Snapshot: ([0-9a-f]{16})/.exec(sh(fixture.remote.bare, "log", "-1", "--format=%B", branch))?.[1];
    const snapshot = await work.db.pool.query("SELECT snapshot FROM execution_snapshots WHERE id = $1", [snapshotId]);
    expect(snapshot.rows[0].snapshot).toMatchObject({ work: { mode: "native", maxSteps: 50 } });
  });

  it("keeps every step on record and puts the trajectory's digest in the audit chain", async () => {
    openAIAgent([
      turn(call("read_file", { path: "lib/ops.js" })),
      turn(call("request_scope", { paths: ["lib/ops.js"], reason: "the bug" })),
      turn(FIX_OPS),
      submit("Fixed."),
    ]);
    const { services, fixture } = await agentTask();

    await runTaskWork(services, { taskId: fixture.taskId }, {});

    const [run] = await workRuns(work.db.pool, fixture.taskId);
    expect(run).toMatchObject({
      mode: "native",
      end_reason: "submitted",
      ended: true,
      steps: 8,
      files_changed: ["lib/ops.js"],
      files_read: expect.arrayContaining(["lib/ops.js"]),
      guidance: ["AGENTS.md"],
      submission: { summary: "Fixed." },
      max_steps: 50,
    });
    const trajectory = await loadTrajectory(work.db.pool, fixture.taskId);
    expect(trajectory[0]?.stepRecords.map((step) => [step.kind, step.tool])).toEqual([
      ["turn", null],
      ["tool", "read_file"],
      ["turn", null],
      ["tool", "request_scope"],
      ["turn", null],
      ["tool", "edit_file"],
      ["turn", null],
      ["tool", "submit"],
    ]);
    expect(trajectory[0]?.stepRecords[0]).toMatchObject({ model: "gpt-4.1-mini", inputTokens: 1500, outputTokens: 60 });
    expect(trajectory[0]?.stepRecords[1]?.observation).toContain("combine");
    const digest = trajectoryDigest(await loadRunSteps(work.db.pool, Number(run?.id)));
    expect(run?.digest).toBe(digest);
    expect(await auditPayloads(work.db.pool, "task.trajectory")).toContainEqual(
      expect.objectContaining({ taskId: fixture.taskId, runId: Number(run?.id), endReason: "submitted", steps: 8, digest }),
    );
  });

  it("answers malformed arguments and unknown tools with an error the model reads, and goes on", async () => {
    const agent = openAIAgent([
      turn(call("read_file", '{"path": "lib/ops.js"')),
      turn(call("launch_rockets", { target: "moon" })),
      turn(call("request_scope", { paths: ["lib/ops.js"], reason: "the bug" })),
      turn(FIX_OPS),
      submit("Fixed."),
    ]);
    const { services, fixture } = await agentTask();

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open" });
    expect(agent.sent(1)).toMatch(/The arguments for read_file were not valid/);
    expect(agent.sent(2)).toContain('There is no tool named "launch_rockets"');
    const [run] = await workRuns(work.db.pool, fixture.taskId);
    const steps = await toolSteps(work.db.pool, String(run?.id));
    expect(steps.map((step) => [step.tool, step.status])).toEqual([
      ["read_file", "error"],
      ["launch_rockets", "error"],
      ["request_scope", "ok"],
      ["edit_file", "ok"],
      ["submit", "ok"],
    ]);
    expect(steps[0]?.arguments).toBe('{"path": "lib/ops.js"');
  });

  it("stores each step cut to a size with credentials redacted", async () => {
    const token = "ghs_" + "A1b2C3d4E5f6G7h8I9j0K1l2";
    openAIAgent([turn(call("run_command", { command: `echo ${token}; yes line | head -n 5000` })), submit("Nothing to change.")]);
    const { services, fixture } = await agentTask();

    await runTaskWork(services, { taskId: fixture.taskId }, {});

    const [run] = await workRuns(work.db.pool, fixture.taskId);
    const [command] = await toolSteps(work.db.pool, String(run?.id));
    expect(command?.exit_code).toBe(0);
    expect(command?.arguments).not.toContain(token);
    expect(command?.observation).not.toContain(token);
    expect(command?.observation).toContain("[REDACTED]");
    expect(Buffer.byteLength(command?.observation ?? "")).toBeLessThanOrEqual(STORED_TEXT_BYTES + 100);
  });

  it("sends a refused scope request to a director, saying which path and why, and records the refusal", async () => {
    openAIAgent([
      turn(call("request_scope", { paths: ["docs/usage.md", ".github/workflows/ci.yml"], reason: "document the fix and run it in CI" })),
      submit("never reached"),
    ]);
    const { services, github, fixture } = await agentTask({ extraTasks: 1 });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "needs_director", pullNumber: null });
    const reason = outcome.kind === "needs_director" ? String(outcome.reason) : "";
    expect(reason).toContain("docs/usage.md belongs to task other-0");
    expect(reason).toContain(".github/workflows/ci.yml is a protected path");
    expect(await taskState(fixture.taskId)).toEqual({ state: "needs_director", pr_number: null });
    expect(github.count("POST", /\/pulls$/)).toBe(0);
    const refusals = await work.db.pool.query("SELECT path, granted FROM scope_grants WHERE task_id = $1 ORDER BY id", [fixture.taskId]);
    expect(refusals.rows).toEqual([
      { path: "docs/usage.md", granted: false },
      { path: ".github/workflows/ci.yml", granted: false },
    ]);
    const [run] = await workRuns(work.db.pool, fixture.taskId);
    expect(run).toMatchObject({ end_reason: "scope-refused", ended: true });
  });

  it("never takes the agent's word: a submission claiming passing tests over failing ones goes to a director with the failing run", async () => {
    openAIAgent([
      turn(call("request_scope", { paths: ["lib/ops.js"], reason: "the bug" })),
      turn(call("edit_file", { path: "lib/ops.js", search: "a - b", replace: "a * b" })),
      submit("Fixed add().", "All tests pass."),
    ]);
    const { services, github, fixture } = await agentTask();

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({
      kind: "needs_director",
      pullNumber: 100,
      reason: "tests fail on the work the agent submitted (the app's own run); draft PR #100 keeps the work",
    });
    expect(String(github.pulls.get(100)?.body)).toContain("1 passed, 1 failed");
    expect(github.pulls.get(100)?.draft).toBe(true);
  });
});
