// The governor's own data, each query a small named function: directors' overrides of a rule, approvals of a
// repository's relaxing rules, the forgery record per commit, and what the gate reads about a pull request's task.
// A store of its own, beside verdict-store.ts, on purpose: verdict-store.ts (the verdicts and the gate's record of
// pull request heads) is on the governor's surface, which other roles import, while nothing here is theirs to
// read. Functions take the caller's client, so writes stay in the caller's transaction.
import type { Queryable } from "../db/queryable.js";
import type { RuleOverride } from "./pull-context.js";
import type { DirectorOverride, Relaxation } from "./repo-rules.js";

/** A pull request of a repository (`owner/name`) in an installation. */
type PullRef = { installationId: number; repo: string; pullNumber: number };

// ---- Overrides (`governor_overrides`): bound to the rule and the head SHA they were given at. ----

/** Every override given on the pull request (for any head; the evaluator applies only the current head's). */
export async function listOverrides(db: Queryable, pull: PullRef): Promise<RuleOverride[]> {
  const { rows } = await db.query<{ rule_id: string; head_sha: string; director: string; reason: string }>(
    `SELECT rule_id, head_sha, director, reason FROM governor_overrides
      WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 ORDER BY id`,
    [pull.installationId, pull.repo, pull.pullNumber],
  );
  return rows.map((row) => ({ ruleId: row.rule_id, headSha: row.head_sha, by: row.director, reason: row.reason }));
}

/** Stores a director's override of a rule at a head; false when that rule was already overridden there. */
export async function insertOverride(
  client: Queryable,
  override: PullRef & { headSha: string; ruleId: string; reason: string; director: string },
): Promise<boolean> {
  const inserted = await client.query(
    `INSERT INTO governor_overrides (installation_id, repo, pull_number, head_sha, rule_id, reason, director)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (installation_id, repo, pull_number, head_sha, rule_id) DO NOTHING`,
    [override.installationId, override.repo, override.pullNumber, override.headSha, override.ruleId, override.reason, override.director],
  );
  return inserted.rowCount === 1;
}

// ---- Approvals of a repository's relaxing `rules:` (`repo_rules_approvals`), bound to the rules' hash. ----

export type RepoRulesApproval = DirectorOverride & { rulesHash: string; approvedAt: Date };

/** The approval of exactly these rules, if a director gave one. */
export async function findRepoRulesApproval(
  db: Queryable,
  at: { installationId: number; repo: string; rulesHash: string },
): Promise<RepoRulesApproval | undefined> {
  const { rows } = await db.query<{ director: string; reason: string; created_at: Date }>(
    `SELECT director, reason, created_at FROM repo_rules_approvals
      WHERE installation_id = $1 AND repo = $2 AND rules_hash = $3`,
    [at.installationId, at.repo, at.rulesHash],
  );
  const row = rows[0];
  return row ? { by: row.director, reason: row.reason, rulesHash: at.rulesHash, approvedAt: row.created_at } : undefined;
}

/** Stores a director's approval of the rules with this hash; false when they were already approved. */
export async function insertRepoRulesApproval(
  client: Queryable,
  approval: {
    installationId: number;
    repo: string;
    rulesHash: string;
    relaxations: readonly Relaxation[];
    director: string;
    reason: string;
    issueNumber: number;
  },
): Promise<boolean> {
  const inserted = await client.query(
    `INSERT INTO repo_rules_approvals (installation_id, repo, rules_hash, relaxations, director, reason, issue_number)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (installation_id, repo, rules_hash) DO NOTHING`,
    [
      approval.installationId,
      approval.repo,
      approval.rulesHash,
      JSON.stringify(approval.relaxations),
      approval.director,
      approval.reason,
      approval.issueNumber,
    ],
  );
  return inserted.rowCount === 1;
}

// ---- Forged `aura/hnsc` statuses (`governor_forgeries`): one row, and one comment, per commit. ----

/** A commit of a repository in an installation. */
type CommitRef = { installationId: number; repo: string; headSha: string };

/**
 * Counts a forgery at the commit (first seen on `pullNumber`) and returns the id of the comment already posted
 * about it, or null when none was recorded yet.
 */
export async function countForgery(db: Queryable, at: CommitRef & { pullNumber: number }): Promise<string | null> {
  const { rows } = await db.query<{ comment_id: string | null }>(
    `INSERT INTO governor_forgeries (installation_id, repo, head_sha, pull_number) VALUES ($1, $2, $3, $4)
     ON CONFLICT (installation_id, repo, head_sha) DO UPDATE SET forgeries = governor_forgeries.forgeries + 1
     RETURNING comment_id`,
    [at.installationId, at.repo, at.headSha, at.pullNumber],
  );
  return rows[0]?.comment_id ?? null;
}

export async function recordForgeryComment(db: Queryable, at: CommitRef, commentId: number): Promise<void> {
  await db.query("UPDATE governor_forgeries SET comment_id = $4 WHERE installation_id = $1 AND repo = $2 AND head_sha = $3", [
    at.installationId,
    at.repo,
    at.headSha,
    commentId,
  ]);
}

// ---- The task of a pull request (the Manager's tasks, the Employees' records of them), as the gate reads it. ----

export type TaskOfPull = {
  taskId: number;
  requirementId: number;
  taskClass: string;
  scope: string[];
  branch: string | null;
  /** The cost the work loop recorded on the task row. */
  costUsd: number;
  employeeId: string | null;
};

/**
 * The task a pull request belongs to, best match first: the PR number the work loop recorded, the task id of the
 * body's hidden marker (`markerId`), or the branch; with its active assignment's employee.
 */
export async function taskOfPull(
  db: Queryable,
  pull: { installationId: number; repo: string; pullNumber: number; markerId: number | null; headRef: string },
): Promise<TaskOfPull | undefined> {
  const { rows } = await db.query<{
    id: string;
    requirement_id: string;
    task_class: string;
    scope: string[];
    branch: string | null;
    cost_usd: string;
    employee_id: string | null;
  }>(
    `SELECT t.id, t.requirement_id, t.task_class, t.scope, t.branch, t.cost_usd, a.employee_id
       FROM tasks t
       JOIN requirements r ON r.id = t.requirement_id
       LEFT JOIN assignments a ON a.task_id = t.id AND a.active
      WHERE r.installation_id = $1 AND r.repo = $2
        AND (t.pr_number = $3 OR t.id = $4 OR t.branch = $5)
      ORDER BY (t.pr_number = $3) DESC NULLS LAST, (t.id = $4) DESC NULLS LAST, t.id DESC
      LIMIT 1`,
    [pull.installationId, pull.repo, pull.pullNumber, pull.markerId, pull.headRef],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    taskId: Number(row.id),
    requirementId: Number(row.requirement_id),
    taskClass: row.task_class,
    scope: row.scope,
    branch: row.branch,
    costUsd: Number(row.cost_usd),
    employeeId: row.employee_id,
  };
}

/**
 * Another role's table (the Employees' `task_commits`, migration 007; read only when it exists): the commit SHAs
 * the work loop recorded for the task. No exported function of theirs reads it.
 */
export async function recordedCommitShas(db: Queryable, taskId: number): Promise<string[]> {
  const exists = await db.query<{ present: boolean }>("SELECT to_regclass('task_commits') IS NOT NULL AS present");
  if (!exists.rows[0]?.present) return [];
  const { rows } = await db.query<{ sha: string }>("SELECT sha FROM task_commits WHERE task_id = $1", [taskId]);
  return rows.map((row) => row.sha);
}

/**
 * Another role's table (the Employees' spend ledger, `model_spend`, read only when it exists): the settled spend
 * of the task's own work in dollars. The advisory reviewer's calls count against the requirement's budget but are
 * not the author's cost, so they are left out. Undefined without the ledger.
 */
export async function settledAuthorSpendUsd(db: Queryable, taskId: number): Promise<number | undefined> {
  const exists = await db.query<{ present: boolean }>("SELECT to_regclass('model_spend') IS NOT NULL AS present");
  if (!exists.rows[0]?.present) return undefined;
  const { rows } = await db.query<{ usd: string | null }>(
    "SELECT sum(usd) AS usd FROM model_spend WHERE task_id = $1 AND state = 'settled' AND purpose <> 'advisory-review'",
    [taskId],
  );
  return Number(rows[0]?.usd ?? 0);
}
