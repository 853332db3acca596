// Issue 7 item 12: when the base of open agent PRs moves, a `push` delivery starts a sync per task that merges
// the base into the agent branch (a merge commit by the bot, pushed through the one push function) or, on a
// conflict, leaves the branch alone and hands the task to a director naming the files; a person's push of a
// conflict fix to the agent branch syncs it again. Through the running app (delivery → dispatch → `base.moved`
// or `branch.pushed` → `task.sync-base`), with a real local bare repository as the remote.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { JobHelpers } from "graphile-worker";
import nock from "nock";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pullCloseKey, recordOutcome } from "../../src/accountant/ledger.js";
import { requestRevision } from "../../src/employees/revise.js";
import { dispatchEmployees, runBranchPushed, runSyncBase, SYNC_BASE_TASK } from "../../src/employees/sync-base.js";
import { tryTaskTreeLock } from "../../src/employees/tree-lock.js";
import { runTaskWork } from "../../src/employees/work-loop.js";
import { inTransaction } from "../../src/core/transitions.js";
import { allTasks } from "../../src/roles.js";
import type { Services } from "../../src/services.js";
import { useHarness } from "../helpers/harness.js";
import { testServices } from "../helpers/services.js";
import { examplePayload } from "../helpers/webhooks.js";
import { sh, useTempDir } from "../workspace/git-fixture.js";
import { createTaskFixture, edits, fakeGitHub, FIX_ADD, scriptedEmployees, unthrottledGitHub, write, type TaskFixture } from "./work-fixtures.js";

const SYNC_JOBS = ["base.moved", "branch.pushed", "task.sync-base"];

/** The job waiting under `key`, and whether it is due later (graphile-worker's public view). */
async function queuedLater(key: string) {
  const { rows } = await started.harness.db.pool.query("SELECT task_identifier, run_at > now() AS later FROM graphile_worker.jobs WHERE key = $1", [key]);
  return rows;
}
const SNAPSHOT = "0123456789abcdef";

const temp = useTempDir("aura-sync-base-");
const started = useHarness({ onlyTasks: SYNC_JOBS });
let services: Services;
let counter = 0;

beforeAll(() => {
  services = testServices(started.harness.db);
});

beforeEach(() => {
  nock.cleanAll();
});

type OpenPull = TaskFixture & { branch: string; agentSha: string; personSha: string; installationId: number };

/**
 * A task whose draft PR is open: its `aura/` branch on the remote holds the agent's fix and then a commit a
 * person added to help; the work loop's snapshot is recorded.
 */
async function openAgentPull(): Promise<OpenPull> {
  const parent = path.join(temp.dir, `case-${counter}`);
  mkdirSync(parent, { mode: 0o711 });
  const installationId = 8100 + counter++;
  const fixture = await createTaskFixture(started.harness.db, services, { parent, installationId });
  const branch = `aura/${fixture.issueNumber}-fix-add`;
  const clone = fixture.remote.personClone("agent");
  sh(clone, "checkout", "--quiet", "-b", branch);
  writeFileSync(path.join(clone, "src", "math.js"), "exports.add = (a, b) => a + b;\n\nexports.double = (a) => a * 2;\n");
  sh(clone, "commit", "--quiet", "-am", "Fix add()");
  const agentSha = sh(clone, "rev-parse", "HEAD").trim();
  writeFileSync(path.join(clone, "src", "notes.js"), "// a person's note\n");
  sh(clone, "add", "--all");
  sh(clone, "commit", "--quiet", "-m", "A person's commit");
  const personSha = sh(clone, "rev-parse", "HEAD").trim();
  sh(clone, "push", "--quiet", "origin", branch);
  await started.harness.db.pool.query("INSERT INTO execution_snapshots (id, task_id, attempt, employee_id, snapshot) VALUES ($1, $2, 1, $3, '{}')", [
    `${SNAPSHOT.slice(0, 12)}${String(fixture.taskId).padStart(4, "0")}`,
    fixture.taskId,
    fixture.employeeId,
  ]);
  await started.harness.db.pool.query("UPDATE tasks SET state = 'pr_open', branch = $2, pr_number = 100 WHERE id = $1", [fixture.taskId, branch]);
  return { ...fixture, branch, agentSha, personSha, installationId };
}

/** A person moves `main` by committing `files` to it; returns the new tip. */
function moveMain(pull: OpenPull, name: string, files: Record<string, string>): string {
  const clone = pull.remote.personClone(name);
  for (const [file, content] of Object.entries(files)) writeFileSync(path.join(clone, file), content);
  sh(clone, "add", "--all");
  sh(clone, "commit", "--quiet", "-m", `Main moves (${name})`);
  sh(clone, "push", "--quiet", "origin", "main");
  return sh(clone, "rev-parse", "HEAD").trim();
}

function pushPayload(pull: OpenPull, after: string, ref = "refs/heads/main"): Record<string, unknown> {
  const payload = examplePayload("push");
  const [owner, name] = pull.repo.split("/");
  return {
    ...payload,
    ref,
    after,
    created: false,
    deleted: false,
    forced: false,
    repository: {
      ...(payload.repository as object),
      name,
      full_name: pull.repo,
      owner: { login: owner },
      default_branch: "main",
      master_branch: "main",
      clone_url: pull.remote.url,
    },
    installation: { id: pull.installationId },
  };
}

/** `login` pushes to the task's own branch (as GitHub reports it in `sender` and `pusher`). */
async function deliverBranchPush(pull: OpenPull, login: string): Promise<void> {
  const after = pull.remote.refs()[`refs/heads/${pull.branch}`] as string;
  const payload = {
    ...pushPayload(pull, after, `refs/heads/${pull.branch}`),
    sender: { login, type: "User" },
    pusher: { name: login, email: `${login}@example.com` },
  };
  const delivered = await started.harness.deliver("push", payload);
  expect(delivered.status).toBe(200);
  await started.harness.waitForIdle();
}

/** A person merges `main` into the task's branch in their own clone, resolving any conflict with `resolved`, and pushes. */
function mergeMainByHand(pull: OpenPull, name: string, resolved: Record<string, string>): string {
  const clone = pull.remote.personClone(name);
  sh(clone, "checkout", "--quiet", pull.branch);
  try {
    sh(clone, "merge", "--quiet", "--no-edit", "origin/main");
  } catch {
    // The conflict this person came to fix: their resolution is what gets committed.
  }
  for (const [file, content] of Object.entries(resolved)) writeFileSync(path.join(clone, file), content);
  sh(clone, "add", "--all");
  sh(clone, "commit", "--quiet", "--no-edit");
  sh(clone, "push", "--quiet", "origin", pull.branch);
  return sh(clone, "rev-parse", "HEAD").trim();
}

async function deliverPush(pull: OpenPull, after: string, id?: string): Promise<string> {
  const delivered = await started.harness.deliver("push", pushPayload(pull, after), id ? { id } : {});
  expect(delivered.status).toBe(200);
  await started.harness.waitForIdle();
  return delivered.id;
}

async function taskState(taskId: number): Promise<string> {
  return (await started.harness.db.pool.query<{ state: string }>("SELECT state FROM tasks WHERE id = $1", [taskId])).rows[0]?.state ?? "";
}

function parents(pull: OpenPull, sha: string): string[] {
  return sh(pull.remote.bare, "log", "-1", "--format=%P", sha).trim().split(" ");
}

describe("which pushes start a base sync", () => {
  const delivery = (payload: Record<string, unknown>) => ({
    deliveryId: "d-1",
    event: "push",
    action: undefined,
    installationId: 5,
    repository: "octo-org/widgets",
    payload,
  });

  it("a push to the default branch starts base.moved for the repository, one to an aura/ branch branch.pushed; other and deleting pushes nothing", () => {
    const repository = { full_name: "octo-org/widgets", default_branch: "main" };
    const who = { sender: { login: "mona" }, pusher: { name: "mona" } };

    const main = dispatchEmployees(delivery({ ref: "refs/heads/main", repository }));
    const aura = dispatchEmployees(delivery({ ref: "refs/heads/aura/7-fix", repository, ...who }));
    const feature = dispatchEmployees(delivery({ ref: "refs/heads/feature", repository, ...who }));
    const deleted = dispatchEmployees(delivery({ ref: "refs/heads/main", deleted: true, repository }));
    const deletedAura = dispatchEmployees(delivery({ ref: "refs/heads/aura/7-fix", deleted: true, repository, ...who }));

    expect(main).toEqual([{ task: "base.moved", payload: { installationId: 5, repo: "octo-org/widgets", branch: "main" } }]);
    expect(aura).toEqual([
      { task: "branch.pushed", payload: { installationId: 5, repo: "octo-org/widgets", branch: "aura/7-fix", sender: "mona", pusher: "mona" } },
    ]);
    expect(feature).toEqual([]);
    expect(deleted).toEqual([]);
    expect(deletedAura).toEqual([]);
  });
});

describe("a moved base", () => {
  it("merges into the agent branch with a bot merge commit, keeping every commit and moving no other ref", async () => {
    const pull = await openAgentPull();
    const mainTip = moveMain(pull, "mona", { "NEW.md": "new on main\n" });
    const refsBefore = pull.remote.refs();

    await deliverPush(pull, mainTip);

    const refs = pull.remote.refs();
    const tip = refs[`refs/heads/${pull.branch}`] as string;
    expect(parents(pull, tip)).toEqual([pull.personSha, mainTip]);
    expect(sh(pull.remote.bare, "merge-base", "--is-ancestor", pull.agentSha, tip)).toBe("");
    expect(sh(pull.remote.bare, "show", `${tip}:src/notes.js`)).toBe("// a person's note\n");
    expect(sh(pull.remote.bare, "show", `${tip}:NEW.md`)).toBe("new on main\n");
    const [author, message] = sh(pull.remote.bare, "log", "-1", "--format=%an <%ae>%x00%B", tip).split("\0");
    expect(author).toBe(`${started.harness.config.botIdentity.name} <${started.harness.config.botIdentity.email}>`);
    expect(message).toContain(`Merge main into ${pull.branch}`);
    expect(message).toContain(`Aura-Task: ${pull.taskId} fix-add`);
    expect(message).toContain(`Aura-Employee: ${pull.employeeId}`);
    expect(message).toMatch(/Aura-Snapshot: [0-9a-f]{16}/);
    // Only the agent branch moved.
    expect(Object.keys(refs).sort()).toEqual(Object.keys(refsBefore).sort());
    expect(Object.entries(refs).filter(([ref, sha]) => ref !== `refs/heads/${pull.branch}` && sha !== refsBefore[ref])).toEqual([]);
    // The Governor's assignment rule will find the merge recorded for the task.
    const recorded = await started.harness.db.pool.query("SELECT kind FROM task_commits WHERE task_id = $1 AND sha = $2", [pull.taskId, tip]);
    expect(recorded.rows).toEqual([{ kind: "merge" }]);
    expect(await taskState(pull.taskId)).toBe("pr_open");
  });

  it("a redelivered push, or a second delivery of the same push, makes no second merge commit", async () => {
    const pull = await openAgentPull();
    const mainTip = moveMain(pull, "mona", { "NEW.md": "new on main\n" });
    const id = await deliverPush(pull, mainTip);
    const merged = pull.remote.refs()[`refs/heads/${pull.branch}`];

    await deliverPush(pull, mainTip, id);
    await deliverPush(pull, mainTip);

    expect(pull.remote.refs()[`refs/heads/${pull.branch}`]).toBe(merged);
    expect(sh(pull.remote.bare, "rev-list", "--merges", "--count", `main..${pull.branch}`).trim()).toBe("1");
    const events = await started.harness.db.pool.query(
      "SELECT count(*)::int AS n FROM audit.events WHERE action = 'task.base_merged' AND payload->>'taskId' = $1",
      [String(pull.taskId)],
    );
    expect(events.rows[0].n).toBe(1);
  });

  it("on a conflict leaves the branch as it was, hands the task to a director and names the file in the status comment", async () => {
    const pull = await openAgentPull();
    const github = fakeGitHub();
    const mainTip = moveMain(pull, "mona", { "src/math.js": "exports.add = (a, b) => b + a;\n\nexports.double = (a) => a * 2;\n" });

    await deliverPush(pull, mainTip);
    const commentWrites = github.requests.filter((request) => request.method !== "GET" && request.path.includes("/comments")).length;
    await deliverPush(pull, mainTip);

    expect(pull.remote.refs()[`refs/heads/${pull.branch}`]).toBe(pull.personSha);
    expect(await taskState(pull.taskId)).toBe("needs_director");
    const requirement = await started.harness.db.pool.query("SELECT state FROM requirements WHERE id = $1", [pull.requirementId]);
    expect(requirement.rows[0].state).toBe("needs_director");
    const notices = await started.harness.db.pool.query<{ body: string }>("SELECT body FROM requirement_notices WHERE requirement_id = $1", [
      pull.requirementId,
    ]);
    expect(notices.rows).toHaveLength(1);
    expect(notices.rows[0]?.body).toContain("`src/math.js`");
    const status = [...github.comments.values()];
    expect(status).toHaveLength(1);
    expect(status[0]?.body).toContain("`src/math.js`");
    // The redelivery found nothing new to say: no second notice, no status comment write.
    expect(github.requests.filter((request) => request.method !== "GET" && request.path.includes("/comments")).length).toBe(commentWrites);
  });

  it("returns the task to review when a later push to the base merges cleanly again", async () => {
    const pull = await openAgentPull();
    fakeGitHub();
    const original = sh(pull.remote.bare, "show", "main:src/math.js");
    await deliverPush(pull, moveMain(pull, "mona", { "src/math.js": "exports.add = (a, b) => b + a;\n\nexports.double = (a) => a * 2;\n" }));
    expect(await taskState(pull.taskId)).toBe("needs_director");

    const reverted = moveMain(pull, "rita", { "src/math.js": original });
    await deliverPush(pull, reverted);

    const tip = pull.remote.refs()[`refs/heads/${pull.branch}`] as string;
    expect(parents(pull, tip)).toEqual([pull.personSha, reverted]);
    expect(sh(pull.remote.bare, "show", `${tip}:src/math.js`)).toContain("a + b");
    expect(await taskState(pull.taskId)).toBe("pr_open");
    const requirement = await started.harness.db.pool.query("SELECT state FROM requirements WHERE id = $1", [pull.requirementId]);
    expect(requirement.rows[0].state).toBe("in_progress");
  });

  it("returns the task to review when a person merges the base into its branch and resolves the conflict there", async () => {
    const pull = await openAgentPull();
    fakeGitHub();
    const conflicting = "exports.add = (a, b) => b + a;\n\nexports.double = (a) => a * 2;\n";
    await deliverPush(pull, moveMain(pull, "mona", { "src/math.js": conflicting }));
    expect(await taskState(pull.taskId)).toBe("needs_director");
    const fixed = mergeMainByHand(pull, "rita", { "src/math.js": "exports.add = (a, b) => a + b;\n\nexports.double = (a) => a * 2;\n" });

    await deliverBranchPush(pull, "rita");

    // The person's merge already contains the base: no bot merge on top of it, and the task is back in review.
    expect(pull.remote.refs()[`refs/heads/${pull.branch}`]).toBe(fixed);
    expect(await taskState(pull.taskId)).toBe("pr_open");
    const task = await started.harness.db.pool.query("SELECT base_conflict_sha FROM tasks WHERE id = $1", [pull.taskId]);
    expect(task.rows[0].base_conflict_sha).toBeNull();
    const requirement = await started.harness.db.pool.query("SELECT state FROM requirements WHERE id = $1", [pull.requirementId]);
    expect(requirement.rows[0].state).toBe("in_progress");
    const notices = await started.harness.db.pool.query<{ body: string }>("SELECT body FROM requirement_notices WHERE requirement_id = $1 ORDER BY id", [
      pull.requirementId,
    ]);
    expect(notices.rows.at(-1)?.body).toContain(`PR #100 is back in review`);
  });

  it("a person's push that leaves the conflict in place writes nothing new", async () => {
    const pull = await openAgentPull();
    const github = fakeGitHub();
    await deliverPush(pull, moveMain(pull, "mona", { "src/math.js": "exports.add = (a, b) => b + a;\n\nexports.double = (a) => a * 2;\n" }));
    const commentWrites = github.requests.filter((request) => request.method !== "GET" && request.path.includes("/comments")).length;
    const clone = pull.remote.personClone("rita");
    sh(clone, "checkout", "--quiet", pull.branch);
    writeFileSync(path.join(clone, "src", "notes.js"), "// a second note, no conflict fix\n");
    sh(clone, "commit", "--quiet", "-am", "Unrelated");
    sh(clone, "push", "--quiet", "origin", pull.branch);
    const tip = sh(clone, "rev-parse", "HEAD").trim();

    await deliverBranchPush(pull, "rita");

    expect(pull.remote.refs()[`refs/heads/${pull.branch}`]).toBe(tip);
    expect(await taskState(pull.taskId)).toBe("needs_director");
    const notices = await started.harness.db.pool.query("SELECT count(*)::int AS n FROM requirement_notices WHERE requirement_id = $1", [pull.requirementId]);
    expect(notices.rows[0].n).toBe(1);
    const conflicts = await started.harness.db.pool.query(
      "SELECT count(*)::int AS n FROM audit.events WHERE action = 'task.base_conflict' AND payload->>'taskId' = $1",
      [String(pull.taskId)],
    );
    expect(conflicts.rows[0].n).toBe(1);
    expect(github.requests.filter((request) => request.method !== "GET" && request.path.includes("/comments")).length).toBe(commentWrites);
  });

  it("the app's own push to the branch, or a push to a branch no conflict parked, starts no sync", async () => {
    const pull = await openAgentPull();
    fakeGitHub();
    await deliverPush(pull, moveMain(pull, "mona", { "src/math.js": "exports.add = (a, b) => b + a;\n\nexports.double = (a) => a * 2;\n" }));
    const at = { installationId: pull.installationId, repo: pull.repo, branch: pull.branch };
    const bot = services.config.botLogin;

    const byApp = await runBranchPushed(services, { ...at, sender: bot, pusher: bot });
    const byPerson = await runBranchPushed(services, { ...at, sender: "rita", pusher: "rita" });
    const otherBranch = await runBranchPushed(services, { ...at, branch: "aura/999-other", sender: "rita", pusher: "rita" });
    await started.harness.waitForIdle();

    expect(byApp).toEqual([]);
    expect(byPerson).toEqual([pull.taskId]);
    expect(otherBranch).toEqual([]);
  });

  it("a conflict that stays while the base keeps moving is one notice; a conflict in other files is a new one", async () => {
    const pull = await openAgentPull();
    const github = fakeGitHub();
    await deliverPush(pull, moveMain(pull, "mona", { "src/math.js": "exports.add = (a, b) => b + a;\n\nexports.double = (a) => a * 2;\n" }));
    const commentWrites = () => github.requests.filter((request) => request.method !== "GET" && request.path.includes("/comments")).length;
    const writesAfterFirst = commentWrites();
    const notices = async () =>
      (
        await started.harness.db.pool.query<{ body: string }>(
          "SELECT body FROM requirement_notices WHERE requirement_id = $1 AND kind = 'incident' ORDER BY id",
          [pull.requirementId],
        )
      ).rows;
    const conflictEvents = async () =>
      (await started.harness.db.pool.query("SELECT 1 FROM audit.events WHERE action = 'task.base_conflict' AND payload->>'taskId' = $1", [String(pull.taskId)]))
        .rows.length;

    await deliverPush(pull, moveMain(pull, "rita", { "src/math.js": "exports.add = (a, b) => 0 + b + a;\n\nexports.double = (a) => a * 2;\n" }));
    const sameSet = { notices: (await notices()).length, events: await conflictEvents(), writes: commentWrites() };
    await deliverPush(pull, moveMain(pull, "sam", { "src/notes.js": "// main's own note\n" }));

    expect(sameSet).toEqual({ notices: 1, events: 1, writes: writesAfterFirst });
    const all = await notices();
    expect(all).toHaveLength(2);
    expect(all[1]?.body).toContain("`src/notes.js`");
    expect(await conflictEvents()).toBe(2);
    expect(await taskState(pull.taskId)).toBe("needs_director");
  });

  it("leaves alone the branch of a PR that a non-director merged (a standing close), whatever the task's state", async () => {
    const pull = await openAgentPull();
    await started.harness.db.pool.query("UPDATE tasks SET state = 'needs_director' WHERE id = $1", [pull.taskId]);
    await recordOutcome(started.harness.db.pool, {
      installationId: pull.installationId,
      employeeId: pull.employeeId,
      taskClass: "bugfix",
      taskId: pull.taskId,
      requirementId: pull.requirementId,
      result: "merged",
      incident: true,
      revisionRounds: 0,
      costUsd: 0,
      latencyMs: null,
      assignedAt: new Date("2025-03-01T08:00:00Z"),
      prOpenedAt: new Date("2025-03-01T09:00:00Z"),
      closedAt: new Date("2025-03-01T10:00:00Z"),
      repo: pull.repo,
      prNumber: 100,
      closedBy: "olly-outsider",
      eventKey: pullCloseKey(pull.installationId, pull.repo, 100, "2025-03-01T10:00:00Z"),
    });
    const mainTip = moveMain(pull, "mona", { "NEW.md": "new on main\n" });

    await deliverPush(pull, mainTip);
    const queuedBefore = await runSyncBase(services, { taskId: pull.taskId });

    expect(pull.remote.refs()[`refs/heads/${pull.branch}`]).toBe(pull.personSha);
    expect(queuedBefore).toEqual({ kind: "skipped", reason: `PR #100 of task ${pull.taskId} is closed` });
    const merges = await started.harness.db.pool.query("SELECT 1 FROM audit.events WHERE action = 'task.base_merged' AND payload->>'taskId' = $1", [
      String(pull.taskId),
    ]);
    expect(merges.rows).toEqual([]);
  });

  it("a branch that already contains the base is left alone", async () => {
    const pull = await openAgentPull();

    await deliverPush(pull, pull.remote.refs()["refs/heads/main"] as string);

    expect(pull.remote.refs()[`refs/heads/${pull.branch}`]).toBe(pull.personSha);
    expect(await taskState(pull.taskId)).toBe("pr_open");
  });

  it("waits while the installation is halted", async () => {
    const pull = await openAgentPull();
    moveMain(pull, "mona", { "NEW.md": "new on main\n" });
    await started.harness.db.pool.query("UPDATE installations SET halted_at = now() WHERE id = $1", [pull.installationId]);
    const sync = allTasks({ ...services, workspace: { ...services.workspace, root: path.join(started.harness.dataDir, "workspaces") } }, [SYNC_BASE_TASK]);

    await sync[SYNC_BASE_TASK]?.({ taskId: pull.taskId }, {} as JobHelpers);

    expect(await queuedLater(`sync:${pull.taskId}`)).toEqual([{ task_identifier: "task.sync-base", later: true }]);
    expect(pull.remote.refs()[`refs/heads/${pull.branch}`]).toBe(pull.personSha);
    await started.harness.db.pool.query("UPDATE installations SET halted_at = NULL WHERE id = $1", [pull.installationId]);
    await started.harness.db.pool.query("SELECT graphile_worker.remove_job($1)", [`sync:${pull.taskId}`]);
  });
});

describe("one job at a time in a task's tree", () => {
  it("a sync and the work loop each wait for the other instead of rebuilding the tree under it", async () => {
    const pull = await openAgentPull();
    moveMain(pull, "mona", { "NEW.md": "new on main\n" });
    const script = scriptedEmployees([edits("Use +.", FIX_ADD)]);
    const worker = testServices(started.harness.db, { modelOverride: script.override });
    const lock = await tryTaskTreeLock(started.harness.db.pool, pull.taskId);

    const sync = await runSyncBase(services, { taskId: pull.taskId });
    await started.harness.db.pool.query("UPDATE tasks SET state = 'working' WHERE id = $1", [pull.taskId]);
    const work = await runTaskWork({ ...worker, sandbox: { allowUnsandboxed: true } }, { taskId: pull.taskId }, {});
    await lock?.release();

    expect(lock).not.toBeNull();
    expect(sync).toMatchObject({ kind: "busy" });
    expect(await queuedLater(`sync:${pull.taskId}`)).toEqual([{ task_identifier: "task.sync-base", later: true }]);
    expect(work).toMatchObject({ kind: "waiting" });
    expect(await queuedLater(`task:${pull.taskId}`)).toEqual([{ task_identifier: "task.work", later: true }]);
    await started.harness.db.pool.query("SELECT graphile_worker.remove_job(k) FROM unnest($1::text[]) AS k", [[`sync:${pull.taskId}`, `task:${pull.taskId}`]]);
    expect(script.calls).toHaveLength(0);
    expect(pull.remote.refs()[`refs/heads/${pull.branch}`]).toBe(pull.personSha);
  });
});

describe("a branch that already has the base", () => {
  it("is reported up to date from the cache, without a work tree and without waiting for the job in the task's tree", async () => {
    const pull = await openAgentPull();
    const lock = await tryTaskTreeLock(started.harness.db.pool, pull.taskId);

    const sync = await runSyncBase(services, { taskId: pull.taskId });
    await lock?.release();

    expect(lock).not.toBeNull();
    expect(sync).toEqual({ kind: "up-to-date", sha: pull.personSha, baseSha: pull.remote.refs()["refs/heads/main"] });
    expect(await queuedLater(`sync:${pull.taskId}`)).toEqual([]);
    const trees = path.join(services.workspace.root, "trees");
    expect(existsSync(trees) ? readdirSync(trees, { recursive: true }).filter((entry) => String(entry).includes("fix-add")) : []).toEqual([]);
    expect(pull.remote.refs()[`refs/heads/${pull.branch}`]).toBe(pull.personSha);
  });
});

describe("a base that moves while the task is being worked on", () => {
  it("is merged once the revision has pushed, though the push to the base came while the task was working", async () => {
    const parent = path.join(temp.dir, `case-${counter}`);
    mkdirSync(parent, { mode: 0o711 });
    const installationId = 8100 + counter++;
    const github = fakeGitHub();
    const script = scriptedEmployees([edits("Use +.", FIX_ADD), edits("Triple too.", write("src/triple.js", "exports.triple = (a) => a * 3;\n"))]);
    const worker = {
      ...testServices(started.harness.db, { modelOverride: script.override }),
      github: unthrottledGitHub(),
      sandbox: { allowUnsandboxed: true },
    };
    const fixture = await createTaskFixture(started.harness.db, worker, { parent, installationId });
    const branch = `aura/${fixture.issueNumber}-fix-add`;
    const pull: OpenPull = { ...fixture, branch, agentSha: "", personSha: "", installationId };
    expect(await runTaskWork(worker, { taskId: fixture.taskId }, {})).toMatchObject({ kind: "pr_open", pullNumber: 100 });
    await started.harness.waitForIdle();
    const firstTip = fixture.remote.refs()[`refs/heads/${branch}`] as string;

    const revision = await inTransaction(started.harness.db.pool, (client) =>
      requestRevision(worker, client, { taskId: fixture.taskId, instructions: "Add triple().", by: "director-dana", sourceKey: `comment:${fixture.taskId}` }),
    );
    const mainTip = moveMain(pull, "mona", { "NEW.md": "new on main\n" });
    await deliverPush(pull, mainTip);
    expect(fixture.remote.refs()[`refs/heads/${branch}`]).toBe(firstTip);
    const revised = await runTaskWork(worker, { taskId: fixture.taskId, revisionId: revision.revisionId }, {});
    const revisionTip = fixture.remote.refs()[`refs/heads/${branch}`] as string;
    await started.harness.waitForIdle();

    expect(revised).toMatchObject({ kind: "pr_open", pullNumber: 100 });
    expect(revisionTip).not.toBe(firstTip);
    const tip = fixture.remote.refs()[`refs/heads/${branch}`] as string;
    expect(parents(pull, tip)).toEqual([revisionTip, mainTip]);
    expect(sh(fixture.remote.bare, "show", `${tip}:src/triple.js`)).toContain("a * 3");
    expect(script.calls[1]?.messages.map((m) => m.content).join("\n")).toContain("Add triple().");
    expect(sh(fixture.remote.bare, "show", `${tip}:NEW.md`)).toBe("new on main\n");
    expect(fixture.remote.refs()["refs/heads/main"]).toBe(mainTip);
    expect(await taskState(fixture.taskId)).toBe("pr_open");
    const merged = await started.harness.db.pool.query("SELECT payload FROM audit.events WHERE action = 'task.base_merged' AND payload->>'taskId' = $1", [
      String(fixture.taskId),
    ]);
    expect(merged.rows.map((row) => row.payload)).toMatchObject([{ baseSha: mainTip, headSha: tip }]);
    expect(github.count("POST", /\/pulls$/)).toBe(1);
  });
});
