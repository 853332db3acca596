// The Manager's functions over a real database without a running worker, so the jobs they enqueue stay visible:
// dependent tasks waiting for their prerequisite's merge, deterministic routing over many seeds, and the
// leader's repairs (stuck tasks, lost intake jobs, missed deliveries).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routeTask } from "../../src/manager/assign.js";
import { releaseDependents } from "../../src/manager/lifecycle.js";
import { reconcileLostIntake, reconcileMissedDeliveries, reconcileStuckTasks } from "../../src/manager/reconciler.js";
import { dispatchManager } from "../../src/manager/role.js";
import { routingSeed } from "../../src/manager/seeded-random.js";
import { inTransaction, transitionTask } from "../../src/manager/transitions.js";
import type { Services } from "../../src/services.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { mockInstallationTokens } from "../helpers/harness.js";
import { INSTALLATION_ID, issuesPayload, mockRepository, servicesFor, testConfig } from "./support.js";

let db: TestDatabase;
let services: Services;

beforeAll(async () => {
  db = await createTestDatabase();
  services = servicesFor({ config: testConfig(db.url, { OPENAI_API_KEY: "sk-test", GEMINI_API_KEY: "gm-test" }), db });
  await db.pool.query("INSERT INTO installations (id, account) VALUES ($1, 'acme')", [INSTALLATION_ID]);
});

afterAll(async () => {
  await db.drop();
});

type SeedTask = { key: string; dependsOn?: string[] };

/** Arranges a planned requirement directly in the tables (the intake tests cover how it gets there). */
async function seedRequirement(repo: string, issue: number, tasks: SeedTask[], state = "in_progress"): Promise<{ id: number; taskIds: number[] }> {
  const { rows } = await db.pool.query<{ id: number }>(
    `INSERT INTO requirements (installation_id, repo, issue_number, title, state, plan_revision, requirement_label, default_branch)
     VALUES ($1, $2, $3, 'A requirement', $4, 1, 'aura:requirement', 'main') RETURNING id`,
    [INSTALLATION_ID, repo, issue, state],
  );
  const id = rows[0]?.id ?? 0;
  const taskIds: number[] = [];
  for (const task of tasks) {
    const inserted = await db.pool.query<{ id: number }>(
      `INSERT INTO tasks (requirement_id, plan_revision, task_key, title, instructions, task_class, scope, depends_on, estimate_tokens, estimate_usd)
       VALUES ($1, 1, $2, $2, 'do it', 'feature', ARRAY['src/**'], $3, 10000, 0.1) RETURNING id`,
      [id, task.key, task.dependsOn ?? []],
    );
    taskIds.push(inserted.rows[0]?.id ?? 0);
  }
  return { id, taskIds };
}

async function jobKeys(identifier: string): Promise<string[]> {
  const { rows } = await db.pool.query<{ key: string }>(
    `SELECT j.key FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id WHERE t.identifier = $1 ORDER BY j.key`,
    [identifier],
  );
  return rows.map((row) => row.key);
}

async function taskState(id: number) {
  const { rows } = await db.pool.query<{ state: string; stuck_retries: number; attempt: number }>("SELECT state, stuck_retries, attempt FROM tasks WHERE id = $1", [id]);
  return rows[0];
}

async function moveTask(id: number, ...states: ("working" | "pr_open" | "merged")[]): Promise<void> {
  await inTransaction(db.pool, async (client) => {
    for (const state of states) await transitionTask(client, id, state, { actor: "test", reason: "arranged by the test" });
  });
}

describe("dependent tasks", () => {
  it("wait until their prerequisite has merged, then are routed", async () => {
    const { id, taskIds } = await seedRequirement("acme/deps", 1, [{ key: "api" }, { key: "ui", dependsOn: ["api"] }]);
    const [api = 0, ui = 0] = taskIds;

    const first = await inTransaction(db.pool, (client) => releaseDependents(services, client, id));
    await moveTask(api, "working", "pr_open");
    const whileOpen = await inTransaction(db.pool, (client) => releaseDependents(services, client, id));
    await moveTask(api, "merged");
    const afterMerge = await inTransaction(db.pool, (client) => releaseDependents(services, client, id));

    expect(first.map((task) => task.taskKey)).toEqual(["api"]);
    expect(whileOpen).toEqual([]);
    expect(afterMerge.map((task) => task.taskKey)).toEqual(["ui"]);
    expect(await jobKeys("task.work")).toEqual(expect.arrayContaining([`task:${api}`, `task:${ui}`]));
  });
});

describe("routing through routeTask", () => {
  it("gives the same employee and seed for the same inputs, over many seeds", async () => {
    const seeded = [];
    for (let issue = 100; issue < 160; issue++) seeded.push(await seedRequirement("acme/routing", issue, [{ key: "t1" }]));
    const routeAndRollBack = async (taskId: number) => {
      const client = await db.pool.connect();
      try {
        await client.query("BEGIN");
        const result = await routeTask(services, client, taskId);
        return { winner: result.employeeId, seed: result.decision.seed };
      } finally {
        await client.query("ROLLBACK");
        client.release();
      }
    };

    const first = [];
    const second = [];
    for (const { taskIds } of seeded) first.push(await routeAndRollBack(taskIds[0] ?? 0));
    for (const { taskIds } of seeded) second.push(await routeAndRollBack(taskIds[0] ?? 0));

    expect(second).toEqual(first);
    expect(first[0]?.seed).toBe(
      routingSeed({ installationId: INSTALLATION_ID, repo: "acme/routing", issueNumber: 100, taskId: "t1", attempt: 1, policyRevision: services.policies.revision }),
    );
    expect(new Set(first.map((decision) => decision.seed)).size).toBe(60);
    expect(new Set(first.map((decision) => decision.winner))).toEqual(new Set(["gpt-4.1-mini", "gemini-2.5-flash"]));
  });
});

describe("the reconciler", () => {
  it("retries a stuck task once with a new routing decision, then hands it to a director", async () => {
    mockInstallationTokens();
    const github = mockRepository("acme/stuck");
    const { id, taskIds } = await seedRequirement("acme/stuck", 1, [{ key: "slow" }]);
    const [slow = 0] = taskIds;
    await inTransaction(db.pool, (client) => releaseDependents(services, client, id));
    await moveTask(slow, "working");
    const age = () => db.pool.query("UPDATE tasks SET updated_at = now() - interval '2 hours' WHERE id = $1", [slow]);
    await age();

    const fresh = await reconcileStuckTasks(services, { stuckTaskMs: 3 * 3_600_000, batch: 10 });
    const retried = await reconcileStuckTasks(services, { stuckTaskMs: 30 * 60_000, batch: 10 });
    const afterRetry = await taskState(slow);
    await moveTask(slow, "working");
    await age();
    const handedOver = await reconcileStuckTasks(services, { stuckTaskMs: 30 * 60_000, batch: 10 });

    expect(fresh).toEqual([]);
    expect(retried).toEqual([{ taskId: slow, action: "retried" }]);
    expect(afterRetry).toMatchObject({ state: "assigned", stuck_retries: 1, attempt: 2 });
    expect(handedOver).toEqual([{ taskId: slow, action: "needs_director" }]);
    expect((await taskState(slow))?.state).toBe("needs_director");
    const requirement = await db.pool.query<{ state: string }>("SELECT state FROM requirements WHERE id = $1", [id]);
    expect(requirement.rows[0]?.state).toBe("needs_director");
    expect(github.edited.at(-1)?.body ?? github.created.at(-1)?.body).toContain("made no progress for 30 minutes, even after a retry");
  });

  it("enqueues intake again for a requirement whose job was lost, and only once", async () => {
    const { id } = await seedRequirement("acme/lost", 1, [], "received");
    await seedRequirement("acme/lost", 2, [], "received");
    await db.pool.query("UPDATE requirements SET updated_at = now() - interval '5 minutes' WHERE id = $1", [id]);

    const first = await reconcileLostIntake(services, { lostIntakeMs: 60_000, batch: 10 });
    const second = await reconcileLostIntake(services, { lostIntakeMs: 60_000, batch: 10 });

    expect(first).toEqual([id]);
    expect(second).toEqual([]);
    expect(await jobKeys("requirement.intake")).toContain("requirement:acme/lost#1");
    expect(await jobKeys("requirement.intake")).not.toContain("requirement:acme/lost#2");
  });

  it("dispatches a never-processed delivery again, at most once, and settles one that starts nothing", async () => {
    const insert = (id: string, event: string, action: string | null, payload: unknown) =>
      db.pool.query(
        `INSERT INTO webhook_deliveries (delivery_id, event, action, installation_id, repository, payload, received_at)
         VALUES ($1, $2, $3, $4, 'acme/missed', $5, now() - interval '10 minutes')`,
        [id, event, action, INSTALLATION_ID, JSON.stringify(payload)],
      );
    await insert("missed-1", "issues", "labeled", issuesPayload("labeled", { repo: "acme/missed", issue: 3 }));
    await insert("missed-2", "push", null, { ref: "refs/heads/main" });

    const first = await reconcileMissedDeliveries(services, dispatchManager, { missedDeliveryMs: 60_000, batch: 10 });
    await db.pool.query("DELETE FROM graphile_worker._private_jobs WHERE key = 'requirement:acme/missed#3'");
    const second = await reconcileMissedDeliveries(services, dispatchManager, { missedDeliveryMs: 60_000, batch: 10 });

    expect(first).toEqual({ redispatched: ["missed-1"], settled: ["missed-2"] });
    expect(second).toEqual({ redispatched: [], settled: [] });
  });
});

describe("dispatch", () => {
  it("enqueues intake for every label change, close and reopen of an issue, keyed by the issue", () => {
    const delivery = (action: string) => ({
      deliveryId: "d",
      event: "issues",
      action,
      installationId: INSTALLATION_ID,
      repository: "acme/x",
      payload: issuesPayload("labeled", { repo: "acme/x", issue: 12 }),
    });

    const jobs = ["labeled", "unlabeled", "closed", "reopened", "edited"].map((action) => dispatchManager(delivery(action)));

    expect(jobs.map((list) => list.length)).toEqual([1, 1, 1, 1, 0]);
    expect(jobs[0]?.[0]).toEqual({ task: "requirement.intake", key: "requirement:acme/x#12", payload: { installationId: INSTALLATION_ID, repo: "acme/x", issueNumber: 12 } });
  });
});
