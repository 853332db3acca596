// The whole company end to end (issue 6 item 7): a maintainer labels an issue, the Manager plans one task with a
// scripted manager model, the router assigns it, the employee's work loop edits a real repository (a local bare
// remote) and runs its tests in the real bubblewrap sandbox, pushes an `aura/` branch and opens a draft PR; the
// Governor and the Auditor judge the PR; a director merges (or closes) it; the ledger, the task and requirement
// states, the posterior and the `/aura scoreboard` comment must then say exactly what happened. All of it
// through Probot deliveries, real PostgreSQL and git, GitHub behind nock.
//
// Replay (the same ledger and seeds give the same routes over many seeds) is asserted in
// test/director-e2e/closed-loop.test.ts ("replay") and not repeated here.
import { mkdirSync } from "node:fs";
import nock from "nock";
import { beforeEach, describe, expect, it } from "vitest";
import { formatDuration, formatUsd } from "../../src/accountant/format.js";
import { loadPosteriors } from "../../src/accountant/posteriors.js";
import { SCOREBOARD_MARKER } from "../../src/accountant/scoreboard.js";
import { clearPermissionCache } from "../../src/github/permissions.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { mockInstallationTokens, useHarness } from "../helpers/harness.js";
import { createBareRemote, sh, useTempDir, type BareRemote } from "../workspace/git-fixture.js";
import { fakeGitHub, type FakeGitHub } from "./fake-github.js";
import { CALL_COST_USD, commentPayload, labeledPayload, PROJECT, pullPayload, scriptedCompany } from "./pipeline-fixture.js";

const OWNER = "octo-org";
const MAINTAINER = "mona-maintainer";
const BOT = "aura-orchestra[bot]";
const ISSUE = { number: 42, title: "add() subtracts", body: "add(2, 3) returns -1; it should return 5." };

const probe = probeBwrap();
const company = scriptedCompany();
const temp = useTempDir("aura-e2e-");
const started = useHarness({ env: { OPENAI_API_KEY: "sk-test-not-used", AURA_APP_SLUG: "aura-orchestra" }, modelOverride: company.override });

beforeEach(() => {
  nock.cleanAll();
  mockInstallationTokens();
  clearPermissionCache();
});

type Pipeline = {
  github: FakeGitHub;
  remote: BareRemote;
  mainBefore: string;
  repo: string;
  installationId: number;
  taskId: number;
  requirementId: number;
  employeeId: string;
  pullNumber: number;
  headSha: string;
  prBody: string;
};

/** Label → plan → route → work → draft PR → `pull_request.opened` → gate and audit; returns what it saw. */
async function runUntilReviewed(name: string, installationId: number): Promise<Pipeline> {
  const parent = `${temp.dir}/${name}`;
  mkdirSync(parent, { mode: 0o711 });
  const remote = createBareRemote(parent, PROJECT);
  const mainBefore = remote.refs()["refs/heads/main"] as string;
  const repo = `${OWNER}/${name}`;
  const github = fakeGitHub({
    owner: OWNER,
    name,
    bare: remote.bare,
    cloneUrl: remote.url,
    botLogin: BOT,
    permissions: { [MAINTAINER]: "maintain" },
    issue: { ...ISSUE, user: "rita-reporter" },
  });

  // 1. A maintainer labels the issue: intake, planning, routing, then the employee's work loop.
  const labeled = await started.harness.deliver("issues", labeledPayload(github, { installationId, issue: ISSUE, sender: MAINTAINER }));
  expect(labeled.status).toBe(200);
  await started.harness.waitForIdle(45_000);

  const { rows: tasks } = await started.harness.db.pool.query<{
    id: number;
    requirement_id: number;
    task_key: string;
    state: string;
    pr_number: number | null;
    branch: string | null;
    employee_id: string;
  }>(
    `SELECT t.id, t.requirement_id, t.task_key, t.state, t.pr_number, t.branch, a.employee_id
       FROM tasks t JOIN requirements r ON r.id = t.requirement_id JOIN assignments a ON a.task_id = t.id AND a.active
      WHERE r.installation_id = $1 AND r.repo = $2`,
    [installationId, repo],
  );
  expect(tasks).toHaveLength(1);
  const task = tasks[0] as (typeof tasks)[number];
  expect(task).toMatchObject({ task_key: "fix-add", state: "pr_open", branch: `aura/${ISSUE.number}-fix-add` });
  const created = github.requests.filter((request) => request.method === "POST" && request.path === `/repos/${repo}/pulls`);
  expect(created).toHaveLength(1);
  const prBody = String(created[0]?.body?.body);
  expect(created[0]?.body).toMatchObject({ draft: true, head: `aura/${ISSUE.number}-fix-add`, base: "main", title: "Fix add()" });
  const pullNumber = Number(task.pr_number);
  expect(github.pulls.get(pullNumber)?.head).toBe(`aura/${ISSUE.number}-fix-add`);
  const headSha = remote.refs()[`refs/heads/aura/${ISSUE.number}-fix-add`] as string;
  expect(sh(remote.bare, "diff", "--name-only", "main", headSha).trim().split("\n")).toEqual(["src/math.js", "test/math.test.js"]);

  // 2. GitHub announces the PR the app opened.
  const opened = await started.harness.deliver("pull_request", pullPayload(github, { action: "opened", number: pullNumber, installationId, sender: BOT }));
  expect(opened.status).toBe(200);
  await started.harness.waitForIdle(45_000);

  return {
    github,
    remote,
    mainBefore,
    repo,
    installationId,
    taskId: task.id,
    requirementId: task.requirement_id,
    employeeId: task.employee_id,
    pullNumber,
    headSha,
    prBody,
  };
}

/** A director presses merge (or close) on GitHub, and GitHub delivers `pull_request.closed`. */
async function close(run: Pipeline, merged: boolean): Promise<void> {
  run.github.closePull(run.pullNumber, { merged, by: MAINTAINER });
  const delivered = await started.harness.deliver(
    "pull_request",
    pullPayload(run.github, { action: "closed", number: run.pullNumber, installationId: run.installationId, sender: MAINTAINER }),
  );
  expect(delivered.status).toBe(200);
  await started.harness.waitForIdle(30_000);
}

async function ledger(taskId: number) {
  const { rows } = await started.harness.db.pool.query(
    `SELECT employee_id, task_class, result, incident, revision_rounds, cost_usd::float8 AS cost, closed_by, pr_number, assigned_at, pr_opened_at
       FROM outcome_ledger WHERE task_id = $1`,
    [taskId],
  );
  return rows;
}

async function states(run: Pipeline) {
  const task = await started.harness.db.pool.query<{ state: string; cost: number }>("SELECT state, cost_usd::float8 AS cost FROM tasks WHERE id = $1", [
    run.taskId,
  ]);
  const requirement = await started.harness.db.pool.query<{ state: string }>("SELECT state FROM requirements WHERE id = $1", [run.requirementId]);
  return { task: task.rows[0]?.state, taskCost: task.rows[0]?.cost, requirement: requirement.rows[0]?.state };
}

/** Only `aura/…` branches were added; `main` (and every other ref) is where it was. */
function expectOnlyAuraBranchesMoved(run: Pipeline): void {
  const refs = run.remote.refs();
  expect(refs["refs/heads/main"]).toBe(run.mainBefore);
  expect(Object.keys(refs).filter((ref) => ref !== "refs/heads/main" && !ref.startsWith("refs/heads/aura/"))).toEqual([]);
}

describe.skipIf(!probe.ok)(`the company end to end${probe.ok ? "" : ` (skipped: ${probe.ok ? "" : probe.error})`}`, () => {
  it("turns a labelled issue into a reviewed PR, and a director's merge into the ledger, the posterior and the scoreboard", async () => {
    company.calls.length = 0;

    const run = await runUntilReviewed("widgets", 5101);

    // The plan came from the manager model, the change from the routed employee: one call each.
    expect(company.calls.map((call) => call.name)).toEqual(["TaskPlan", "EditSet"]);
    expect(company.calls[1]?.employeeId).toBe(run.employeeId);
    // The PR body carries the counts of the sandbox run: the fixture's 1 test plus the 2 the employee added.
    expect(run.prBody).toContain(`<!-- aura:task id=${run.taskId} -->`);
    expect(run.prBody).toContain(`Closes #${ISSUE.number}`);
    expect(run.prBody).toContain("3 passed, 0 failed, 0 skipped, 3 tests in total");
    expect(run.prBody).toContain(`- Tested commit: ${run.headSha}`);
    // What the Auditor compares its run with is the work loop's record, not the body.
    const claims = await started.harness.db.pool.query("SELECT head_sha, claim FROM task_run_claims WHERE task_id = $1", [run.taskId]);
    expect(claims.rows).toEqual([{ head_sha: run.headSha, claim: { exitCode: 0, passed: 3, failed: 0, skipped: 0, total: 3, headSha: run.headSha } }]);
    // The gate: pending first (and while it waits for the Auditor's evidence), success last, on the head
    // commit, pointing at the Auditor's review; the draft then becomes ready for review.
    const gate = run.github.statuses.filter((status) => status.context === "aura/hnsc" && status.sha === run.headSha);
    expect(gate.length).toBeGreaterThanOrEqual(2);
    expect(gate.slice(0, -1).map((status) => status.state)).toEqual(gate.slice(0, -1).map(() => "pending"));
    expect(gate.at(-1)).toMatchObject({ state: "success", description: "HNSC passed: 8 of 8 rules" });
    expect(gate.at(-1)?.target_url).toBe(`https://github.com/${run.repo}/pull/${run.pullNumber}#pullrequestreview-${run.github.reviews[0]?.id}`);
    expect(run.github.statuses.filter((status) => status.context === "aura/hnsc" && status.sha !== run.headSha)).toEqual([]);
    expect(run.github.pulls.get(run.pullNumber)?.draft).toBe(false);
    // The Auditor re-ran the tests on the head commit and posted one COMMENT review with what it saw.
    expect(run.github.reviews).toHaveLength(1);
    expect(run.github.reviews[0]).toMatchObject({ pull: run.pullNumber, event: "COMMENT", commit_id: run.headSha });
    const review = run.github.reviews[0]?.body ?? "";
    expect(review).toContain(`<!-- aura:audit sha=${run.headSha} -->`);
    // Head, base (the fixture's one test) and the employee's recorded run, column by column.
    expect(review).toContain("| Passed | 3 | 1 | 3 |");
    expect(review).toContain("| Failed | 0 | 0 | 0 |");
    expect(review).toContain("No mismatch: the PR's claims agree with the Auditor's run.");
    // Nothing in the app asked GitHub to merge or approve.
    expect(run.github.graphql.map((call) => /mutation[^{]*\{\s*(\w+)/.exec(call.query)?.[1])).toEqual(["markPullRequestReadyForReview"]);

    await close(run, true);

    const [row] = await ledger(run.taskId);
    expect(row).toMatchObject({
      employee_id: run.employeeId,
      task_class: "bugfix",
      result: "merged",
      incident: false,
      revision_rounds: 0,
      cost: CALL_COST_USD,
      closed_by: MAINTAINER,
      pr_number: run.pullNumber,
    });
    expect(await ledger(run.taskId)).toHaveLength(1);
    expect(await states(run)).toEqual({ task: "merged", taskCost: CALL_COST_USD, requirement: "done" });
    // foldPosterior for one reward of 1.0 from the uniform prior Beta(1, 1).
    expect((await loadPosteriors(started.harness.db.pool, run.installationId, "bugfix")).get(run.employeeId)).toEqual({ alpha: 2, beta: 1, outcomes: 1 });

    const scoreboard = commentPayload(run.github, {
      installationId: run.installationId,
      issue: ISSUE.number,
      body: "/aura scoreboard",
      login: MAINTAINER,
      commentId: 31_337,
    });
    await started.harness.deliver("issue_comment", scoreboard);
    await started.harness.waitForIdle();

    const boards = run.github.comments.filter((comment) => comment.issue === ISSUE.number && comment.body.startsWith(SCOREBOARD_MARKER));
    expect(boards).toHaveLength(1);
    const cells = boards[0]?.body
      .split("\n")
      .find((line) => line.includes(`\`${run.employeeId}\``))
      ?.split("|")
      .slice(1, -1)
      .map((cell) => cell.trim());
    const timeToPr = formatDuration(new Date(row?.pr_opened_at).getTime() - new Date(row?.assigned_at).getTime());
    // Rank 1 (Beta(2, 1) has the highest lower bound); 1 task, 1 merged, none rejected; 100 % over n = 1;
    // score mean 2/3 with 10 %–90 % bounds √0.1 and √0.9; no strikes or revisions; one call's cost, all of it
    // for the one merged PR.
    expect(cells).toEqual([
      "1",
      `\`${run.employeeId}\``,
      "probation",
      "1",
      "1",
      "0",
      "100 % [10–100 %] (1)",
      "0.67 [**0.32**–0.95]",
      "0",
      "0",
      formatUsd(CALL_COST_USD),
      formatUsd(CALL_COST_USD),
      timeToPr,
    ]);
    expect(run.github.reactions).toContainEqual({ commentId: 31_337, content: "+1" });
    // One status comment on the issue, kept up to date: it ends showing the merged task and its cost.
    const status = run.github.comments.filter((comment) => comment.issue === ISSUE.number && comment.body.startsWith("<!-- aura:status "));
    expect(status).toHaveLength(1);
    expect(status[0]?.body).toContain(`| \`${run.employeeId}\` | ~20k tokens, $0.20 | merged | #${run.pullNumber} | ${formatUsd(CALL_COST_USD)} |`);

    expectOnlyAuraBranchesMoved(run);
    expect(run.github.count("PUT", /\/merge$/)).toBe(0);
    expect(run.github.unhandled).toEqual([]);
  });

  it("scores a PR closed without merge as a rejection with reward 0", async () => {
    const run = await runUntilReviewed("gadgets", 5102);

    await close(run, false);

    expect(await ledger(run.taskId)).toMatchObject([
      { employee_id: run.employeeId, result: "rejected", incident: false, cost: CALL_COST_USD, closed_by: MAINTAINER },
    ]);
    // Its only task rejected, nobody works on the requirement any more: it fails (a director may reassign).
    expect(await states(run)).toEqual({ task: "rejected", taskCost: CALL_COST_USD, requirement: "failed" });
    const status = run.github.comments.filter((comment) => comment.issue === ISSUE.number && comment.body.startsWith("<!-- aura:status "));
    expect(status).toHaveLength(1);
    expect(status[0]?.body).toContain(`| \`${run.employeeId}\` | ~20k tokens, $0.20 | rejected | #${run.pullNumber} | ${formatUsd(CALL_COST_USD)} |`);
    expect(status[0]?.body).not.toContain("employees are working");
    expect((await loadPosteriors(started.harness.db.pool, run.installationId, "bugfix")).get(run.employeeId)).toEqual({ alpha: 1, beta: 2, outcomes: 1 });
    expectOnlyAuraBranchesMoved(run);
    expect(run.github.unhandled).toEqual([]);
  });
});
