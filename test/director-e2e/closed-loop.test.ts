// The closed loop end to end: a director's merge becomes a ledger row, the posterior the router draws from and
// the scoreboard's numbers; a rejection scores 0; a merge by a non-director is an incident; a redelivered close
// counts once; strikes suspend and the router then skips the employee; the same ledger and seeds replay.
import { describe, expect, it } from "vitest";
import { loadPosteriors } from "../../src/accountant/posteriors.js";
import { routeTask } from "../../src/manager/assign.js";
import { route, type RouteInput, type RoutingDecision } from "../../src/manager/route.js";
import { inTransaction } from "../../src/core/transitions.js";
import nock from "nock";
import { GITHUB_API } from "../helpers/harness.js";
import {
  auditActions,
  closedPayload,
  commentPayload,
  DIRECTOR,
  INSTALLATION,
  mockReplies,
  mockStatusComments,
  REPO,
  seedAgentTask,
  testServices,
  WRITER,
  useDirectorHarness,
} from "./fixtures.js";

const e2e = useDirectorHarness({ permissions: { [DIRECTOR]: "admin", [WRITER]: "write" } });

async function ledgerRows(taskId: number) {
  const { rows } = await e2e.harness.db.pool.query(
    "SELECT employee_id, task_class, result, incident, revision_rounds, cost_usd::float8 AS cost, closed_by, pr_number FROM outcome_ledger WHERE task_id = $1",
    [taskId],
  );
  return rows;
}

async function taskState(taskId: number): Promise<string> {
  return (await e2e.harness.db.pool.query<{ state: string }>("SELECT state FROM tasks WHERE id = $1", [taskId])).rows[0]?.state ?? "";
}

describe("a pull request merged by a director", () => {
  it("records the outcome, moves the posterior by the reward and shows it on the scoreboard", async () => {
    const status = mockStatusComments();
    const replies = mockReplies();
    const task = await seedAgentTask(e2e.harness, { employeeId: "gemini-2.5-flash", taskClass: "docs", costUsd: 0.42, revisionRounds: 1 });

    await e2e.harness.deliver("pull_request", closedPayload(task, { merged: true, by: DIRECTOR }));
    await e2e.harness.waitForIdle();
    nock(GITHUB_API).get(`/repos/${REPO}/issues/${task.issueNumber}/comments`).query(true).reply(200, []);
    const scoreboard = commentPayload({ body: "/aura scoreboard", login: DIRECTOR, issueNumber: task.issueNumber });
    await e2e.harness.deliver("issue_comment", scoreboard.payload);
    await e2e.harness.waitForIdle();

    expect(await ledgerRows(task.taskId)).toEqual([
      {
        employee_id: "gemini-2.5-flash",
        task_class: "docs",
        result: "merged",
        incident: false,
        revision_rounds: 1,
        cost: 0.42,
        closed_by: DIRECTOR,
        pr_number: task.prNumber,
      },
    ]);
    expect(await taskState(task.taskId)).toBe("merged");
    const posterior = (await loadPosteriors(e2e.harness.db.pool, INSTALLATION, "docs")).get("gemini-2.5-flash");
    // One merge after one revision round: reward 1 − 0.15 = 0.85 on top of the uniform prior.
    expect(posterior?.alpha).toBeCloseTo(1.85, 10);
    expect(posterior?.beta).toBeCloseTo(1.15, 10);
    expect(posterior?.outcomes).toBe(1);
    const requirement = await e2e.harness.db.pool.query<{ state: string }>("SELECT state FROM requirements WHERE id = $1", [task.requirementId]);
    expect(requirement.rows[0]?.state).toBe("done");
    expect(status.bodies.at(-1)).toContain("| merged, 1 revision |");
    const board = replies.replies.find((reply) => reply.body.includes("<!-- aura:scoreboard -->"));
    const row = board?.body.split("\n").find((line) => line.includes("`gemini-2.5-flash`") && line.startsWith("| 1 |"));
    // Rank 1 by lower bound; 1 task, 1 merged, 0 rejected; merge rate 100 % over n = 1; $0.42 spent, $0.42 per merged PR.
    // Score: Beta(1.85, 1.15) has mean 0.62 and 10 %–90 % bounds 0.26–0.92; the PR opened 2 h after assignment.
    expect(row).toBe("| 1 | `gemini-2.5-flash` | probation | 1 | 1 | 0 | 100 % [10–100 %] (1) | 0.62 [**0.26**–0.92] | 0 | 1 | $0.42 | $0.42 | 2 h |");
    expect(replies.reactions).toContainEqual({ commentId: scoreboard.commentId, content: "+1" });
  });

  it("charges the author its own model calls only: the Auditor's advisory review adds neither latency nor cost", async () => {
    mockStatusComments();
    // The work loop recorded $0.50 after a revision round that ran once the $0.20 advisory review had settled.
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", taskClass: "feature", costUsd: 0.5 });
    await e2e.harness.db.pool.query(
      `INSERT INTO model_spend (installation_id, repo, requirement_id, task_id, employee_id, purpose, state, reserved_tokens, reserved_usd, tokens, usd, day, created_at, settled_at)
       VALUES ($1, $2, $3, $4, 'gpt-4.1-mini', 'edits', 'settled', 1000, 1, 800, 0.3, '2025-03-01', '2025-03-01T09:00:00Z', '2025-03-01T09:00:02Z'),
              ($1, $2, $3, $4, 'gemini-2.5-flash', 'advisory-review', 'settled', 1000, 1, 900, 0.2, '2025-03-01', '2025-03-01T09:30:00Z', '2025-03-01T09:30:30Z')`,
      [INSTALLATION, REPO, task.requirementId, task.taskId],
    );

    await e2e.harness.deliver("pull_request", closedPayload(task, { merged: true, by: DIRECTOR }));
    await e2e.harness.waitForIdle();

    const { rows } = await e2e.harness.db.pool.query("SELECT cost_usd::float8 AS cost, latency_ms::int AS latency FROM outcome_ledger WHERE task_id = $1", [
      task.taskId,
    ]);
    expect(rows).toEqual([{ cost: 0.3, latency: 2000 }]);
  });

  it("counts a redelivered close once", async () => {
    mockStatusComments();
    const task = await seedAgentTask(e2e.harness, { employeeId: "qwen2.5-coder-7b", taskClass: "test", costUsd: 0 });
    const payload = closedPayload(task, { merged: true, by: DIRECTOR });

    await e2e.harness.deliver("pull_request", payload);
    await e2e.harness.waitForIdle();
    await e2e.harness.deliver("pull_request", payload);
    await e2e.harness.waitForIdle();

    expect(await ledgerRows(task.taskId)).toHaveLength(1);
    expect((await loadPosteriors(e2e.harness.db.pool, INSTALLATION, "test")).get("qwen2.5-coder-7b")?.outcomes).toBe(1);
  });
});

describe("a pull request closed without merge", () => {
  it("is a rejection with reward 0", async () => {
    mockStatusComments();
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", taskClass: "refactor", costUsd: 0.1 });

    await e2e.harness.deliver("pull_request", closedPayload(task, { merged: false, by: DIRECTOR }));
    await e2e.harness.waitForIdle();

    expect(await ledgerRows(task.taskId)).toMatchObject([{ result: "rejected", incident: false }]);
    expect(await taskState(task.taskId)).toBe("rejected");
    expect((await loadPosteriors(e2e.harness.db.pool, INSTALLATION, "refactor")).get("gpt-4.1-mini")).toEqual({ alpha: 1, beta: 2, outcomes: 1 });
  });
});

describe("a pull request merged by someone who is not a director", () => {
  it("is recorded as a governance incident, not a success, and reported in the status comment", async () => {
    const status = mockStatusComments();
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", taskClass: "bugfix", costUsd: 0.2 });

    await e2e.harness.deliver("pull_request", closedPayload(task, { merged: true, by: WRITER }));
    await e2e.harness.waitForIdle();

    expect(await ledgerRows(task.taskId)).toMatchObject([{ result: "merged", incident: true, closed_by: WRITER }]);
    expect(await loadPosteriors(e2e.harness.db.pool, INSTALLATION, "bugfix")).toEqual(new Map());
    expect(await taskState(task.taskId)).toBe("needs_director");
    expect(status.bodies.at(-1)).toContain(`Governance incident: PR #${task.prNumber}`);
    expect((await auditActions(e2e.harness.db.pool, "governance.incident")).map((event) => event.actor)).toContain(WRITER);
  });
});

describe("strikes", () => {
  it("suspend an employee once per (PR, rule) at close, and the router then skips it", async () => {
    mockStatusComments();
    const task = await seedAgentTask(e2e.harness, { employeeId: "qwen2.5-coder-7b", taskClass: "docs", installationId: 777 });
    const headSha = "b".repeat(40);
    const rules = [
      { ruleId: "protected-paths", kind: "protected-paths", severity: "major", state: "fail", summary: "edited .github/workflows", findings: [], notes: [] },
      { ruleId: "scope", kind: "scope", severity: "minor", state: "overridden", summary: "overridden", findings: [], notes: [] },
    ];
    for (let push = 0; push < 2; push++) {
      await e2e.harness.db.pool.query(
        `INSERT INTO governor_verdicts (installation_id, repo, pull_number, head_sha, pack_revision, conclusion, description, governed, rules)
         VALUES (777, $1, $2, $3, 'rev', 'failure', 'failed', true, $4)`,
        [REPO, task.prNumber, headSha, JSON.stringify(rules)],
      );
    }

    await e2e.harness.deliver(
      "pull_request",
      closedPayload(task, { merged: false, by: DIRECTOR, headSha, installationId: 777, closedAt: new Date().toISOString() }),
    );
    await e2e.harness.waitForIdle();

    const strikes = await e2e.harness.db.pool.query("SELECT employee_id, rule_id, severity FROM strike_ledger WHERE installation_id = 777");
    expect(strikes.rows).toEqual([{ employee_id: "qwen2.5-coder-7b", rule_id: "protected-paths", severity: "major" }]);
    const state = await e2e.harness.db.pool.query("SELECT status FROM employee_states WHERE installation_id = 777 AND employee_id = 'qwen2.5-coder-7b'");
    expect(state.rows[0]?.status).toBe("suspended");
    expect((await auditActions(e2e.harness.db.pool, "employee.suspended")).some((e) => e.payload.employeeId === "qwen2.5-coder-7b")).toBe(true);
    // Suspension is per installation: the same employee elsewhere is untouched.
    const elsewhere = await e2e.harness.db.pool.query("SELECT status FROM employee_states WHERE installation_id = $1 AND employee_id = 'qwen2.5-coder-7b'", [
      INSTALLATION,
    ]);
    expect(elsewhere.rows[0]?.status ?? "probation").not.toBe("suspended");
    const next = await seedNextTask(777, "docs");
    const decision = await inTransaction(e2e.harness.db.pool, async (client) => {
      const routed = await routeTask(testServices(e2e.harness), client, next, {});
      await client.query("SELECT graphile_worker.remove_job($1)", [`task:${next}`]);
      return routed.decision;
    });
    const qwen = decision.candidates.find((candidate) => candidate.employeeId === "qwen2.5-coder-7b");
    expect(qwen).toMatchObject({ eligible: false, failedFilter: "status" });
    expect(decision.winner).not.toBe("qwen2.5-coder-7b");
  });
});

async function seedNextTask(installationId: number, taskClass: string): Promise<number> {
  const requirement = await e2e.harness.db.pool.query<{ id: string }>(
    `INSERT INTO requirements (installation_id, repo, issue_number, title, state, plan_revision)
     VALUES ($1, $2, (SELECT coalesce(max(issue_number), 0) + 1 FROM requirements), 'next', 'in_progress', 1) RETURNING id`,
    [installationId, REPO],
  );
  const task = await e2e.harness.db.pool.query<{ id: string }>(
    `INSERT INTO tasks (requirement_id, task_key, title, instructions, task_class, scope, estimate_tokens, estimate_usd, plan_revision)
     VALUES ($1, 'T1', 'next', 'next', $2, '{docs/**}', 20000, 0.05, 1) RETURNING id`,
    [requirement.rows[0]?.id, taskClass],
  );
  return Number(task.rows[0]?.id);
}

describe("replay", () => {
  it("gives the same routes from the same ledger and seeds, over many seeds", async () => {
    const decisions: RoutingDecision[] = [];
    for (let i = 0; i < 40; i++) {
      const taskId = await seedNextTask(INSTALLATION, "docs");
      decisions.push(
        await inTransaction(e2e.harness.db.pool, async (client) => {
          const routed = await routeTask(testServices(e2e.harness), client, taskId, {});
          await client.query("SELECT graphile_worker.remove_job($1)", [`task:${taskId}`]);
          return routed.decision;
        }),
      );
    }
    const posteriors = await loadPosteriors(e2e.harness.db.pool, INSTALLATION, "docs");

    const replayed = decisions.map((decision) => {
      const [installationId, repo, issueNumber, taskId, attempt, policyRevision] = decision.seedMaterial.split(":");
      const input: RouteInput = {
        installationId: Number(installationId),
        repo: repo ?? "",
        issueNumber: Number(issueNumber),
        taskId: taskId ?? "",
        attempt: Number(attempt),
        policyRevision: policyRevision ?? "",
        taskClass: decision.taskClass,
        estimate: decision.estimate,
        candidates: decision.candidates.map((c) => ({
          id: c.employeeId,
          provider: c.provider,
          status: c.status,
          capabilities: [decision.taskClass],
          local: c.provider === "ollama",
          posterior: posteriors.get(c.employeeId) ?? { alpha: 1, beta: 1 },
          outcomes: posteriors.get(c.employeeId)?.outcomes ?? 0,
          expectedCostUsd: c.expectedCostUsd,
        })),
        allowList: [],
        remainingBudget: { tokens: Number.MAX_SAFE_INTEGER, usd: Number.MAX_SAFE_INTEGER },
        isCircuitOpen: () => false,
        dataPolicy: { privateRepo: false, localModelsOnly: false },
        excluded: [],
        taskValueUsd: decision.taskValueUsd,
      };
      return route(input);
    });

    // The ledger gave gemini a posterior for docs: the stored decisions drew from it, and replay draws the same.
    expect(
      decisions.every((d) => d.candidates.find((c) => c.employeeId === "gemini-2.5-flash")?.posterior.alpha === posteriors.get("gemini-2.5-flash")?.alpha),
    ).toBe(true);
    expect(replayed.map((d) => [d.seed, d.winner, d.candidates.map((c) => c.draw)])).toEqual(
      decisions.map((d) => [d.seed, d.winner, d.candidates.map((c) => c.draw)]),
    );
    expect(new Set(decisions.map((d) => d.seed)).size).toBe(40);
  });
});
