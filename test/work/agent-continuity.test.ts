// An agent's work across runs: a revision continues the same agent with the previous run's summary and the
// director's request; a job killed mid-loop stays on record as interrupted and its retry resumes from the
// task's branch without a second PR; an employee without native tools works by one JSON action per turn; and
// `tools: none` keeps the single-shot EditSet path, recorded as a single-shot run.
import nock from "nock";
import { describe, expect, it } from "vitest";
import type { Services } from "../../src/services.js";
import { AgentInterrupted } from "../../src/employees/agent/loop.js";
import { requestRevision } from "../../src/employees/revise.js";
import { runTaskWork } from "../../src/employees/work-loop.js";
import { inTransaction } from "../../src/core/transitions.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { openAIToolReply } from "../employees/tool-calling-fixtures.js";
import { sh } from "../workspace/git-fixture.js";
import { auditPayloads, call, openAIAgent, OPENAI_API, submit, turn, workRuns } from "./agent-fixtures.js";
import { createTaskFixture, edits, fakeGitHub, FIX_ADD, scriptedEmployees, useWorkLoop } from "./work-fixtures.js";

const probe = probeBwrap();
const work = useWorkLoop("aura-agent-runs-");

const FIX = call("edit_file", { path: "src/math.js", search: "a - b", replace: "a + b" });
const TRIPLE = call("create_file", { path: "src/triple.js", content: "exports.triple = (a) => a * 3;\n" });
const ONLY_OPENAI = { employees: ["gpt-4.1-mini"] };

async function revise(services: Pick<Services, "log">, taskId: number, instructions: string, sourceKey: string): Promise<number> {
  const revision = await inTransaction(work.db.pool, (client) => requestRevision(services, client, { taskId, instructions, by: "director-dana", sourceKey }));
  return revision.revisionId;
}

describe.skipIf(!probe.ok)("agent runs of one task", () => {
  it("continues the same agent on a revision: the new run starts from the previous run's summary and files and the director's request", async () => {
    const agent = openAIAgent([turn(FIX), submit("Use + in add()."), turn(TRIPLE), submit("Added triple().")]);
    const { services, dir } = work.setup({ employeeTools: "native" });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, config: ONLY_OPENAI });
    await runTaskWork(services, { taskId: fixture.taskId }, {});
    const revisionId = await revise(services, fixture.taskId, "Also add triple().", "comment:agent-1");

    const outcome = await runTaskWork(services, { taskId: fixture.taskId, revisionId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open", pullNumber: 100 });
    const firstOfRevision = agent.sent(2);
    expect(firstOfRevision).toContain("You worked on this task before");
    expect(firstOfRevision).toContain("Summary of that work: Use + in add().");
    expect(firstOfRevision).toContain("Files changed then: src/math.js");
    expect(firstOfRevision).toContain("Also add triple().");
    const branch = `aura/${fixture.issueNumber}-fix-add`;
    expect(sh(fixture.remote.bare, "show", `${branch}:src/math.js`)).toContain("a + b");
    expect(sh(fixture.remote.bare, "show", `${branch}:src/triple.js`)).toContain("a * 3");
    expect(github.count("POST", /\/pulls$/)).toBe(1);
    const runs = await workRuns(work.db.pool, fixture.taskId);
    expect(runs.map((run) => [run.end_reason, run.files_changed])).toEqual([
      ["submitted", ["src/math.js"]],
      ["submitted", ["src/triple.js"]],
    ]);
  });

  it("leaves a job killed mid-loop on record as interrupted; the retried job resumes from the task's branch and updates the one PR", async () => {
    const stop = new AbortController();
    const agent = openAIAgent([
      turn(FIX),
      submit("Use + in add()."),
      turn(TRIPLE),
      () => {
        stop.abort();
        return turn(call("read_file", { path: "src/triple.js" }));
      },
      turn(TRIPLE),
      submit("Added triple()."),
    ]);
    const { services, dir } = work.setup({ employeeTools: "native" });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, config: ONLY_OPENAI });
    await runTaskWork(services, { taskId: fixture.taskId }, {});
    const branch = `refs/heads/aura/${fixture.issueNumber}-fix-add`;
    const firstTip = fixture.remote.refs()[branch];
    const revisionId = await revise(services, fixture.taskId, "Also add triple().", "comment:agent-2");

    await expect(runTaskWork(services, { taskId: fixture.taskId, revisionId }, { abortSignal: stop.signal })).rejects.toBeInstanceOf(AgentInterrupted);
    const afterKill = await workRuns(work.db.pool, fixture.taskId);
    const tipAfterKill = fixture.remote.refs()[branch];
    const outcome = await runTaskWork(services, { taskId: fixture.taskId, revisionId }, {});

    expect(afterKill.map((run) => [run.end_reason, run.ended])).toEqual([
      ["submitted", true],
      [null, false],
    ]);
    expect(tipAfterKill).toBe(firstTip);
    expect(outcome).toMatchObject({ kind: "pr_open", pullNumber: 100 });
    const tip = fixture.remote.refs()[branch] as string;
    expect(sh(fixture.remote.bare, "merge-base", "--is-ancestor", firstTip as string, tip)).toBe("");
    expect(sh(fixture.remote.bare, "show", `${tip}:src/triple.js`)).toContain("a * 3");
    expect(github.count("POST", /\/pulls$/)).toBe(1);
    expect(agent.requests).toHaveLength(6);
    const runs = await workRuns(work.db.pool, fixture.taskId);
    expect(runs.map((run) => run.end_reason)).toEqual(["submitted", "interrupted", "submitted"]);
    expect(runs[1]?.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(await auditPayloads(work.db.pool, "task.trajectory")).toContainEqual(
      expect.objectContaining({ runId: Number(runs[1]?.id), endReason: "interrupted", digest: runs[1]?.digest }),
    );
  });

  it("works through one JSON action per turn for an employee with tools: actions, over the provider's structured output", async () => {
    const actions = [
      { thought: "Fix the operator.", tool: "edit_file", arguments_json: JSON.stringify({ path: "src/math.js", search: "a - b", replace: "a + b" }) },
      { thought: "Done.", tool: "submit", arguments_json: JSON.stringify({ summary: "Use + in add().", tested: "nothing", remaining: "" }) },
    ];
    let index = 0;
    nock(OPENAI_API)
      .persist()
      .post("/v1/chat/completions")
      .reply(() => [200, openAIToolReply([], JSON.stringify(actions[Math.min(index++, actions.length - 1)]))]);
    const { services, dir } = work.setup({ employeeTools: "actions" });
    fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, config: ONLY_OPENAI });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open" });
    expect(await workRuns(work.db.pool, fixture.taskId)).toEqual([expect.objectContaining({ mode: "actions", end_reason: "submitted", steps: 4 })]);
  });

  it("keeps the single-shot EditSet path for tools: none, recorded as a single-shot run with its snapshot's mode", async () => {
    const script = scriptedEmployees([edits("Use + in add().", FIX_ADD)]);
    const { services, dir } = work.setup({ override: script.override, employeeTools: "none" });
    fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open" });
    expect(script.calls).toHaveLength(1);
    expect(await workRuns(work.db.pool, fixture.taskId)).toEqual([
      expect.objectContaining({ mode: "single-shot", end_reason: "single-shot", files_changed: ["src/math.js"], max_steps: null }),
    ]);
    const snapshots = await work.db.pool.query("SELECT snapshot FROM execution_snapshots WHERE task_id = $1", [fixture.taskId]);
    expect(snapshots.rows[0].snapshot).toMatchObject({ work: { mode: "none", maxSteps: null } });
  });
});
