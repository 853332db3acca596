// A rejected agent PR reopened on GitHub: the task goes back to `pr_open`, the requirement that failed with it
// is in progress again, the Governor is asked to evaluate the PR again, and the rejection stops counting, so a
// later director merge scores once, as merged. Redeliveries and a close delivered after the reopen change nothing.
import { describe, expect, it } from "vitest";
import { loadOutcomes } from "../../src/accountant/ledger.js";
import { loadPosteriors } from "../../src/accountant/posteriors.js";
import { employeeStats } from "../../src/accountant/stats.js";
import { buildScoreboardInput } from "../../src/director/scoreboard-comment.js";
import { handlePullClosed } from "../../src/director/pull-closed.js";
import { handlePullReopened } from "../../src/director/pull-reopened.js";
import { testServices as servicesWithGitHub } from "../helpers/services.js";
import { examplePayload } from "../helpers/webhooks.js";
import {
  auditActions,
  closedPayload,
  DIRECTOR,
  INSTALLATION,
  OWNER,
  REPO,
  REPO_NAME,
  seedAgentTask,
  testServices,
  type SeededTask,
  useDirectorHarness,
} from "./fixtures.js";

const e2e = useDirectorHarness({
  // The Governor's jobs stay queued: this file checks that they are asked for, not what they decide.
  harness: { onlyTasks: ["pull.closed", "pull.reopened"] },
  permissions: { [DIRECTOR]: "admin" },
  statusComments: true,
});

type Loose = Record<string, unknown>;
const loose = (value: unknown): Loose => (value !== null && typeof value === "object" ? (value as Loose) : {});

function reopenedPayload(task: SeededTask, reopenedAt: string): Loose {
  const payload = examplePayload("pull_request", "reopened");
  const pull = loose(payload.pull_request);
  return {
    ...payload,
    installation: { id: INSTALLATION },
    repository: { ...loose(payload.repository), full_name: REPO, name: REPO_NAME, owner: { ...loose(loose(payload.repository).owner), login: OWNER } },
    sender: { ...loose(payload.sender), login: DIRECTOR, type: "User" },
    pull_request: {
      ...pull,
      number: task.prNumber,
      state: "open",
      merged: false,
      closed_at: null,
      updated_at: reopenedAt,
      head: { ...loose(pull.head), ref: task.branch, sha: "b".repeat(40) },
    },
  };
}

async function state(table: "tasks" | "requirements", id: number): Promise<string> {
  return (await e2e.harness.db.pool.query<{ state: string }>(`SELECT state FROM ${table} WHERE id = $1`, [id])).rows[0]?.state ?? "";
}

async function deliver(event: string, payload: Loose, options: { id?: string } = {}): Promise<string> {
  const { id } = await e2e.harness.deliver(event, payload, options);
  await e2e.harness.waitForIdle();
  return id;
}

describe("a rejected agent pull request that is reopened", () => {
  it("goes back to pr_open, is evaluated again, and after a director's merge counts once, as merged", async () => {
    const task = await seedAgentTask(e2e.harness, { employeeId: "qwen2.5-coder-7b", taskClass: "test", costUsd: 0.2 });
    await deliver("pull_request", closedPayload(task, { merged: false, by: DIRECTOR, closedAt: "2025-03-01T12:00:00Z" }));
    const rejected = { task: await state("tasks", task.taskId), requirement: await state("requirements", task.requirementId) };
    const refreshesBefore = e2e.status.bodies.length;

    const reopen = reopenedPayload(task, "2025-03-01T13:00:00Z");
    const deliveryId = await deliver("pull_request", reopen);
    const reopened = { task: await state("tasks", task.taskId), requirement: await state("requirements", task.requirementId) };
    const evaluate = await e2e.harness.db.pool.query<{ payload: Loose; revision: number }>(
      `SELECT q.payload, j.revision FROM graphile_worker.jobs j JOIN queued_jobs q ON q.job_id = j.id
        WHERE j.task_identifier = 'pull.evaluate' AND j.key = $1`,
      [`pull:${REPO}#${task.prNumber}`],
    );
    const whileOpen = await loadOutcomes(e2e.harness.db.pool, INSTALLATION, { employeeId: "qwen2.5-coder-7b" });
    // GitHub's redelivery (same delivery id), and the same event delivered again under a new id.
    await deliver("pull_request", reopen, { id: deliveryId });
    await deliver("pull_request", reopen);
    await deliver("pull_request", closedPayload(task, { merged: true, by: DIRECTOR, closedAt: "2025-03-01T14:00:00Z" }));

    expect(rejected).toEqual({ task: "rejected", requirement: "failed" });
    expect(reopened).toEqual({ task: "pr_open", requirement: "in_progress" });
    expect(e2e.status.bodies.length).toBeGreaterThan(refreshesBefore);
    expect(e2e.status.bodies.at(-1)).toContain(`PR #${task.prNumber} (\`${task.taskKey}\`) was reopened by @${DIRECTOR}`);
    // Asked for twice: by the inbox for the delivery, and again by the reopen once the task was open (one job).
    expect(evaluate.rows).toEqual([{ payload: expect.objectContaining({ installationId: INSTALLATION, repo: REPO, pullNumber: task.prNumber }), revision: 1 }]);
    expect(whileOpen).toEqual([]);
    const ledger = await e2e.harness.db.pool.query("SELECT result FROM outcome_ledger WHERE task_id = $1 ORDER BY id", [task.taskId]);
    expect(ledger.rows).toEqual([{ result: "rejected" }, { result: "merged" }]);
    expect(await state("tasks", task.taskId)).toBe("merged");
    expect((await loadPosteriors(e2e.harness.db.pool, INSTALLATION, "test")).get("qwen2.5-coder-7b")).toEqual({ alpha: 2, beta: 1, outcomes: 1 });
    const board = await buildScoreboardInput(e2e.harness.db.pool, testServices(e2e.harness), INSTALLATION);
    const stats = employeeStats("qwen2.5-coder-7b", board.employees.find((e) => e.employee === "qwen2.5-coder-7b")?.outcomes ?? []);
    expect(stats).toMatchObject({ tasks: 1, merged: 1, rejected: 0, totalCostUsd: 0.2 });
    const reopens = await e2e.harness.db.pool.query("SELECT reopened_by FROM pull_reopens WHERE pr_number = $1", [task.prNumber]);
    expect(reopens.rows).toEqual([{ reopened_by: DIRECTOR }]);
    const moves = (await auditActions(e2e.harness.db.pool, "task.transitioned")).filter((event) => event.payload.taskId === task.taskId);
    expect(moves.map((event) => `${String(event.payload.from)}→${String(event.payload.to)}`)).toEqual(
      expect.arrayContaining(["pr_open→rejected", "rejected→pr_open", "pr_open→merged"]),
    );
    expect(moves.filter((event) => event.payload.to === "pr_open" && event.payload.from === "rejected")).toHaveLength(1);
  });

  it("stays open when a close of before the reopen is delivered after it", async () => {
    const task = await seedAgentTask(e2e.harness, { employeeId: "gemini-2.5-flash", taskClass: "docs" });

    await deliver("pull_request", reopenedPayload(task, "2025-03-01T13:00:00Z"));
    await deliver("pull_request", closedPayload(task, { merged: false, by: DIRECTOR, closedAt: "2025-03-01T12:00:00Z" }));

    expect(await state("tasks", task.taskId)).toBe("pr_open");
    expect(await loadOutcomes(e2e.harness.db.pool, INSTALLATION, { employeeId: "gemini-2.5-flash" })).toEqual([]);
    const ledger = await e2e.harness.db.pool.query("SELECT result FROM outcome_ledger WHERE task_id = $1", [task.taskId]);
    expect(ledger.rows).toEqual([{ result: "rejected" }]);
  });
});

/** Records a delivery in the inbox without enqueueing its job: the test runs the handler itself. */
async function inbox(event: string, payload: Loose): Promise<string> {
  const deliveryId = `race-${Math.random().toString(36).slice(2)}`;
  await e2e.harness.db.pool.query(
    "INSERT INTO webhook_deliveries (delivery_id, event, action, installation_id, repository, payload) VALUES ($1, $2, $3, $4, $5, $6)",
    [deliveryId, event, payload.action, INSTALLATION, REPO, payload],
  );
  return deliveryId;
}

/** Resolves once `count` sessions wait for a lock (here: the task row): a synchronisation point, not a timing. */
async function lockWaiters(count: number): Promise<void> {
  for (let polls = 0; polls < 400; polls += 1) {
    const { rows } = await e2e.harness.db.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
    );
    if ((rows[0]?.n ?? 0) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`fewer than ${count} sessions waited for the task row`);
}

describe("a close and a reopen of the same pull request handled at the same time", () => {
  it("leaves the task open when the reopen holds the task first and the close waits for it", async () => {
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", taskClass: "refactor" });
    const services = servicesWithGitHub(e2e.harness.db);
    const closeId = await inbox("pull_request", closedPayload(task, { merged: false, by: DIRECTOR, closedAt: "2025-03-01T12:00:00Z" }));
    const reopenId = await inbox("pull_request", reopenedPayload(task, "2025-03-01T13:00:00Z"));
    // A third session holds the task row so that the reopen queues for it first and the close second.
    const holder = await e2e.harness.db.pool.connect();
    await holder.query("BEGIN");
    await holder.query("SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", [task.taskId]);

    const reopening = handlePullReopened(services, reopenId);
    const closing = lockWaiters(1).then(() => handlePullClosed(services, closeId));
    await lockWaiters(2).finally(async () => {
      await holder.query("COMMIT");
      holder.release();
    });
    const [reopened, closed] = await Promise.allSettled([reopening, closing]);

    expect(reopened.status).toBe("fulfilled");
    expect(closed.status).toBe("fulfilled");
    expect(await state("tasks", task.taskId)).toBe("pr_open");
    expect(await loadOutcomes(e2e.harness.db.pool, INSTALLATION, { employeeId: "gpt-4.1-mini" })).toEqual([]);
    const superseded = (await auditActions(e2e.harness.db.pool, "pull.closed")).filter((event) => event.payload.taskId === task.taskId);
    expect(superseded.map((event) => event.payload.supersededByReopen)).toEqual([true]);
  });
});
