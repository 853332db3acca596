// Keeping agent branches mergeable when their base moves (issue 7 item 12). A `push` to a repository's default
// branch starts `base.moved`, which enqueues one `task.sync-base` per open agent PR on that base. Each sync
// rebuilds the task's tree from its remote branch and asks local git whether the branch still contains the base:
// if it does, nothing happens; if the base merges in cleanly, the bot commits a merge from the base (never a
// rebase, never a force-push) and pushes it through the one push function; if it conflicts, the merge is aborted,
// the branch stays as it was, and the task goes to a director with the conflicting files named. A push to such
// a task's own `aura/*` branch by someone other than the app (a person resolving the conflict) starts
// `branch.pushed`, which syncs that task again: if the branch now contains the base, the task is back in review.
import { createHash } from "node:crypto";
import type pg from "pg";
import { z } from "zod";
import { pullsClosedInLedger } from "../accountant/ledger.js";
import { appendEvents } from "../audit/append.js";
import type { TaskState } from "../core/state-machine.js";
import { addNotice, hasNotice, refreshStatusComment } from "../core/status-comment.js";
import { inTransaction, transitionRequirementFrom, transitionTask } from "../core/transitions.js";
import type { DeliverySummary, JobSpec } from "../queue/dispatch.js";
import { enqueue, enqueueMany } from "../queue/enqueue.js";
import { deliveredRepository } from "../queue/inbox.js";
import type { Services } from "../services.js";
import {
  git,
  isAuraRef,
  mergeBase,
  MergeConflictError,
  prepareTaskWorkspace,
  pushAuraBranch,
  remoteBranchBase,
  removeTaskWorkspace,
  resolveCloneSource,
  workspaceTarget,
  type MergeBaseResult,
  type PushResult,
  type RepoLocation,
  type TaskWorkspace,
} from "../workspace/index.js";
import { assertTreeLockHeld, TREE_BUSY_RETRY_MS, tryTaskTreeLock, type TreeLock } from "./tree-lock.js";
import {
  hasTaskNeedingDirector,
  listTaskPullsToSync,
  loadTaskToSync,
  lockTaskConflict,
  lockTaskState,
  recordTaskCommit,
  setBaseConflict,
  type SyncTaskRow,
  type TaskPull,
} from "./store.js";

export const BASE_MOVED_TASK = "base.moved" as const;
export const BRANCH_PUSHED_TASK = "branch.pushed" as const;
export const SYNC_BASE_TASK = "task.sync-base" as const;
export const syncBaseJobKey = (taskId: number) => `sync:${taskId}`;

/**
 * Task states whose open PR is kept mergeable. `base.moved` passes over a task being worked on (or one with no PR
 * yet); the work loop calls enqueueSyncBase when its run leaves the PR, which catches up with any base move missed.
 */
const SYNCED_STATES: readonly TaskState[] = ["pr_open", "needs_director"];

/**
 * Queues one `task.sync-base` for the task in the caller's transaction (a sync already waiting is replaced). The
 * sync merges a moved base into the branch, hands a conflict to a director, and leaves a branch that already
 * contains the base as it is.
 */
export async function enqueueSyncBase(db: Pick<pg.PoolClient, "query">, taskId: number): Promise<void> {
  await enqueue(db, SYNC_BASE_TASK, { taskId });
}

/**
 * The tasks among `rows` whose pull request has no standing close (the Accountant's ledger says). A task a
 * non-director's merge left in `needs_director` keeps its PR number and branch, but that PR is gone: merging the
 * base into its branch would only push to a dead branch. A close that a reopen superseded does not count.
 */
async function withOpenPulls(services: Services, installationId: number, repo: string, rows: TaskPull[]): Promise<number[]> {
  const closed = await pullsClosedInLedger(
    services.pool,
    installationId,
    repo,
    rows.map((row) => row.pr_number),
  );
  return rows.filter((row) => !closed.has(row.pr_number)).map((row) => Number(row.task_id));
}

export const BaseMovedPayload = z.object({
  installationId: z.number().int().positive(),
  repo: z.string().regex(/^[^/\s]+\/[^/\s]+$/),
  branch: z.string().min(1),
});
export type BaseMovedPayload = z.infer<typeof BaseMovedPayload>;

export const BranchPushedPayload = z.object({
  installationId: z.number().int().positive(),
  repo: z.string().regex(/^[^/\s]+\/[^/\s]+$/),
  branch: z.string().min(1),
  /** `sender.login` and `pusher.name` of the push ("" when absent): the job skips the app's own pushes. */
  sender: z.string(),
  pusher: z.string(),
});
export type BranchPushedPayload = z.infer<typeof BranchPushedPayload>;

export const SyncBasePayload = z.object({ taskId: z.coerce.number().int().positive() });
export type SyncBasePayload = z.infer<typeof SyncBasePayload>;

const PushDelivery = z.looseObject({
  ref: z.string(),
  deleted: z.boolean().optional(),
  repository: z.looseObject({ default_branch: z.string() }),
  sender: z.looseObject({ login: z.string() }).nullish(),
  pusher: z.looseObject({ name: z.string() }).nullish(),
});

/**
 * A push that moves a repository's default branch starts `base.moved`; a push to an `aura/*` branch starts
 * `branch.pushed`. The tasks they concern are only known from the database, and the app's bot login only from
 * the config, so the jobs decide (the app's own pushes are skipped there). Pushes to other branches and branch
 * deletions start nothing.
 */
export function dispatchEmployees(delivery: DeliverySummary): JobSpec[] {
  const { installationId, repository } = delivery;
  if (delivery.event !== "push" || installationId === undefined || repository === undefined) return [];
  const push = PushDelivery.safeParse(delivery.payload);
  if (!push.success || push.data.deleted === true) return [];
  const branch = push.data.repository.default_branch;
  if (push.data.ref === `refs/heads/${branch}`) return [{ task: BASE_MOVED_TASK, payload: { installationId, repo: repository, branch } }];
  if (!isAuraRef(push.data.ref)) return [];
  const pushed = { installationId, repo: repository, branch: push.data.ref.slice("refs/heads/".length) };
  return [{ task: BRANCH_PUSHED_TASK, payload: { ...pushed, sender: push.data.sender?.login ?? "", pusher: push.data.pusher?.name ?? "" } }];
}

/** One `task.sync-base` per task, all in one statement; returns the task ids. */
async function enqueueSyncs(services: Services, taskIds: number[]): Promise<number[]> {
  await enqueueMany(
    services.pool,
    taskIds.map((taskId) => ({ name: SYNC_BASE_TASK, payload: { taskId } })),
  );
  return taskIds;
}

/**
 * Runs `base.moved`: one `task.sync-base` per task of the repository with an open agent PR on the moved base,
 * all enqueued in one statement (so atomically); a sync already waiting for a task is replaced, not
 * doubled. Returns the task ids.
 */
export async function runBaseMoved(services: Services, rawPayload: unknown): Promise<number[]> {
  const { installationId, repo, branch } = BaseMovedPayload.parse(rawPayload);
  const rows = await listTaskPullsToSync(services.pool, "onBase", { installationId, repo, branch, states: SYNCED_STATES });
  return enqueueSyncs(services, await withOpenPulls(services, installationId, repo, rows));
}

/**
 * Runs `branch.pushed`: when someone other than the app pushed to the `aura/*` branch of a task that a base
 * conflict handed to a director (a person fixing the conflict), that task is synced again. The app's own
 * pushes (work, merges from the base) start nothing. Returns the task ids.
 */
export async function runBranchPushed(services: Services, rawPayload: unknown): Promise<number[]> {
  const { installationId, repo, branch, sender, pusher } = BranchPushedPayload.parse(rawPayload);
  const botLogin = services.config.botLogin;
  if (sender === botLogin || pusher === botLogin) return [];
  const rows = await listTaskPullsToSync(services.pool, "conflictedOnBranch", { installationId, repo, branch, states: SYNCED_STATES });
  return enqueueSyncs(services, await withOpenPulls(services, installationId, repo, rows));
}

export type SyncOutcome =
  | { kind: "merged"; sha: string; baseSha: string }
  | { kind: "up-to-date"; sha: string; baseSha: string }
  | { kind: "conflict"; files: string[]; baseSha: string }
  | { kind: "skipped" | "busy"; reason: string };

/** The task to sync, and whether the Accountant's ledger has its pull request closed. */
async function loadSyncTask(services: Services, taskId: number): Promise<(SyncTaskRow & { pull_closed: boolean }) | undefined> {
  const row = await loadTaskToSync(services.pool, taskId);
  if (!row) return undefined;
  const closed = row.pr_number === null ? new Set<number>() : await pullsClosedInLedger(services.pool, Number(row.installation_id), row.repo, [row.pr_number]);
  return { ...row, pull_closed: row.pr_number !== null && closed.has(row.pr_number) };
}

/** Runs `task.sync-base` for one task. Returns what happened (the job ignores it; tests read it). */
export async function runSyncBase(services: Services, rawPayload: unknown): Promise<SyncOutcome> {
  const { taskId } = SyncBasePayload.parse(rawPayload);
  const task = await loadSyncTask(services, taskId);
  if (!task) return { kind: "skipped", reason: `task ${taskId} does not exist` };
  if (!SYNCED_STATES.includes(task.state)) return { kind: "skipped", reason: `task ${taskId} is ${task.state}` };
  if (task.branch === null || task.pr_number === null) return { kind: "skipped", reason: `task ${taskId} has no pull request` };
  if (task.pull_closed) return { kind: "skipped", reason: `PR #${task.pr_number} of task ${taskId} is closed` };
  if (task.employee_id === null || task.snapshot_id === null) return { kind: "skipped", reason: `task ${taskId} has no assigned work to trail` };

  const located = await syncLocation(services, task);
  // The usual case (the sync the work loop queues with every pull request it opens, a base push that this branch
  // already has): the cache answers, with no work tree and without waiting for a job working in the task's tree.
  // A revision pushing meanwhile builds on this tip, and the work loop queues another sync after it.
  const remote = await remoteBranchBase(services.workspace, { ...located, branch: task.branch });
  if (remote.state === "missing") return { kind: "skipped", reason: `branch ${task.branch} is no longer on the remote` };
  if (remote.state === "contains") {
    await resolveConflict(services, task, { branch: task.branch, baseRef: located.baseRef }, remote.baseSha);
    return { kind: "up-to-date", sha: remote.tipSha, baseSha: remote.baseSha };
  }
  const lock = await tryTaskTreeLock(services.pool, taskId);
  if (!lock) {
    await enqueue(services.pool, SYNC_BASE_TASK, { taskId }, { runAt: new Date(services.now().getTime() + TREE_BUSY_RETRY_MS) });
    return { kind: "busy", reason: "another job is working in the task's tree" };
  }
  try {
    return await syncUnderLock(services, { ...task, branch: task.branch, employee_id: task.employee_id, snapshot_id: task.snapshot_id }, located, lock);
  } finally {
    await lock.release();
  }
}

type LockedTask = SyncTaskRow & { pull_closed: boolean; branch: string; employee_id: string; snapshot_id: string };

type SyncLocation = { repo: RepoLocation; baseRef: string; token: string | undefined };

/** Where the task's branch lives and its base branch; the installation token only for a GitHub remote. */
async function syncLocation(services: Services, task: SyncTaskRow): Promise<SyncLocation> {
  const installationId = Number(task.installation_id);
  const delivered = await deliveredRepository(services.pool, installationId, task.repo);
  const baseRef = task.default_branch ?? delivered.defaultBranch ?? "main";
  const repo = { fullName: task.repo, githubWebUrl: services.config.githubWebUrl, cloneUrl: delivered.cloneUrl };
  // Only a GitHub remote needs the installation token; a local source (tests, development) costs no request.
  const source = resolveCloneSource({ ...repo, allowLocalClone: services.workspace.allowLocalClone });
  const token =
    source.kind === "remote" ? ((await services.github.forInstallation(installationId).auth({ type: "installation" })) as { token: string }).token : undefined;
  return { repo, baseRef, token };
}

async function syncUnderLock(services: Services, task: LockedTask, { repo, baseRef, token }: SyncLocation, lock: TreeLock): Promise<SyncOutcome> {
  const taskId = Number(task.id);
  const workspace = await prepareTaskWorkspace(services.workspace, { repo, branch: task.branch, baseRef, token });
  try {
    if (!workspace.resumed) return { kind: "skipped", reason: `branch ${task.branch} is no longer on the remote` };
    return await mergeAndPush(services, task, workspace, token, lock);
  } finally {
    await removeTaskWorkspace(workspace).catch((error: unknown) => services.log.warn({ taskId, reason: String(error) }, "could not remove the work tree"));
  }
}

async function recordMerges(services: Services, task: LockedTask, shas: string[]): Promise<void> {
  for (const sha of shas) {
    await recordTaskCommit(services.pool, { taskId: Number(task.id), sha, kind: "merge", employeeId: task.employee_id, snapshotId: task.snapshot_id });
  }
}

async function mergeAndPush(services: Services, task: LockedTask, workspace: TaskWorkspace, token: string | undefined, lock: TreeLock): Promise<SyncOutcome> {
  const taskId = Number(task.id);
  const subject = `${task.repo}#${task.issue_number}/${task.task_key}`;
  let merged: MergeBaseResult;
  try {
    merged = await mergeBase(services.workspace, workspace, {
      token,
      trailers: {
        requirement: `${task.repo}#${task.issue_number}`,
        task: `${taskId} ${task.task_key}`,
        employee: task.employee_id,
        snapshot: task.snapshot_id,
      },
    });
  } catch (error) {
    if (!(error instanceof MergeConflictError)) throw error;
    return reportConflict(services, task, workspace, error);
  }
  if (!merged.merged) {
    await resolveConflict(services, task, workspace, merged.baseSha);
    return { kind: "up-to-date", sha: merged.sha, baseSha: merged.baseSha };
  }

  // Never push from a tree another job may have rebuilt: a lost lock fails this job, which runs again.
  assertTreeLockHeld(lock, taskId);
  // Recorded before the push: the Governor may judge the new head as soon as GitHub sees it.
  await recordMerges(services, task, [merged.sha]);
  let pushed: PushResult;
  try {
    pushed = await pushAuraBranch(services.workspace, workspace, { token });
  } catch (error) {
    if (!(error instanceof MergeConflictError)) throw error;
    return reportConflict(services, task, workspace, error);
  }
  if (pushed.mergedRemoteChanges > 0) {
    // A person pushed to the branch meanwhile: their commits were merged in too, by merges recorded like this one.
    const merges = await git(workspaceTarget(workspace, undefined), ["rev-list", "--merges", `${merged.sha}..HEAD`]);
    await recordMerges(
      services,
      task,
      merges.stdout.split("\n").filter((line) => /^[0-9a-f]{40}$/.test(line)),
    );
  }
  await appendEvents(services.pool, [
    {
      actor: "aura/employees",
      action: "task.base_merged",
      subject,
      payload: {
        taskId,
        pullNumber: task.pr_number,
        branch: workspace.branch,
        baseRef: workspace.baseRef,
        baseSha: merged.baseSha,
        mergeSha: merged.sha,
        headSha: pushed.sha,
      },
    },
  ]);
  await resolveConflict(services, task, workspace, merged.baseSha);
  return { kind: "merged", sha: pushed.sha, baseSha: merged.baseSha };
}

/**
 * The branch merges with the base again (someone resolved the conflict on it, or the base changed back): a task
 * the sync had handed to a director for that conflict returns to pr_open, and its requirement to in_progress
 * when no other task still needs a director.
 */
async function resolveConflict(services: Services, task: SyncTaskRow, workspace: Pick<TaskWorkspace, "branch" | "baseRef">, baseSha: string): Promise<void> {
  if (task.base_conflict_sha === null) return;
  const taskId = Number(task.id);
  const requirementId = Number(task.requirement_id);
  const resolved = await inTransaction(services.pool, async (client) => {
    const row = await lockTaskConflict(client, taskId);
    if (row?.base_conflict_sha === null || row?.base_conflict_sha === undefined) return false;
    await setBaseConflict(client, taskId, null);
    if (row.state !== "needs_director") return false;
    await transitionTask(client, taskId, "pr_open", {
      actor: "aura/employees",
      reason: `its branch merges with ${workspace.baseRef} again`,
      details: { baseSha },
    });
    const waiting = await hasTaskNeedingDirector(client, requirementId);
    if (!waiting) {
      await transitionRequirementFrom(client, requirementId, "needs_director", "in_progress", {
        actor: "aura/employees",
        reason: `task ${task.task_key}: the conflict with ${workspace.baseRef} is resolved`,
      });
    }
    await addNotice(client, requirementId, {
      kind: "info",
      key: `base-resolved:${taskId}:${baseSha}`,
      body: `Task \`${task.task_key}\`: \`${workspace.branch}\` merges with \`${workspace.baseRef}\` (${baseSha.slice(0, 7)}) again; PR #${task.pr_number} is back in review.`,
    });
    return true;
  });
  if (resolved) await refreshStatusComment(services, requirementId);
}

/** The base conflicts with the branch: the branch stays as it was and a director decides, told which files. */
async function reportConflict(services: Services, task: LockedTask, workspace: TaskWorkspace, conflict: MergeConflictError): Promise<SyncOutcome> {
  const taskId = Number(task.id);
  const requirementId = Number(task.requirement_id);
  const baseSha = workspace.baseSha;
  const files = conflict.conflictedFiles;
  // Keyed on the conflicting files, not the base: a conflict that stays while the base keeps moving is one
  // notice; a conflict in other files is news.
  const fileSet = createHash("sha256")
    .update([...files].sort().join("\0"))
    .digest("hex")
    .slice(0, 16);
  const key = `base-conflict:${taskId}:${fileSet}`;
  const changed = await inTransaction(services.pool, async (client) => {
    const state = await lockTaskState(client, taskId);
    const seen = await hasNotice(client, requirementId, key);
    const reason = `its branch conflicts with ${workspace.baseRef} (${files.join(", ") || "conflicting changes"})`;
    let moved = false;
    if (state === "pr_open") {
      await transitionTask(client, taskId, "needs_director", {
        actor: "aura/employees",
        reason: `merge conflict with the moved base: ${reason}`,
        details: { baseSha, files },
      });
      await setBaseConflict(client, taskId, baseSha);
      moved = true;
      await transitionRequirementFrom(client, requirementId, "in_progress", "needs_director", {
        actor: "aura/employees",
        reason: `task ${task.task_key}: ${reason}`,
      });
    }
    if (seen && !moved) return false;
    const list = files.length > 0 ? files.map((file) => `\`${file}\``).join(", ") : "files git could not name";
    await addNotice(client, requirementId, {
      kind: "incident",
      key,
      body: `Task \`${task.task_key}\`: \`${workspace.baseRef}\` moved to ${baseSha.slice(0, 7)} and no longer merges into \`${workspace.branch}\` (PR #${task.pr_number}); conflicts in ${list}. The branch was left as it was. A director can resolve the conflict on the branch, \`/aura revise\` or \`/aura reassign\` the task.`,
    });
    await appendEvents(client, [
      {
        actor: "aura/employees",
        action: "task.base_conflict",
        subject: `${task.repo}#${task.issue_number}/${task.task_key}`,
        payload: { taskId, pullNumber: task.pr_number, baseRef: workspace.baseRef, baseSha, files },
      },
    ]);
    return true;
  });
  if (changed) await refreshStatusComment(services, requirementId);
  return { kind: "conflict", files, baseSha };
}
