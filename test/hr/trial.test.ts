// A trial by eval end to end, through the running app and real PostgreSQL: eval runs stored by src/accountant/eval-results.ts
// (as `aura eval run` stores them), a director's `/aura trial <employee> eval <run>` that takes an employee off
// probation only with a convincing eval, the refusals (not a director, an unknown or unfinished run, a weak
// eval, an employee not on probation), the audit record, and the scoreboard showing eval figures labelled
// "eval" beside the live ones while the live posterior stays untouched.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { loadPosteriors } from "../../src/accountant/posteriors.js";
import { renderScoreboard } from "../../src/accountant/scoreboard.js";
import { replyMarker } from "../../src/director/github-replies.js";
import { buildScoreboardInput } from "../../src/director/scoreboard-comment.js";
import { endEvalRun, openEvalRun, recordEvalAttempts } from "../../src/accountant/eval-results.js";
import type { AttemptResult } from "../../src/eval/report.js";
import { GITHUB_API } from "../helpers/harness.js";
import { auditActions, commentPayload, DIRECTOR, INSTALLATION, OUTSIDER, REPO, testServices, useDirectorHarness } from "../director-e2e/fixtures.js";

const e2e = useDirectorHarness({
  harness: { exceptTasks: ["task.work"] },
  permissions: { [DIRECTOR]: "maintain", [OUTSIDER]: "read" },
  statusComments: true,
  replies: true,
});

let folder = 0;

/** Stores an eval run of `employee` with `resolved` of `attempts` tasks resolved, finished unless told otherwise. */
async function storeEval(employee: string, resolved: number, attempts: number, options: { finished?: boolean } = {}): Promise<number> {
  const pool = e2e.harness.db.pool;
  const runId = await openEvalRun(pool, { tasksDigest: "a".repeat(64), tasksFile: "/evals/tasks.jsonl", outDir: `/evals/run-${++folder}`, runBy: "erin" });
  const results: AttemptResult[] = Array.from({ length: attempts }, (_, index) => ({
    instance_id: `calc-${index}`,
    employee,
    attempt: 1,
    task_class: index % 2 === 0 ? "bugfix" : "feature",
    resolved: index < resolved,
    reason: index < resolved ? "FAIL_TO_PASS and PASS_TO_PASS pass" : "FAIL_TO_PASS still failing",
    outcome: "passed",
    cost_usd: 0.01,
    seconds: 12,
    test_seconds: 1,
    steps: 4,
    heads: [],
    trajectory: `trajectories/calc-${index}.json`,
  }));
  await recordEvalAttempts(pool, runId, results);
  // Recording again (a resumed eval) adds nothing.
  await recordEvalAttempts(pool, runId, results.slice(0, 1));
  if (options.finished !== false) await endEvalRun(pool, runId);
  return runId;
}

async function command(body: string, login: string) {
  const comment = commentPayload({ body, login, issueNumber: 7 });
  await e2e.harness.deliver("issue_comment", comment.payload);
  await e2e.harness.waitForIdle();
  return comment.commentId;
}

async function statusOf(employeeId: string): Promise<string> {
  const { rows } = await e2e.harness.db.pool.query<{ status: string }>("SELECT status FROM employee_states WHERE installation_id = $1 AND employee_id = $2", [
    INSTALLATION,
    employeeId,
  ]);
  return rows[0]?.status ?? "probation";
}

const trialRows = async () => (await e2e.harness.db.pool.query("SELECT employee_id, run_id, accepted_by FROM employee_trials")).rows;

describe("eval results stored by aura eval run", () => {
  it("keep one row per run and attempt; a resumed run reopens its row", async () => {
    const pool = e2e.harness.db.pool;
    const runId = await storeEval("qwen2.5-coder-7b", 1, 3);

    const again = await openEvalRun(pool, { tasksDigest: "a".repeat(64), tasksFile: "/evals/tasks.jsonl", outDir: `/evals/run-${folder}`, runBy: "erin" });

    expect(again).toBe(runId);
    const run = await pool.query("SELECT run_by, tasks_digest, ended_at FROM eval_runs WHERE id = $1", [runId]);
    expect(run.rows[0]).toMatchObject({ run_by: "erin", tasks_digest: "a".repeat(64), ended_at: null });
    const attempts = await pool.query("SELECT instance_id, resolved, task_class, steps FROM eval_attempts WHERE run_id = $1 ORDER BY instance_id", [runId]);
    expect(attempts.rows).toEqual([
      { instance_id: "calc-0", resolved: true, task_class: "bugfix", steps: 4 },
      { instance_id: "calc-1", resolved: false, task_class: "feature", steps: 4 },
      { instance_id: "calc-2", resolved: false, task_class: "bugfix", steps: 4 },
    ]);
  });
});

describe("/aura trial <employee> eval <run>", () => {
  it("is refused to someone who is not a director, and nothing changes", async () => {
    const runId = await storeEval("gpt-4.1-mini", 8, 8);

    const commentId = await command(`/aura trial gpt-4.1-mini eval ${runId}`, OUTSIDER);

    expect(e2e.github.reactions).toEqual([{ commentId, content: "-1" }]);
    expect(await statusOf("gpt-4.1-mini")).toBe("probation");
    expect(await trialRows()).toEqual([]);
    expect(await auditActions(e2e.harness.db.pool, "employee.promoted")).toEqual([]);
    expect((await auditActions(e2e.harness.db.pool, "director.command_refused")).map((event) => [event.actor, event.payload.verb])).toEqual([
      [OUTSIDER, "trial"],
    ]);
  });

  it("is refused for an unknown run, an unfinished run and an eval too weak to convince, and nothing changes", async () => {
    const unfinished = await storeEval("gemini-2.5-flash", 8, 8, { finished: false });
    const weak = await storeEval("gemini-2.5-flash", 4, 8);

    const unknownRun = await command("/aura trial gemini-2.5-flash eval 987654", DIRECTOR);
    const unfinishedRun = await command(`/aura trial gemini-2.5-flash eval ${unfinished}`, DIRECTOR);
    const weakRun = await command(`/aura trial gemini-2.5-flash eval ${weak}`, DIRECTOR);

    expect(e2e.github.replies.map((reply) => reply.body)).toEqual([
      `${replyMarker(unknownRun)}\nNot accepted as a trial: There is no eval run 987654 in this app's database. \`aura eval run\` prints the id of each run it records. Nothing was changed.`,
      `${replyMarker(unfinishedRun)}\nNot accepted as a trial: Eval run ${unfinished} has not finished; finish it (run the same \`aura eval run\` again to resume it) and then accept it. Nothing was changed.`,
      // Beta(5, 5): 95 % interval 21 %–79 %.
      `${replyMarker(weakRun)}\nNot accepted as a trial: Eval run ${weak}: \`gemini-2.5-flash\` 4/8 resolved, 95 % interval 21 %–79 %; the lower bound is below 55 %, so it stays on probation. A larger eval with more resolved tasks narrows the interval. Nothing was changed.`,
    ]);
    expect(await statusOf("gemini-2.5-flash")).toBe("probation");
    expect(await trialRows()).toEqual([]);
    const audited = await auditActions(e2e.harness.db.pool, "director.trial");
    expect(audited.map((event) => [event.actor, event.payload.outcome, event.payload.runId])).toEqual([
      [DIRECTOR, "refused", 987654],
      [DIRECTOR, "refused", unfinished],
      [DIRECTOR, "refused", weak],
    ]);
  });

  it("takes an employee off probation on a director's word and a convincing eval, audited; once per run", async () => {
    const runId = await storeEval("qwen2.5-coder-7b", 8, 8);

    const accepted = await command(`/aura trial qwen2.5-coder-7b eval ${runId} measured on our own history`, DIRECTOR);
    const again = await command(`/aura trial qwen2.5-coder-7b eval ${runId}`, DIRECTOR);

    expect(await statusOf("qwen2.5-coder-7b")).toBe("active");
    expect(await trialRows()).toEqual([{ employee_id: "qwen2.5-coder-7b", run_id: runId, accepted_by: DIRECTOR }]);
    const [promoted, ...others] = await auditActions(e2e.harness.db.pool, "employee.promoted");
    expect(others).toEqual([]);
    expect(promoted?.actor).toBe(DIRECTOR);
    expect(promoted?.payload).toMatchObject({
      employeeId: "qwen2.5-coder-7b",
      from: "probation",
      to: "active",
      by: "director",
      trial: { runId, attempts: 8, resolved: 8, threshold: 0.55, note: "measured on our own history", tasksDigest: "a".repeat(64) },
    });
    // Beta(9, 1): lower 2.5 % bound 0.025^(1/9).
    expect((promoted?.payload.trial as { lowerBound: number }).lowerBound).toBeCloseTo(0.025 ** (1 / 9), 6);
    expect(e2e.github.replies.map((reply) => reply.body)).toEqual([
      `${replyMarker(accepted)}\nDirector @${DIRECTOR} accepted eval run ${runId} as \`qwen2.5-coder-7b\`'s trial (8/8 resolved); it leaves probation and is active.`,
      `${replyMarker(again)}\nNot accepted as a trial: \`qwen2.5-coder-7b\` is active already; a trial only takes an employee off probation. Nothing was changed.`,
    ]);
    const audited = (await auditActions(e2e.harness.db.pool, "director.trial")).filter((event) => event.payload.employeeId === "qwen2.5-coder-7b");
    expect(audited.map((event) => event.payload.outcome)).toEqual(["done", "refused"]);
    // The eval never reaches the live posterior the router draws from.
    expect((await loadPosteriors(e2e.harness.db.pool, INSTALLATION, "bugfix")).get("qwen2.5-coder-7b")?.outcomes ?? 0).toBe(0);
  });

  it("refuses an employee that is not registered", async () => {
    const commentId = await command("/aura trial gpt-99 eval 1", DIRECTOR);

    expect(e2e.github.replies[0]?.body.startsWith(`${replyMarker(commentId)}\n\`gpt-99\` is not a registered employee.`)).toBe(true);
  });
});

describe("the scoreboard", () => {
  it("shows each employee's newest finished eval labelled eval, beside the live table and apart from it", async () => {
    const runId = await storeEval("gpt-4.1-mini", 3, 4);
    await storeEval("gpt-4.1-mini", 4, 4, { finished: false });
    nock(GITHUB_API).get(`/repos/${REPO}/issues/7/comments`).query(true).reply(200, []);

    await command("/aura scoreboard", DIRECTOR);

    const board = e2e.github.replies.find((reply) => reply.body.includes("<!-- aura:scoreboard -->"))?.body ?? "";
    const lines = board.split("\n");
    const live = lines.find((line) => line.startsWith("| ") && line.includes("`gpt-4.1-mini`") && /^\| \d+ \|/.test(line));
    // The live row has no outcomes at all: nothing of the eval is mixed in.
    expect(live).toMatch(/^\| \d+ \| `gpt-4.1-mini` \| probation \| 0 \| 0 \| 0 \| n\/a \(0\) \|/);
    expect(board).toContain("**Eval figures** (offline `aura eval run`");
    const evalRow = lines.find((line) => line.startsWith("| `gpt-4.1-mini` | eval "));
    // 3 of 4 resolved: Beta(4, 2), 95 % interval 28 %–95 %.
    expect(evalRow).toMatch(
      new RegExp(`^\\| \`gpt-4\\.1-mini\` \\| eval ${runId} \\| eval 3/4 \\| eval 75 % \\[28 %–95 %\\] \\| eval \\d{4}-\\d{2}-\\d{2} \\| — \\|$`),
    );
    const input = await buildScoreboardInput(e2e.harness.db.pool, testServices(e2e.harness), INSTALLATION);
    expect(input.employees.find((entry) => entry.employee === "gpt-4.1-mini")?.eval?.runId).toBe(runId);
  });

  it("shows no eval table when no eval has finished", () => {
    const board = renderScoreboard({
      employees: [{ employee: "gpt-4.1-mini", status: "probation", outcomes: [], strikes: [] }],
      now: new Date("2025-03-01T12:00:00Z"),
    });

    expect(board).not.toContain("Eval figures");
    expect(board).not.toContain("| eval ");
  });
});
