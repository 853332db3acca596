// The Manager's functions over a real database without a running worker, so the jobs they enqueue stay visible:
// dependent tasks waiting for their prerequisite's merge, deterministic routing over many seeds, and the
// leader's repairs (stuck tasks, lost intake jobs, missed deliveries).
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadMigrations, migrate, migrationsDir } from "../../src/db/migrate.js";
import { confirmBackfilledPulls } from "../../src/governor/confirm-pulls.js";
import { routeTask } from "../../src/manager/assign.js";
import { releaseDependents } from "../../src/manager/lifecycle.js";
import { reconcileLostIntake, reconcileMissedDeliveries, reconcileStuckTasks } from "../../src/manager/reconciler.js";
import { dispatchManager } from "../../src/manager/role.js";
import { routingSeed } from "../../src/manager/seeded-random.js";
import { inTransaction, transitionTask } from "../../src/core/transitions.js";
import type { Services } from "../../src/services.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { GITHUB_API, mockInstallationTokens } from "../helpers/harness.js";
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
  const { rows } = await db.pool.query<{ key: string }>("SELECT key FROM graphile_worker.jobs WHERE task_identifier = $1 ORDER BY key", [identifier]);
  return rows.map((row) => row.key);
}

async function taskState(id: number) {
  const { rows } = await db.pool.query<{ state: string; stuck_retries: number; attempt: number }>(
    "SELECT state, stuck_retries, attempt FROM tasks WHERE id = $1",
    [id],
  );
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
      routingSeed({
        installationId: INSTALLATION_ID,
        repo: "acme/routing",
        issueNumber: 100,
        taskId: "t1",
        attempt: 1,
        policyRevision: services.policies.revision,
      }),
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
    await db.pool.query("SELECT graphile_worker.remove_job('requirement:acme/missed#3')");
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
    expect(jobs[0]?.[0]).toEqual({
      task: "requirement.intake",
      key: "requirement:acme/x#12",
      payload: { installationId: INSTALLATION_ID, repo: "acme/x", issueNumber: 12 },
    });
  });
});

/** Applies the migrations up to and including `last` (by file name) to `url`. */
async function migrateUpTo(url: string, last: string): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "aura-migrations-"));
  try {
    for (const migration of loadMigrations().filter((candidate) => candidate.name <= last)) {
      copyFileSync(path.join(migrationsDir, migration.name), path.join(dir, migration.name));
    }
    await migrate(url, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the gate's pull requests backfilled by migration 020", () => {
  const REPO = "acme/gate";
  const sha = (n: number) => n.toString(16).padStart(2, "0").repeat(20);
  let old: TestDatabase;

  afterAll(async () => {
    await old?.drop();
  });

  /** As GitHub's API returns a pull request: open at `head`, or closed (merged or not). */
  function githubPull(number: number, head: string, state: "open" | "closed", merged = false) {
    const repo = { full_name: REPO, name: "gate", owner: { login: "acme" } };
    return {
      number,
      node_id: `PR_${number}`,
      state,
      merged,
      html_url: `https://github.com/${REPO}/pull/${number}`,
      title: `Pull ${number}`,
      body: null,
      user: { login: "aura-orchestra[bot]" },
      head: { sha: head, ref: `aura/${number}`, repo },
      base: { sha: sha(99), ref: "main", repo },
      labels: [],
      changed_files: 1,
      commits: 1,
      additions: 1,
      deletions: 0,
    };
  }

  it("are closed by migration 021 where the task says the PR ended, and confirmed with GitHub once each by the reconciler", async () => {
    old = await createTestDatabase({ migrate: false });
    await migrateUpTo(old.url, "019");
    await old.pool.query("INSERT INTO installations (id, account) VALUES ($1, 'acme')", [INSTALLATION_ID]);
    const requirement = await old.pool.query<{ id: number }>(
      "INSERT INTO requirements (installation_id, repo, issue_number, title, state) VALUES ($1, $2, 1, 'Requirement', 'in_progress') RETURNING id",
      [INSTALLATION_ID, REPO],
    );
    // Agent PRs (a task recorded each) and one person's PR (16), each with a success verdict at its head.
    const tasks: [number, string][] = [
      [11, "merged"],
      [12, "rejected"],
      [13, "pr_open"],
      [14, "pr_open"],
      [15, "pr_open"],
      [17, "pr_open"],
    ];
    for (const [pr, state] of tasks) {
      await old.pool.query(
        `INSERT INTO tasks (requirement_id, task_key, title, instructions, task_class, scope, state, branch, pr_number)
         VALUES ($1, $2, 'Task', 'Do it', 'feature', ARRAY['src/**'], $3, $4, $5)`,
        [requirement.rows[0]?.id, `t${pr}`, state, `aura/${pr}`, pr],
      );
    }
    for (const pr of [11, 12, 13, 14, 15, 16, 17]) {
      await old.pool.query(
        `INSERT INTO governor_verdicts (installation_id, repo, pull_number, head_sha, pack_revision, conclusion, description, governed, rules)
         VALUES ($1, $2, $3, $4, 'rev', 'success', 'HNSC passed', $5, '[]')`,
        [INSTALLATION_ID, REPO, pr, sha(pr), pr !== 16],
      );
    }
    await migrateUpTo(old.url, "020");

    await migrate(old.url);
    const afterMigration = await old.pool.query<{ pull_number: number; open: boolean; merged: boolean; unconfirmed: boolean }>(
      "SELECT pull_number, open, merged, unconfirmed FROM governor_pulls ORDER BY pull_number",
    );
    const oldServices = servicesFor({ config: services.config, db: old });
    nock.cleanAll();
    mockInstallationTokens();
    const statuses: { sha: string; state: string; description: string }[] = [];
    const api = nock(GITHUB_API);
    api.get(`/repos/${REPO}/pulls/13`).reply(200, githubPull(13, sha(13), "closed"));
    api.get(`/repos/${REPO}/pulls/14`).reply(200, githubPull(14, sha(14), "open"));
    api.get(`/repos/${REPO}/pulls/15`).reply(200, githubPull(15, sha(50), "open"));
    api.get(`/repos/${REPO}/pulls/16`).reply(404, { message: "Not Found" });
    api.get(`/repos/${REPO}/pulls/17`).reply(200, githubPull(17, sha(17), "closed", true));
    nock(GITHUB_API)
      .persist()
      .post(/^\/repos\/acme\/gate\/statuses\/[0-9a-f]{40}$/)
      .optionally()
      .reply(201, (uri, body) => {
        statuses.push({ sha: uri.split("/").pop() ?? "", ...(body as { state: string; description: string }) });
        return {};
      });

    const first = await confirmBackfilledPulls(oldServices, { batch: 50 });
    const second = await confirmBackfilledPulls(oldServices, { batch: 50 });
    const rows = await old.pool.query<{ pull_number: number; head_sha: string; open: boolean; merged: boolean; unconfirmed: boolean }>(
      "SELECT pull_number, head_sha, open, merged, unconfirmed FROM governor_pulls ORDER BY pull_number",
    );
    const confirmedEvents = await old.pool.query<{ subject: string }>("SELECT subject FROM audit.events WHERE action = 'governor.pull.confirmed' ORDER BY seq");

    expect(afterMigration.rows).toEqual([
      { pull_number: 11, open: false, merged: true, unconfirmed: false },
      { pull_number: 12, open: false, merged: false, unconfirmed: false },
      ...[13, 14, 15, 16, 17].map((pull_number) => ({ pull_number, open: true, merged: false, unconfirmed: true })),
    ]);
    expect(first.map((row) => [row.pullNumber, row.found])).toEqual([
      [13, "closed"],
      [14, "open"],
      [15, "moved"],
      [16, "gone"],
      [17, "merged"],
    ]);
    expect(second).toEqual([]);
    expect(nock.pendingMocks().filter((mock) => mock.startsWith("GET"))).toEqual([]);
    expect(rows.rows).toEqual([
      { pull_number: 11, head_sha: sha(11), open: false, merged: true, unconfirmed: false },
      { pull_number: 12, head_sha: sha(12), open: false, merged: false, unconfirmed: false },
      { pull_number: 13, head_sha: sha(13), open: false, merged: false, unconfirmed: false },
      { pull_number: 14, head_sha: sha(14), open: true, merged: false, unconfirmed: false },
      { pull_number: 15, head_sha: sha(50), open: true, merged: false, unconfirmed: false },
      { pull_number: 16, head_sha: sha(16), open: false, merged: false, unconfirmed: false },
      { pull_number: 17, head_sha: sha(17), open: false, merged: true, unconfirmed: false },
    ]);
    // The closed and the moved agent PRs' commits fail at once; the merged one keeps its success; the person's
    // PR, gone, leaves a commit no agent wrote with nothing to say.
    expect(statuses).toEqual([
      expect.objectContaining({ sha: sha(13), state: "failure", description: expect.stringContaining("#13") }),
      expect.objectContaining({ sha: sha(15), state: "failure", description: expect.stringContaining("#15") }),
      expect.objectContaining({ sha: sha(17), state: "success", description: "HNSC passed" }),
    ]);
    expect(confirmedEvents.rows.map((row) => row.subject)).toEqual([13, 15, 16, 17].map((pull) => `${REPO}#${pull}`));
  });
});
