// The Employees' queries: the task a run works on, what the run records (commits, its pull request, provider
// failures, handled revisions), and the counts it waits on. Each function is one statement; a caller that needs
// several in one transaction passes its client, so the statements, their order and their locks stay the
// caller's to decide.
import type pg from "pg";
import type { TaskClass } from "../config/policy-files.js";
import type { Queryable } from "../db/queryable.js";
import type { RevisionBrief } from "./task-context.js";
import type { TaskState } from "../core/state-machine.js";

/** A task as the work loop reads it: the task, its requirement, and its active assignment. */
export type TaskRow = {
  id: string;
  requirement_id: string;
  task_key: string;
  title: string;
  instructions: string;
  task_class: TaskClass;
  scope: string[];
  acceptance: string[];
  state: TaskState;
  attempt: number;
  branch: string | null;
  pr_number: number | null;
  revision_rounds: number;
  installation_id: string;
  repo: string;
  issue_number: number;
  requirement_title: string;
  requirement_state: string;
  repo_config: unknown;
  default_branch: string | null;
  task_count: string;
  employee_id: string | null;
};

export async function loadTaskToWork(db: Queryable, taskId: number): Promise<TaskRow | undefined> {
  const { rows } = await db.query<TaskRow>(
    `SELECT t.id, t.requirement_id, t.task_key, t.title, t.instructions, t.task_class, t.scope, t.acceptance, t.state,
            t.attempt, t.branch, t.pr_number, t.revision_rounds, r.installation_id, r.repo, r.issue_number,
            r.title AS requirement_title, r.state AS requirement_state, r.repo_config, r.default_branch,
            (SELECT count(*) FROM tasks o WHERE o.requirement_id = r.id AND o.state <> 'cancelled') AS task_count,
            a.employee_id
     FROM tasks t JOIN requirements r ON r.id = t.requirement_id
     LEFT JOIN assignments a ON a.task_id = t.id AND a.active
     WHERE t.id = $1`,
    [taskId],
  );
  return rows[0];
}

/** The task's state, its row locked until the caller's transaction ends. */
export async function lockTaskState(client: pg.PoolClient, taskId: number): Promise<TaskState | undefined> {
  return (await client.query<{ state: TaskState }>("SELECT state FROM tasks WHERE id = $1 FOR UPDATE", [taskId])).rows[0]?.state;
}

/** Open agent pull requests in the repository, other than the given task's. */
export async function countOpenAgentPulls(db: Queryable, at: { installationId: string; repo: string; exceptTaskId: string }): Promise<number> {
  const { rows } = await db.query<{ open: string }>(
    `SELECT count(*) AS open FROM tasks t JOIN requirements r ON r.id = t.requirement_id
     WHERE r.installation_id = $1 AND r.repo = $2 AND t.id <> $3 AND t.pr_number IS NOT NULL
       AND t.state IN ('working', 'pr_open', 'needs_director')`,
    [at.installationId, at.repo, at.exceptTaskId],
  );
  return Number(rows[0]?.open ?? 0);
}

/** Records a commit of the task's branch (once: a commit recorded before is left as it is). */
export async function recordTaskCommit(
  db: Queryable,
  commit: { taskId: number; sha: string; kind: "work" | "merge"; employeeId: string; snapshotId: string },
): Promise<void> {
  await db.query(`INSERT INTO task_commits (task_id, sha, kind, employee_id, snapshot_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [
    commit.taskId,
    commit.sha,
    commit.kind,
    commit.employeeId,
    commit.snapshotId,
  ]);
}

/** The branch a run works on; a new run also clears a base conflict the sync reported. */
export async function startTaskBranch(db: Queryable, taskId: number, branch: string): Promise<void> {
  await db.query("UPDATE tasks SET branch = $2, base_conflict_sha = NULL, updated_at = now() WHERE id = $1", [taskId, branch]);
}

/** A revision request of the task that no run has handled yet. */
export async function loadOpenRevision(db: Queryable, taskId: number, revisionId: number): Promise<(RevisionBrief & { id: number }) | undefined> {
  const { rows } = await db.query<{
    id: string;
    round: number;
    instructions: string;
    inline_comments: RevisionBrief["inlineComments"];
    requested_by: string;
  }>("SELECT id, round, instructions, inline_comments, requested_by FROM revision_requests WHERE id = $1 AND task_id = $2 AND handled_at IS NULL", [
    revisionId,
    taskId,
  ]);
  const row = rows[0];
  if (!row) return undefined;
  return { id: Number(row.id), round: row.round, instructions: row.instructions, inlineComments: row.inline_comments, requestedBy: row.requested_by };
}

export async function markRevisionHandled(db: Queryable, revisionId: number): Promise<void> {
  await db.query("UPDATE revision_requests SET handled_at = now() WHERE id = $1", [revisionId]);
}

/** The task's pull request, what the task has cost so far, and its branch. */
export async function recordTaskPull(db: Queryable, taskId: number, pull: { number: number; costUsd: number; branch: string }): Promise<void> {
  await db.query("UPDATE tasks SET pr_number = $2, cost_usd = $3, branch = $4, updated_at = now() WHERE id = $1", [
    taskId,
    pull.number,
    pull.costUsd,
    pull.branch,
  ]);
}

/** A provider failure of the employee on the task (the message cut to 2000 characters). */
export async function recordProviderFailure(db: Queryable, failure: { taskId: number; employeeId: string; kind: string; message: string }): Promise<void> {
  await db.query("INSERT INTO task_provider_failures (task_id, employee_id, kind, message) VALUES ($1, $2, $3, $4)", [
    failure.taskId,
    failure.employeeId,
    failure.kind,
    failure.message.slice(0, 2000),
  ]);
}

/** A task with an open agent pull request (as far as the tasks table knows: the Accountant's ledger has the closes). */
export type TaskPull = { task_id: string; pr_number: number };

/**
 * The tasks a base sync concerns, by task id: `onBase`, those in `states` whose pull request is on the base
 * `branch` (it moved); `conflictedOnBranch`, those in `states` on the branch `branch` (pushed to) that a base
 * conflict stopped.
 */
const TASK_PULLS_TO_SYNC = {
  onBase: `SELECT t.id AS task_id, t.pr_number
     FROM tasks t JOIN requirements r ON r.id = t.requirement_id
     WHERE r.installation_id = $1 AND r.repo = $2 AND coalesce(r.default_branch, $3) = $3
       AND t.pr_number IS NOT NULL AND t.branch IS NOT NULL AND t.state = ANY($4::text[])
     ORDER BY t.id`,
  conflictedOnBranch: `SELECT t.id AS task_id, t.pr_number
     FROM tasks t JOIN requirements r ON r.id = t.requirement_id
     WHERE r.installation_id = $1 AND r.repo = $2 AND t.branch = $3
       AND t.base_conflict_sha IS NOT NULL AND t.pr_number IS NOT NULL AND t.state = ANY($4::text[])
     ORDER BY t.id`,
} as const;

export async function listTaskPullsToSync(
  db: Queryable,
  which: keyof typeof TASK_PULLS_TO_SYNC,
  at: { installationId: number; repo: string; branch: string; states: readonly TaskState[] },
): Promise<TaskPull[]> {
  const { rows } = await db.query<TaskPull>(TASK_PULLS_TO_SYNC[which], [at.installationId, at.repo, at.branch, at.states]);
  return rows;
}

/** A task as the base sync reads it: the task, its requirement, its active assignment and its newest snapshot. */
export type SyncTaskRow = {
  id: string;
  requirement_id: string;
  task_key: string;
  state: TaskState;
  branch: string | null;
  pr_number: number | null;
  installation_id: string;
  repo: string;
  issue_number: number;
  default_branch: string | null;
  employee_id: string | null;
  snapshot_id: string | null;
  base_conflict_sha: string | null;
};

export async function loadTaskToSync(db: Queryable, taskId: number): Promise<SyncTaskRow | undefined> {
  const { rows } = await db.query<SyncTaskRow>(
    `SELECT t.id, t.requirement_id, t.task_key, t.state, t.branch, t.pr_number, t.base_conflict_sha, r.installation_id, r.repo,
            r.issue_number, r.default_branch, a.employee_id,
            (SELECT s.id FROM execution_snapshots s WHERE s.task_id = t.id ORDER BY s.created_at DESC, s.id LIMIT 1) AS snapshot_id
     FROM tasks t JOIN requirements r ON r.id = t.requirement_id
     LEFT JOIN assignments a ON a.task_id = t.id AND a.active
     WHERE t.id = $1`,
    [taskId],
  );
  return rows[0];
}

/** The task's state and the base it last conflicted with, its row locked until the caller's transaction ends. */
export async function lockTaskConflict(client: pg.PoolClient, taskId: number): Promise<{ state: TaskState; base_conflict_sha: string | null } | undefined> {
  const { rows } = await client.query<{ state: TaskState; base_conflict_sha: string | null }>(
    "SELECT state, base_conflict_sha FROM tasks WHERE id = $1 FOR UPDATE",
    [taskId],
  );
  return rows[0];
}

/** The base commit the task's branch conflicts with (null: it conflicts with none). */
export async function setBaseConflict(db: Queryable, taskId: number, baseSha: string | null): Promise<void> {
  await db.query("UPDATE tasks SET base_conflict_sha = $2 WHERE id = $1", [taskId, baseSha]);
}

/** Whether a task of the requirement's current plan still needs a director. */
export async function hasTaskNeedingDirector(db: Queryable, requirementId: number): Promise<boolean> {
  const waiting = await db.query(
    `SELECT 1 FROM tasks t JOIN requirements r ON r.id = t.requirement_id
     WHERE t.requirement_id = $1 AND t.plan_revision = r.plan_revision AND t.state = 'needs_director' LIMIT 1`,
    [requirementId],
  );
  return (waiting.rowCount ?? 0) > 0;
}

/** The installation of the task's requirement (undefined when the task does not exist). */
export async function loadTaskInstallation(db: Queryable, taskId: number): Promise<number | undefined> {
  const { rows } = await db.query<{ installation_id: string }>(
    "SELECT r.installation_id FROM tasks t JOIN requirements r ON r.id = t.requirement_id WHERE t.id = $1",
    [taskId],
  );
  return rows[0] ? Number(rows[0].installation_id) : undefined;
}

/** Records the claim of a run; `headSha` is null when the run pushed no commit of its own. Append-only. */
export async function recordRunClaim(db: Queryable, taskId: number, headSha: string | null, claim: Record<string, unknown>): Promise<void> {
  await db.query("INSERT INTO task_run_claims (task_id, head_sha, claim) VALUES ($1, $2, $3)", [taskId, headSha, JSON.stringify(claim)]);
}

/** Stores an execution snapshot under its id; false when a snapshot with that id was stored before (it is kept). */
export async function insertSnapshot(
  db: Queryable,
  id: string,
  snapshot: { taskId: number; attempt: number; revisionRound: number; employee: { id: string } },
): Promise<boolean> {
  const inserted = await db.query(
    `INSERT INTO execution_snapshots (id, task_id, attempt, revision_round, employee_id, snapshot)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING`,
    [id, snapshot.taskId, snapshot.attempt, snapshot.revisionRound, snapshot.employee.id, JSON.stringify(snapshot)],
  );
  return (inserted.rowCount ?? 0) > 0;
}

/** The revision recorded for a director's command or review (its source key), if there is one. */
export async function findRevisionBySource(db: Queryable, sourceKey: string): Promise<{ id: string; round: number } | undefined> {
  const seen = await db.query<{ id: string; round: number }>("SELECT id, round FROM revision_requests WHERE source_key = $1", [sourceKey]);
  return seen.rows[0];
}

/** What decides whether the task can be revised, its row locked until the caller's transaction ends. */
export async function lockTaskForRevision(
  client: pg.PoolClient,
  taskId: number,
): Promise<{ state: TaskState; revision_rounds: number; pr_number: number | null } | undefined> {
  const { rows } = await client.query<{ state: TaskState; revision_rounds: number; pr_number: number | null }>(
    "SELECT state, revision_rounds, pr_number FROM tasks WHERE id = $1 FOR UPDATE",
    [taskId],
  );
  return rows[0];
}

/** Records a revision request of round `round`; returns its id. */
export async function insertRevisionRequest(
  db: Queryable,
  request: { taskId: number; round: number; instructions: string; inlineComments: unknown[]; by: string; sourceKey: string | null },
): Promise<number> {
  const inserted = await db.query<{ id: string }>(
    `INSERT INTO revision_requests (task_id, round, instructions, inline_comments, requested_by, source_key)
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
    [request.taskId, request.round, request.instructions, JSON.stringify(request.inlineComments), request.by, request.sourceKey],
  );
  return Number(inserted.rows[0]?.id);
}

export async function setRevisionRounds(db: Queryable, taskId: number, rounds: number): Promise<void> {
  await db.query("UPDATE tasks SET revision_rounds = $2 WHERE id = $1", [taskId, rounds]);
}
