// The limits that stop an agent and keep its work: the step cap (per repository and per task class), the
// repetition detector, the wall-clock limit and the idle limit. Whatever the agent edited is committed to the
// task's branch and kept in a draft PR that names the limit; the task goes to a director.
import { describe, expect, it } from "vitest";
import { runTaskWork } from "../../src/employees/work-loop.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { sh } from "../workspace/git-fixture.js";
import { call, openAIAgent, submit, turn, workRuns, type ScriptedTurn } from "./agent-fixtures.js";
import { BUGGY_PROJECT, createTaskFixture, fakeGitHub, useWorkLoop } from "./work-fixtures.js";

const probe = probeBwrap();
const work = useWorkLoop("aura-agent-limits-");

const FIX_ADD = call("edit_file", { path: "src/math.js", search: "a - b", replace: "a + b" });
/** A different read each turn, so only the step cap can stop it. */
const readLine = (index: number): ScriptedTurn => turn(call("read_file", { path: "src/math.js", start_line: index + 1 }));

async function taskState(taskId: number) {
  return (await work.db.pool.query<{ state: string }>("SELECT state FROM tasks WHERE id = $1", [taskId])).rows[0]?.state;
}

describe.skipIf(!probe.ok)("the agent's limits", () => {
  it("stops a model that never submits at its task class's step cap, keeps the edit in a draft PR and names the limit", async () => {
    const agent = openAIAgent([turn(FIX_ADD), (index) => readLine(index)]);
    const { services, dir } = work.setup({ employeeTools: "native" });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, {
      parent: dir,
      config: { employees: ["gpt-4.1-mini"], agent: { maxSteps: 10, maxStepsByClass: { bugfix: 4 } } },
    });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(agent.requests).toHaveLength(4);
    expect(outcome).toMatchObject({ kind: "needs_director", pullNumber: 100 });
    expect(sh(fixture.remote.bare, "show", `aura/${fixture.issueNumber}-fix-add:src/math.js`)).toContain("a + b");
    const pull = github.pulls.get(100);
    expect(pull?.draft).toBe(true);
    expect(pull?.body).toContain("The agent used all 4 steps of its step cap without submitting.");
    expect(pull?.body).toContain("What is left:");
    expect(await taskState(fixture.taskId)).toBe("needs_director");
    expect(await workRuns(work.db.pool, fixture.taskId)).toEqual([expect.objectContaining({ end_reason: "step-cap", max_steps: 4, steps: 8 })]);
  });

  it("stops a model that repeats the same command, and hands the task to a director when nothing was changed", async () => {
    const agent = openAIAgent([turn(call("run_command", { command: "ls" }))]);
    const { services, dir } = work.setup({ employeeTools: "native" });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, config: { employees: ["gpt-4.1-mini"] } });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(agent.requests).toHaveLength(3);
    expect(outcome).toMatchObject({ kind: "needs_director", pullNumber: null });
    expect(outcome.kind === "needs_director" ? outcome.reason : "").toMatch(
      /^The agent repeated itself: the same run_command call .*\(ls\) came 3 times in a row\.$/,
    );
    expect(github.count("POST", /\/pulls$/)).toBe(0);
    expect(await workRuns(work.db.pool, fixture.taskId)).toEqual([expect.objectContaining({ end_reason: "repetition", ended: true })]);
  });

  it("stops at the wall-clock limit after the turn that passed it, keeping the work", async () => {
    let clock = Date.parse("2026-01-15T12:00:00Z");
    const agent = openAIAgent([
      turn(call("read_file", { path: "src/math.js" })),
      () => {
        clock += 31 * 60_000;
        return turn(FIX_ADD);
      },
      turn(call("submit", { summary: "never reached", tested: "", remaining: "" })),
    ]);
    const { services, dir } = work.setup({ employeeTools: "native", now: () => new Date(clock) });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, config: { employees: ["gpt-4.1-mini"], agent: { maxMinutes: 30 } } });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(agent.requests).toHaveLength(2);
    expect(outcome).toMatchObject({ kind: "needs_director", pullNumber: 100 });
    expect(github.pulls.get(100)?.body).toContain("The agent ran out of time: 31 minutes, over its limit of 30, after 2 steps.");
    expect(github.pulls.get(100)?.body).toContain("2 passed, 0 failed");
    expect(await workRuns(work.db.pool, fixture.taskId)).toEqual([expect.objectContaining({ end_reason: "wall-clock" })]);
  });

  it("stops a model that only talks after the idle limit, nudging it to call a tool each time", async () => {
    const agent = openAIAgent([{ calls: [], text: "I think the bug is in add()." }]);
    const { services, dir } = work.setup({ employeeTools: "native" });
    fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, config: { employees: ["gpt-4.1-mini"], agent: { maxIdleTurns: 3 } } });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(agent.requests).toHaveLength(3);
    expect(agent.sent(1)).toContain("You answered without calling a tool.");
    expect(outcome).toMatchObject({ kind: "needs_director", pullNumber: null });
    expect(outcome.kind === "needs_director" ? outcome.reason : "").toContain("no progress for 3 turns in a row");
    expect(await workRuns(work.db.pool, fixture.taskId)).toEqual([expect.objectContaining({ end_reason: "idle", steps: 3 })]);
  });

  it("shortens older observations when a turn nears the model's window, keeping the task and the latest turns, and records it as a step", async () => {
    const big = Array.from({ length: 400 }, (_, line) => `line ${line + 1}: ${"x".repeat(50)}`).join("\n");
    const agent = openAIAgent([
      (index) => (index < 6 ? turn(call("read_file", { path: "data/big.txt", start_line: 1 + index * 10 })) : submit("Read it all.")),
    ]);
    const { services: base, dir } = work.setup({ employeeTools: "native" });
    const registry = base.policies.employees;
    const small = registry.employees.map((employee) =>
      employee.id === "gpt-4.1-mini" ? { ...employee, limits: { ...employee.limits, contextTokens: 4096 } } : employee,
    );
    const services = { ...base, policies: { ...base.policies, employees: { ...registry, employees: small } } };
    fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, {
      parent: dir,
      files: { ...BUGGY_PROJECT, "data/big.txt": big },
      config: { employees: ["gpt-4.1-mini"] },
    });

    await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(agent.requests).toHaveLength(7);
    expect(agent.sent(4)).not.toContain("[shortened to save context");
    expect(agent.sent(5)).toContain("[shortened to save context: the read_file result of");
    expect(agent.sent(5)).toContain("Task `fix-add` (bugfix): Fix add()");
    const [run] = await workRuns(work.db.pool, fixture.taskId);
    const shortenings = await work.db.pool.query<{ step: number; observation: string }>(
      "SELECT step, observation FROM work_steps WHERE run_id = $1 AND kind = 'shortening' ORDER BY step",
      [run?.id],
    );
    expect(shortenings.rows[0]?.observation).toMatch(
      /^Shortened 1 older entry from about \d+ to \d+ tokens \(window 4096\): observation of read_file call_0_0/,
    );
    expect(shortenings.rows[0]?.step).toBe(11);
  });

  it("stops when the task's budget cannot pay for the next turn's reservation, before the call is made", async () => {
    const agent = openAIAgent([turn(FIX_ADD)]);
    const { services, dir } = work.setup({ employeeTools: "native" });
    fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, config: { employees: ["gpt-4.1-mini"] } });
    // Lowered after routing (whose budget filter would have found nobody): the work loop reads it when it starts.
    await work.db.pool.query(`UPDATE requirements SET repo_config = repo_config || '{"budgets": {"perTask": {"usd": 0.001}}}'::jsonb WHERE id = $1`, [
      fixture.requirementId,
    ]);

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(agent.requests).toHaveLength(0);
    expect(outcome).toMatchObject({ kind: "needs_director", pullNumber: null });
    expect(outcome.kind === "needs_director" ? outcome.reason : "").toMatch(/^The task budget is exhausted/);
    expect(await workRuns(work.db.pool, fixture.taskId)).toEqual([expect.objectContaining({ end_reason: "budget", steps: 0 })]);
  });
});
