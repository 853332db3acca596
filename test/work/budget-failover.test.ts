// Budgets (reserve, stop at the cap keeping the partial branch, raises capped at the daily limit), provider
// failover through the real SDKs behind nock, the open-PR limit, and the [WIP] fallback where drafts are unavailable.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { BudgetRaiseRefused, raiseBudget } from "../../src/models/budgets.js";
import { openOrUpdatePull } from "../../src/employees/pull-request.js";
import { requestRevision, RevisionNotPossible } from "../../src/employees/revise.js";
import { runTaskWork } from "../../src/employees/work-loop.js";
import { inTransaction } from "../../src/core/transitions.js";
import { runRerouteJob } from "../../src/manager/reroute.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { geminiReply, loadFixture, openAIReply } from "../employees/provider-fixtures.js";
import { insertRequirement } from "../helpers/services.js";
import { sh } from "../workspace/git-fixture.js";
import { createTaskFixture, edits, fakeGitHub, FIX_ADD, replace, scriptedEmployees, useWorkLoop } from "./work-fixtures.js";

const probe = probeBwrap();
const work = useWorkLoop("aura-budget-");

describe.skipIf(!probe.ok)(`budgets and failover in the work loop${probe.ok ? "" : " (skipped: no bubblewrap)"}`, () => {
  it("stops at the task's cap, keeps the partial branch in a draft PR and says what is left", async () => {
    const wrong = replace("src/math.js", "exports.add = (a, b) => a - b;", "exports.add = (a, b) => a * b;");
    const script = scriptedEmployees([edits("Try *.", wrong), edits("Use +.", FIX_ADD)], { input: 124_000, cachedInput: 0, output: 1_000 });
    const { services, dir } = work.setup({ override: script.override });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, {
      parent: dir,
      config: { employees: ["gpt-4.1-mini"], budgets: { perTask: { tokens: 150_000 } } },
    });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "needs_director" });
    expect(script.calls).toHaveLength(1);
    expect(sh(fixture.remote.bare, "show", `aura/${fixture.issueNumber}-fix-add:src/math.js`)).toContain("a * b");
    const pull = github.pulls.get(100);
    expect(pull?.draft).toBe(true);
    expect(pull?.body).toContain("work stopped");
    expect(pull?.body).toContain("The task budget is exhausted");
    expect(pull?.body).toContain("Making the failing tests pass.");
    const notices = (await work.db.pool.query("SELECT kind, body FROM requirement_notices WHERE requirement_id = $1 ORDER BY id", [fixture.requirementId]))
      .rows;
    expect(notices.map((n) => n.kind)).toEqual(["warning", "incident"]);
    expect(notices[0]?.body).toContain("83 % used");
    const spend = (await work.db.pool.query("SELECT state, tokens FROM model_spend WHERE task_id = $1", [fixture.taskId])).rows;
    expect(spend.map((row) => [row.state, Number(row.tokens)])).toEqual([["settled", 125_000]]);
    const task = (await work.db.pool.query("SELECT state, cost_usd FROM tasks WHERE id = $1", [fixture.taskId])).rows[0];
    expect(task.state).toBe("needs_director");
    expect(Number(task.cost_usd)).toBeGreaterThan(0);
  });

  it("fails over to the next employee when the first one's provider answers 500, through the real SDKs", async () => {
    const reply = JSON.stringify(edits("Use +.", FIX_ADD));
    let modelCalls = 0;
    const firstFails = (ok: () => Record<string, unknown>, failure: Record<string, unknown>) => (): [number, string, Record<string, string>] => {
      modelCalls++;
      return modelCalls === 1
        ? [500, JSON.stringify(failure), { "content-type": "application/json" }]
        : [200, JSON.stringify(ok()), { "content-type": "application/json" }];
    };
    nock("https://openai.test")
      .persist()
      .post("/v1/chat/completions")
      .optionally()
      .reply(firstFails(() => openAIReply(reply), loadFixture("openai-error-500.json")));
    nock("https://gemini.test")
      .persist()
      .post("/v1beta/models/gemini-2.5-flash:generateContent")
      .optionally()
      .reply(firstFails(() => geminiReply(reply), loadFixture("gemini-error-500.json")));
    const { services, dir } = work.setup({ env: { OPENAI_BASE_URL: "https://openai.test/v1", GEMINI_BASE_URL: "https://gemini.test" } });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, config: { employees: ["gpt-4.1-mini", "gemini-2.5-flash"] } });

    const first = await runTaskWork(services, { taskId: fixture.taskId }, {});
    const reported = (
      await work.db.pool.query("SELECT q.task, q.payload FROM queued_jobs q JOIN graphile_worker.jobs j ON j.id = q.job_id WHERE j.key = $1", [
        `reroute:${fixture.taskId}`,
      ])
    ).rows;
    const rerouted = await runRerouteJob(services, reported[0]?.payload);
    const repeated = await runRerouteJob(services, reported[0]?.payload);
    const second = await runTaskWork(services, { taskId: fixture.taskId }, {});

    const other = fixture.employeeId === "gpt-4.1-mini" ? "gemini-2.5-flash" : "gpt-4.1-mini";
    // The employee reports the failure; the Manager's task.reroute decides who works next, once.
    expect(first).toEqual({ kind: "failed_over", from: fixture.employeeId });
    expect(reported).toEqual([{ task: "task.reroute", payload: { taskId: fixture.taskId, from: fixture.employeeId, failure: "server" } }]);
    expect(rerouted).toEqual({ kind: "routed", employeeId: other });
    expect(repeated).toMatchObject({ kind: "skipped" });
    expect(second).toMatchObject({ kind: "pr_open", pullNumber: 100 });
    const notices = (await work.db.pool.query<{ body: string }>("SELECT body FROM requirement_notices WHERE requirement_id = $1", [fixture.requirementId]))
      .rows;
    expect(notices.map((n) => n.body)).toContainEqual(`Task \`fix-add\`: ${fixture.employeeId}'s provider failed (server); handed to \`${other}\`.`);
    expect(github.pulls.get(100)?.body).toContain(`Employee: \`${other}\``);
    const failures = (await work.db.pool.query("SELECT employee_id, kind FROM task_provider_failures WHERE task_id = $1", [fixture.taskId])).rows;
    expect(failures).toEqual([{ employee_id: fixture.employeeId, kind: "server" }]);
    const message = sh(fixture.remote.bare, "log", "-1", "--format=%B", `aura/${fixture.issueNumber}-fix-add`);
    expect(message).toContain(`Aura-Employee: ${other}`);
  });
});

describe("rate-aware and draft-aware pull requests", () => {
  it("waits, and says so, while the repository has its maximum of open agent PRs", async () => {
    const script = scriptedEmployees([edits("Use +.", FIX_ADD)]);
    const { services, dir } = work.setup({ override: script.override });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, extraTasks: 1, config: { maxOpenAgentPrs: 1 } });
    await work.db.pool.query("UPDATE tasks SET state = 'pr_open', pr_number = 5 WHERE requirement_id = $1 AND id <> $2", [
      fixture.requirementId,
      fixture.taskId,
    ]);
    await work.db.pool.query("SELECT graphile_worker.remove_job($1)", [`task:${fixture.taskId}`]);

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "waiting" });
    expect(script.calls).toHaveLength(0);
    const queued = await work.db.pool.query("SELECT task_identifier, run_at > now() AS later FROM graphile_worker.jobs WHERE key = $1", [
      `task:${fixture.taskId}`,
    ]);
    expect(queued.rows).toEqual([{ task_identifier: "task.work", later: true }]);
    expect([...github.comments.values()][0]?.body).toContain("already has 1 open agent pull requests");
    const state = (await work.db.pool.query("SELECT state FROM tasks WHERE id = $1", [fixture.taskId])).rows[0].state;
    expect(state).toBe("assigned");
  });

  it("opens a normal PR titled [WIP] where drafts are not available", async () => {
    const { services } = work.setup();
    const github = fakeGitHub({ draftUnsupported: true });

    const pull = await openOrUpdatePull(
      services.github.forInstallation(1),
      { owner: "octo-org", repo: "free", branch: "aura/1-x", base: "main" },
      {
        title: "Fix add()",
        body: "body",
        knownNumber: null,
      },
    );

    expect(pull).toMatchObject({ created: true, draft: false, title: "[WIP] Fix add()" });
    expect(github.pulls.get(pull.number)).toMatchObject({ title: "[WIP] Fix add()", draft: false, head: "aura/1-x" });
  });

  it("updates the PR GitHub says already exists for a branch thought new, instead of failing or opening a second", async () => {
    const { services } = work.setup();
    const github = fakeGitHub();
    const octokit = services.github.forInstallation(1);
    const target = { owner: "octo-org", repo: "free", branch: "aura/2-y", base: "main" };
    const first = await openOrUpdatePull(octokit, target, { title: "Fix add()", body: "first", knownNumber: null, branchIsNew: true });

    const second = await openOrUpdatePull(octokit, target, { title: "Fix add()", body: "second", knownNumber: null, branchIsNew: true });

    expect(second).toMatchObject({ number: first.number, created: false });
    expect(github.pulls.size).toBe(1);
    expect(github.pulls.get(first.number)?.body).toBe("second");
    // A new branch skips the lookup: the first call was one request, the second found the PR after the 422.
    expect(github.requests.filter((r) => r.path.startsWith("/repos/")).map((r) => `${r.method} ${r.path}`)).toEqual([
      "POST /repos/octo-org/free/pulls",
      "POST /repos/octo-org/free/pulls",
      "GET /repos/octo-org/free/pulls",
      `PATCH /repos/octo-org/free/pulls/${first.number}`,
    ]);
  });
});

describe("raiseBudget", () => {
  it("raises a task's dollar cap but never beyond the app's daily limit", async () => {
    const { services } = work.setup();
    const budgets = services.policies.budgets;

    const first = await inTransaction(work.db.pool, (client) =>
      raiseBudget(client, { installationId: 77, scope: "task", id: 1, amountUsd: 1_000, by: "dana", budgets }),
    );
    const second = inTransaction(work.db.pool, (client) =>
      raiseBudget(client, { installationId: 77, scope: "task", id: 1, amountUsd: 5, by: "dana", budgets }),
    );

    expect(first).toEqual({ grantedUsd: budgets.perDayPerInstallation.usd - budgets.perTask.usd, capUsd: budgets.perDayPerInstallation.usd, capped: true });
    await expect(second).rejects.toBeInstanceOf(BudgetRaiseRefused);
    const audit = await work.db.pool.query("SELECT actor FROM audit.events WHERE action = 'budget.raised'");
    expect(audit.rows).toEqual([{ actor: "dana" }]);
  });
});

describe("requestRevision", () => {
  it("records a round once per source, moves the task back to work and enqueues it; a task without a PR cannot be revised", async () => {
    const { services } = work.setup();
    const { taskIds } = await insertRequirement(work.db, { issueNumber: 900, repo: "octo-org/revise", tasks: [{ key: "a" }, { key: "b" }] });
    await work.db.pool.query("UPDATE tasks SET state = 'pr_open', pr_number = 12 WHERE id = $1", [taskIds["a"]]);
    const ask = () =>
      inTransaction(work.db.pool, (client) =>
        requestRevision(services, client, { taskId: taskIds["a"] as number, instructions: "Rename x.", by: "dana", sourceKey: "review:55" }),
      );

    const first = await ask();
    const again = await ask();
    const noPull = inTransaction(work.db.pool, (client) =>
      requestRevision(services, client, { taskId: taskIds["b"] as number, instructions: "x", by: "dana" }),
    );

    expect(first).toMatchObject({ round: 1, created: true });
    expect(again).toEqual({ revisionId: first.revisionId, round: 1, created: false });
    await expect(noPull).rejects.toBeInstanceOf(RevisionNotPossible);
    const task = (await work.db.pool.query("SELECT state, revision_rounds FROM tasks WHERE id = $1", [taskIds["a"]])).rows[0];
    expect(task).toEqual({ state: "working", revision_rounds: 1 });
    const job = await work.db.pool.query("SELECT q.payload FROM graphile_worker.jobs j JOIN queued_jobs q ON q.job_id = j.id WHERE j.key = $1", [
      `task:${taskIds["a"]}`,
    ]);
    expect(job.rows[0].payload).toEqual({ taskId: taskIds["a"], revisionId: first.revisionId });
  });
});
