// The Director's data: every query its handlers make, each a small named function, so that the handlers
// (commands.ts, verbs.ts, pull-closed.ts, pull-reopened.ts, scoreboard-comment.ts) read as steps. Functions that
// write take the caller's client, so each keeps to the caller's transaction and lock order. Its own tables are
// director_commands, director_command_log, director_throttle_notices, director_refusals and
// scoreboard_comments, and the halt columns of installations; it also reads (and, through core/transitions.ts,
// moves) the Manager's requirements and tasks a command or a close is about. Queries on tables that belong to
// another role with no exported function for them are marked "another role's table" below.
import type { RequirementState, TaskState } from "../core/state-machine.js";
import type { Queryable } from "../db/queryable.js";

// ---- Commands (`director_commands`): one row per command comment, claimed before the verb runs. ----

export type CommandOutcome = "ignored" | "done" | "refused" | "not_director" | "invalid" | "unknown" | "already_handled" | "throttled";

/** Which command comment: the installation and GitHub's comment id. */
export type CommentRef = { installationId: number; commentId: number };

/** A command as recorded, with the acknowledgement it was given (replied_at null: not yet acknowledged). */
export type RecordedCommand = { verb: string; outcome: CommandOutcome; reply: string | null; reaction: string | null; replied_at: Date | null };

export async function findRecordedCommand(db: Queryable, at: CommentRef): Promise<RecordedCommand | undefined> {
  const { rows } = await db.query<RecordedCommand>(
    "SELECT verb, outcome, reply, reaction, replied_at FROM director_commands WHERE installation_id = $1 AND comment_id = $2",
    [at.installationId, at.commentId],
  );
  return rows[0];
}

/** A command comment as it is claimed: where it was written, by whom, and which verb. */
export type CommandClaim = CommentRef & { deliveryId: string; repo: string; issueNumber: number; login: string; verb: string };

/** Claims the command comment as `started`; false when another run claimed it first. */
export async function claimCommand(client: Queryable, command: CommandClaim): Promise<boolean> {
  const claimed = await client.query(
    `INSERT INTO director_commands (installation_id, comment_id, delivery_id, repo, issue_number, login, verb, outcome)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'started') ON CONFLICT DO NOTHING RETURNING 1`,
    [command.installationId, command.commentId, command.deliveryId, command.repo, command.issueNumber, command.login, command.verb],
  );
  return claimed.rowCount !== 0;
}

/**
 * Claims a console action's id (one per action form) in the action's transaction; false when that form was
 * already sent, so its command is not run twice.
 */
export async function claimConsoleAction(client: Queryable, actionId: string, login: string): Promise<boolean> {
  const claimed = await client.query("INSERT INTO console_actions (action_id, github_login) VALUES ($1, $2) ON CONFLICT (action_id) DO NOTHING", [
    actionId,
    login,
  ]);
  return claimed.rowCount === 1;
}

export async function recordCommandOutcome(
  client: Queryable,
  at: CommentRef,
  result: { outcome: CommandOutcome; reply: string | null; reaction: string | null },
): Promise<void> {
  await client.query("UPDATE director_commands SET outcome = $3, reply = $4, reaction = $5 WHERE installation_id = $1 AND comment_id = $2", [
    at.installationId,
    at.commentId,
    result.outcome,
    result.reply,
    result.reaction,
  ]);
}

/**
 * Records a command over its author's limit as `throttled`, so a redelivery is not counted again; with no reply it
 * counts as acknowledged at once. False when another run recorded it first.
 */
export async function claimThrottledCommand(client: Queryable, command: CommandClaim, reply: string | null): Promise<boolean> {
  const claimed = await client.query(
    `INSERT INTO director_commands (installation_id, comment_id, delivery_id, repo, issue_number, login, verb, outcome, reply, replied_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, 'throttled', $8, CASE WHEN $8::text IS NULL THEN now() END) ON CONFLICT DO NOTHING RETURNING 1`,
    [command.installationId, command.commentId, command.deliveryId, command.repo, command.issueNumber, command.login, command.verb, reply],
  );
  return claimed.rowCount !== 0;
}

export async function markCommandAcknowledged(db: Queryable, at: CommentRef): Promise<void> {
  await db.query("UPDATE director_commands SET replied_at = now() WHERE installation_id = $1 AND comment_id = $2", [at.installationId, at.commentId]);
}

// ---- The command throttle (`director_command_log`, `director_throttle_notices`; see command-throttle.ts). ----

/** One person's commands in one installation; `login` lower-cased by the caller. */
export type CommandAuthor = { installationId: number; login: string };

/** Counts one person's commands one at a time until the caller's transaction ends. */
export async function lockCommandCount(client: Queryable, author: CommandAuthor): Promise<void> {
  await client.query("SELECT pg_advisory_xact_lock(hashtextextended('aura:command-throttle:' || $1 || ':' || $2, 0))", [author.installationId, author.login]);
}

/** Forgets the person's commands that are out of the window ending at `now`. */
export async function forgetCommandsBefore(client: Queryable, author: CommandAuthor, now: Date, windowSeconds: number): Promise<void> {
  await client.query("DELETE FROM director_command_log WHERE installation_id = $1 AND login = $2 AND seen_at <= $3::timestamptz - make_interval(secs => $4)", [
    author.installationId,
    author.login,
    now,
    windowSeconds,
  ]);
}

/** Logs a command comment once (a retried delivery keeps its first time). */
export async function logCommand(client: Queryable, author: CommandAuthor, commentId: number, now: Date): Promise<void> {
  await client.query(
    "INSERT INTO director_command_log (installation_id, comment_id, login, seen_at) VALUES ($1, $2, $3, $4) ON CONFLICT (installation_id, comment_id) DO NOTHING",
    [author.installationId, commentId, author.login, now],
  );
}

/** This command's place among the person's commands in the window that ends at it (stable for a retried job). */
export async function commandPlaceInWindow(client: Queryable, at: CommentRef, windowSeconds: number): Promise<number> {
  const { rows } = await client.query<{ place: string }>(
    `SELECT count(*) AS place FROM director_command_log l, director_command_log self
      WHERE self.installation_id = $1 AND self.comment_id = $2
        AND l.installation_id = $1 AND l.login = self.login
        AND l.seen_at > self.seen_at - make_interval(secs => $3)
        AND (l.seen_at, l.comment_id) <= (self.seen_at, self.comment_id)`,
    [at.installationId, at.commentId, windowSeconds],
  );
  return Number(rows[0]?.place ?? 0);
}

/** Claims the one throttle notice of the window for this person: false when one went out within it. */
export async function claimThrottleNotice(client: Queryable, author: CommandAuthor, now: Date, windowSeconds: number): Promise<boolean> {
  const notice = await client.query(
    `INSERT INTO director_throttle_notices (installation_id, login, noticed_at) VALUES ($1, $2, $3)
     ON CONFLICT (installation_id, login) DO UPDATE SET noticed_at = EXCLUDED.noticed_at
       WHERE director_throttle_notices.noticed_at <= EXCLUDED.noticed_at - make_interval(secs => $4)
     RETURNING 1`,
    [author.installationId, author.login, now, windowSeconds],
  );
  return (notice.rowCount ?? 0) > 0;
}

// ---- Refusals (`director_refusals`): someone who is not a director gets at most one reply per issue an hour. ----

export const REFUSAL_REPLY_EVERY_MS = 3_600_000;

/**
 * Claims the right to reply to this user on this issue now: true when no reply went out in the last hour
 * (and records this one), false otherwise. Atomic, so two concurrent jobs never both reply. The reaction on
 * every command is not limited; only the reply is, so a stream of commands cannot make the app flood an issue.
 */
export async function claimRefusalReply(
  client: Queryable,
  target: { installationId: number; repo: string; issueNumber: number; login: string; now: Date },
): Promise<boolean> {
  const result = await client.query(
    `INSERT INTO director_refusals (installation_id, repo, issue_number, login, replied_at) VALUES ($1, $2, $3, lower($4), $5)
     ON CONFLICT (installation_id, repo, issue_number, login) DO UPDATE SET replied_at = EXCLUDED.replied_at
       WHERE director_refusals.replied_at <= EXCLUDED.replied_at - make_interval(secs => $6)
     RETURNING 1`,
    [target.installationId, target.repo, target.issueNumber, target.login, target.now, REFUSAL_REPLY_EVERY_MS / 1000],
  );
  return (result.rowCount ?? 0) > 0;
}

// ---- The command's transaction. ----

/** A rollback point inside the command's transaction, for verbs whose refusal must leave no trace but the record. */
export async function withSavepoint<T>(client: Queryable, fn: () => Promise<T>, keep: (result: T) => boolean): Promise<T> {
  await client.query("SAVEPOINT director_verb");
  try {
    const result = await fn();
    await client.query(keep(result) ? "RELEASE SAVEPOINT director_verb" : "ROLLBACK TO SAVEPOINT director_verb");
    return result;
  } catch (error) {
    await client.query("ROLLBACK TO SAVEPOINT director_verb");
    throw error;
  }
}

// ---- Halt and resume (the halt columns of `installations`; queue/halt.ts reads them for every job). ----

/** Creates the installation's row when it has none, so a halt can be written to it. */
export async function ensureInstallation(client: Queryable, installationId: number): Promise<void> {
  await client.query("INSERT INTO installations (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", [installationId]);
}

/** Locks the installation's row and reads its halt: when and by whom (null: not halted). */
export async function lockHaltState(client: Queryable, installationId: number): Promise<{ haltedAt: Date | null; haltedBy: string | null } | undefined> {
  const row = (
    await client.query<{ halted_at: Date | null; halted_by: string | null }>("SELECT halted_at, halted_by FROM installations WHERE id = $1 FOR UPDATE", [
      installationId,
    ])
  ).rows[0];
  return row ? { haltedAt: row.halted_at, haltedBy: row.halted_by } : undefined;
}

export async function markHalted(client: Queryable, installationId: number, by: string, note: string | null): Promise<void> {
  await client.query("UPDATE installations SET halted_at = now(), halted_by = $2, halt_reason = $3 WHERE id = $1", [installationId, by, note]);
}

export async function clearHalt(client: Queryable, installationId: number): Promise<void> {
  await client.query("UPDATE installations SET halted_at = NULL, halted_by = NULL, halt_reason = NULL WHERE id = $1", [installationId]);
}

/** The installation's requirements a halt pauses: every one not yet finished and not already halted, by id. */
export async function haltableRequirements(client: Queryable, installationId: number): Promise<number[]> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT id FROM requirements WHERE installation_id = $1
       AND state IN ('received', 'planning', 'planned', 'awaiting_approval', 'in_progress', 'needs_director') ORDER BY id`,
    [installationId],
  );
  return rows.map((row) => Number(row.id));
}

/** The installation's halted requirements, each with the state it was halted in (null: halted before that was recorded). */
export async function haltedRequirements(client: Queryable, installationId: number): Promise<{ id: number; preHaltState: RequirementState | null }[]> {
  const { rows } = await client.query<{ id: string; pre_halt_state: RequirementState | null }>(
    "SELECT id, pre_halt_state FROM requirements WHERE installation_id = $1 AND state = 'halted' ORDER BY id",
    [installationId],
  );
  return rows.map((row) => ({ id: Number(row.id), preHaltState: row.pre_halt_state }));
}

// ---- Requirements and tasks a command or a pull request is about (the Manager's tables, read by the Director). ----

/** Requirement states with no Aura work left in them. */
const FINISHED = ["done", "failed", "cancelled"] as const;

/** Repositories of the installation with a requirement that is not finished (halted ones included), sorted. */
export async function reposWithAuraWork(client: Queryable, installationId: number): Promise<string[]> {
  const { rows } = await client.query<{ repo: string }>(
    "SELECT DISTINCT repo FROM requirements WHERE installation_id = $1 AND state <> ALL($2::text[]) ORDER BY repo",
    [installationId, FINISHED],
  );
  return rows.map((row) => row.repo);
}

/** Where a command was written: the issue or pull request number in a repository (`owner/name`). */
export type IssueRef = { installationId: number; repo: string; issueNumber: number };

export type RequirementRef = { id: number; state: RequirementState };

/** The requirement this comment is about: the issue's own, or (on a pull request) the one its task belongs to. */
export async function requirementForComment(client: Queryable, at: IssueRef): Promise<RequirementRef | undefined> {
  const { rows } = await client.query<{ id: string; state: RequirementState }>(
    `SELECT r.id, r.state FROM requirements r WHERE r.installation_id = $1 AND r.repo = $2 AND r.issue_number = $3
     UNION ALL
     SELECT r.id, r.state FROM requirements r JOIN tasks t ON t.requirement_id = r.id
      WHERE r.installation_id = $1 AND r.repo = $2 AND t.pr_number = $3
     LIMIT 1`,
    [at.installationId, at.repo, at.issueNumber],
  );
  const row = rows[0];
  return row ? { id: Number(row.id), state: row.state } : undefined;
}

export async function requirementState(client: Queryable, requirementId: number): Promise<RequirementState | undefined> {
  return (await client.query<{ state: RequirementState }>("SELECT state FROM requirements WHERE id = $1", [requirementId])).rows[0]?.state;
}

/** The task of an agent pull request (when the comment is on one). */
export async function taskForPull(client: Queryable, at: IssueRef): Promise<{ id: number; key: string; requirementId: number } | undefined> {
  const { rows } = await client.query<{ id: string; task_key: string; requirement_id: string }>(
    `SELECT t.id, t.task_key, t.requirement_id FROM tasks t JOIN requirements r ON r.id = t.requirement_id
      WHERE r.installation_id = $1 AND r.repo = $2 AND t.pr_number = $3 ORDER BY t.id DESC LIMIT 1`,
    [at.installationId, at.repo, at.issueNumber],
  );
  const row = rows[0];
  return row ? { id: Number(row.id), key: row.task_key, requirementId: Number(row.requirement_id) } : undefined;
}

/** `T2`, `#T2` or a task's numeric id, within one requirement. */
export async function taskByRef(client: Queryable, requirementId: number, ref: string): Promise<{ id: number; key: string } | undefined> {
  const key = ref.replace(/^#/, "");
  const { rows } = await client.query<{ id: string; task_key: string }>(
    `SELECT id, task_key FROM tasks WHERE requirement_id = $1 AND (lower(task_key) = lower($2) OR id::text = $2)
     ORDER BY (lower(task_key) = lower($2)) DESC LIMIT 1`,
    [requirementId, key],
  );
  const row = rows[0];
  return row ? { id: Number(row.id), key: row.task_key } : undefined;
}

/** Tasks of the requirement (or just `taskId`) that a budget stopped: waiting for a director, still assigned. */
export async function budgetStoppedTasks(client: Queryable, requirementId: number, taskId: number | null): Promise<number[]> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT t.id FROM tasks t JOIN assignments a ON a.task_id = t.id AND a.active
      WHERE t.requirement_id = $1 AND t.state = 'needs_director' AND ($2::bigint IS NULL OR t.id = $2) ORDER BY t.id`,
    [requirementId, taskId],
  );
  return rows.map((row) => Number(row.id));
}

export type AgentTask = {
  taskId: number;
  taskKey: string;
  requirementId: number;
  taskClass: string;
  state: TaskState;
  revisionRounds: number;
  costUsd: number;
  employeeId: string | null;
  assignedAt: Date | null;
};

/** The task an agent pull request belongs to: the PR number the work loop recorded, else its `aura/*` branch. */
export async function findAgentTask(
  client: Queryable,
  pull: { installationId: number; repo: string; pullNumber: number; headRef: string },
): Promise<AgentTask | undefined> {
  const { rows } = await client.query<{
    id: string;
    task_key: string;
    requirement_id: string;
    task_class: string;
    state: TaskState;
    revision_rounds: number;
    cost_usd: string;
    employee_id: string | null;
    assigned_at: Date | null;
  }>(
    `SELECT t.id, t.task_key, t.requirement_id, t.task_class, t.state, t.revision_rounds, t.cost_usd, a.employee_id, a.created_at AS assigned_at
       FROM tasks t JOIN requirements r ON r.id = t.requirement_id
       LEFT JOIN assignments a ON a.task_id = t.id AND a.active
      WHERE r.installation_id = $1 AND r.repo = $2
        AND (t.pr_number = $3 OR (t.branch = $4 AND $4 LIKE 'aura/%'))
      ORDER BY (t.pr_number = $3) DESC NULLS LAST, t.id DESC LIMIT 1`,
    [pull.installationId, pull.repo, pull.pullNumber, pull.headRef],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    taskId: Number(row.id),
    taskKey: row.task_key,
    requirementId: Number(row.requirement_id),
    taskClass: row.task_class,
    state: row.state,
    revisionRounds: row.revision_rounds,
    costUsd: Number(row.cost_usd),
    employeeId: row.employee_id,
    assignedAt: row.assigned_at,
  };
}

/**
 * Locks the task's row and reads its state and pull request. A close and a reopen of the same pull request both
 * take this lock before any other write, so the two are serialised.
 */
export async function lockTask(client: Queryable, taskId: number): Promise<{ state: TaskState; prNumber: number | null } | undefined> {
  const row = (await client.query<{ state: TaskState; pr_number: number | null }>("SELECT state, pr_number FROM tasks WHERE id = $1 FOR UPDATE", [taskId]))
    .rows[0];
  return row ? { state: row.state, prNumber: row.pr_number } : undefined;
}

/** The requirement's state and its current plan's tasks: how many are still open, and how many were merged. */
export async function currentPlanMerges(client: Queryable, requirementId: number): Promise<{ state: string; open: number; merged: number } | undefined> {
  const { rows } = await client.query<{ state: string; open: string; merged: string }>(
    `SELECT r.state,
            count(*) FILTER (WHERE t.state NOT IN ('merged', 'cancelled')) AS open,
            count(*) FILTER (WHERE t.state = 'merged') AS merged
       FROM requirements r JOIN tasks t ON t.requirement_id = r.id AND t.plan_revision = r.plan_revision
      WHERE r.id = $1 GROUP BY r.state`,
    [requirementId],
  );
  const row = rows[0];
  return row ? { state: row.state, open: Number(row.open), merged: Number(row.merged) } : undefined;
}

/** The requirement's state and its current plan's tasks: how many are still being worked on, and how many were rejected or failed. */
export async function currentPlanLosses(client: Queryable, requirementId: number): Promise<{ state: string; open: number; lost: number } | undefined> {
  const { rows } = await client.query<{ state: string; open: string; lost: string }>(
    `SELECT r.state,
            count(*) FILTER (WHERE t.state NOT IN ('merged', 'cancelled', 'rejected', 'failed')) AS open,
            count(*) FILTER (WHERE t.state IN ('rejected', 'failed')) AS lost
       FROM requirements r JOIN tasks t ON t.requirement_id = r.id AND t.plan_revision = r.plan_revision
      WHERE r.id = $1 GROUP BY r.state`,
    [requirementId],
  );
  const row = rows[0];
  return row ? { state: row.state, open: Number(row.open), lost: Number(row.lost) } : undefined;
}

// ---- Other roles' tables with no exported function for these reads (see the module header). ----

/**
 * Another role's table (the Employees' spend ledger, `model_spend`, written by models/budgets.ts): what the
 * author's settled model calls of the task took (ms, from reservation to settlement) and cost. The Auditor's
 * advisory review is charged to the same task but is not the author's: it is left out. Undefined without the
 * ledger; `latencyMs` and `usd` are null without a settled author call.
 */
export async function authorSpendOfTask(client: Queryable, taskId: number): Promise<{ latencyMs: number | null; usd: number | null } | undefined> {
  const present = await client.query<{ present: boolean }>("SELECT to_regclass('model_spend') IS NOT NULL AS present");
  if (!present.rows[0]?.present) return undefined;
  const { rows } = await client.query<{ total: string | null; usd: string | null }>(
    `SELECT round(sum(extract(epoch FROM settled_at - created_at) * 1000)) AS total, sum(usd) AS usd
       FROM model_spend WHERE task_id = $1 AND state = 'settled' AND settled_at IS NOT NULL AND purpose <> 'advisory-review'`,
    [taskId],
  );
  const total = rows[0]?.total;
  const usd = rows[0]?.usd;
  return { latencyMs: total === null || total === undefined ? null : Number(total), usd: usd === null || usd === undefined ? null : Number(usd) };
}

/** Another role's table (the Manager's `installations`): the account the installation belongs to, when known. */
export async function installationAccount(client: Queryable, installationId: number): Promise<string | null | undefined> {
  return (await client.query<{ account: string | null }>("SELECT account FROM installations WHERE id = $1", [installationId])).rows[0]?.account;
}

// ---- Scoreboard comments (`scoreboard_comments`): the issue comment `/aura scoreboard` edits in place. ----

export async function scoreboardCommentId(db: Queryable, at: IssueRef): Promise<number | null> {
  const known = (
    await db.query<{ comment_id: string }>("SELECT comment_id FROM scoreboard_comments WHERE installation_id = $1 AND repo = $2 AND issue_number = $3", [
      at.installationId,
      at.repo,
      at.issueNumber,
    ])
  ).rows[0];
  return known ? Number(known.comment_id) : null;
}

export async function recordScoreboardComment(db: Queryable, at: IssueRef, commentId: number): Promise<void> {
  await db.query(
    `INSERT INTO scoreboard_comments (installation_id, repo, issue_number, comment_id) VALUES ($1, $2, $3, $4)
     ON CONFLICT (installation_id, repo, issue_number) DO UPDATE SET comment_id = EXCLUDED.comment_id, updated_at = now()`,
    [at.installationId, at.repo, at.issueNumber, commentId],
  );
}
