// The status comment shows a working agent's current step ("step 3 of at most 50, running the tests"), refreshed
// on the first turn and then at most once per PROGRESS_REFRESH_MS of the (injected) clock, so GitHub is not
// edited on every step. The model's own tool names never reach the comment, only the app's words for them.
import { describe, expect, it } from "vitest";
import { progressText, PROGRESS_REFRESH_MS, throttledProgress } from "../../src/core/status-comment.js";
import { runTaskWork } from "../../src/employees/work-loop.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { call, openAIAgent, submit, turn } from "./agent-fixtures.js";
import { createTaskFixture, fakeGitHub, useWorkLoop } from "./work-fixtures.js";

const probe = probeBwrap();
const work = useWorkLoop("aura-agent-progress-");

describe("the current step's text", () => {
  it("names the turn, the step cap and what the tools the model just called are doing", () => {
    const base = { turns: 12, maxSteps: 50, lastKind: "turn", lastTool: null };

    expect(progressText({ ...base, lastObservation: "Let me run them.\n[calls: run_tests]" })).toBe("step 12 of at most 50, running the tests");
    expect(progressText({ ...base, lastObservation: "[calls: read_file, search, read_file]" })).toBe(
      "step 12 of at most 50, reading code and searching the code",
    );
    expect(progressText({ ...base, lastObservation: "[calls: launch_rockets]" })).toBe("step 12 of at most 50, waiting for the model's next turn");
    expect(progressText({ ...base, lastKind: "tool", lastTool: "run_tests", lastObservation: "ok" })).toBe(
      "step 12 of at most 50, waiting for the model's next turn",
    );
    expect(progressText({ ...base, maxSteps: null, lastKind: "shortening", lastObservation: "Shortened 3 older entries" })).toBe(
      "step 12, shortening its conversation",
    );
  });
});

describe("refreshing the status comment while an agent works", () => {
  it("refreshes on the first turn, then only once the interval has passed since the last refresh", async () => {
    let clock = 0;
    const refreshed: number[] = [];
    let turn = 0;
    const progress = throttledProgress(
      async () => {
        refreshed.push(turn);
      },
      { now: () => new Date(clock), intervalMs: PROGRESS_REFRESH_MS },
    );
    const at = async (seconds: number) => {
      clock = seconds * 1000;
      await progress(++turn);
    };

    for (const seconds of [0, 10, 29, 31, 45, 60, 61, 200]) await at(seconds);

    expect(PROGRESS_REFRESH_MS).toBe(30_000);
    expect(refreshed).toEqual([1, 4, 7, 8]);
  });

  it.skipIf(!probe.ok)("shows the agent's step in the status comment during the work, throttled by the clock", async () => {
    let clock = Date.parse("2026-01-15T12:00:00Z");
    openAIAgent([
      turn(call("search", { pattern: "add" })),
      turn(call("read_file", { path: "src/math.js" })),
      () => {
        clock += 31_000;
        return turn(call("edit_file", { path: "src/math.js", search: "a - b", replace: "a + b" }));
      },
      turn(call("run_tests")),
      submit("add() adds."),
    ]);
    const { services, dir } = work.setup({ employeeTools: "native", now: () => new Date(clock) });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, config: { employees: ["gpt-4.1-mini"] } });
    // As the Manager leaves it: the requirement's current plan is the task's (the comment lists that plan's tasks).
    await work.db.pool.query("UPDATE requirements SET plan_revision = 1 WHERE id = $1", [fixture.requirementId]);

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open" });
    const bodies = github.requests
      .filter((request) => /\/issues\/(\d+\/comments|comments\/\d+)$/.test(request.path) && request.method !== "GET")
      .map((request) => String(request.body?.body));
    const steps = bodies.flatMap((body) => /\| working — (step [^|]*) \|/.exec(body)?.[1] ?? []);
    expect(steps).toEqual(["step 1 of at most 50, searching the code", "step 3 of at most 50, editing files"]);
    expect(bodies.at(-1)).toContain("| PR open |");
  });
});
