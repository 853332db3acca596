// The Manager's requirement data: a requirement of an issue, its plan and the problems that stopped it, and the
// intake's comments on the issue (kept so that each is posted once and edited only when its text changes).
// Every function runs on the connection it is given, so it joins the caller's transaction; state changes go
// through core/transitions.ts, not through here.
import type { Queryable } from "../db/queryable.js";
import type { RequirementState } from "../core/state-machine.js";
import { JOB_STILL_QUEUED } from "../queue/enqueue.js";

/** The issue a requirement belongs to. */
export type IssueKey = { installationId: number; repo: string; issueNumber: number };

export type RequirementRow = {
  id: number;
  state: RequirementState;
  requirement_label: string | null;
  default_branch: string | null;
  repo_config: unknown;
  title: string;
};

/** What a labelled (or reopened) issue starts a requirement with. */
export type RequirementFields = {
  title: string;
  labeledBy: string;
  defaultBranch: string;
  repoConfig: unknown;
  requirementLabel: string;
  private: boolean;
  repoId: number;
};

/** The kinds of intake comment: one of each per issue at most. */
export type IntakeCommentKind = "refusal" | "config-error" | "planning-budget";

async function selectRequirement(db: Queryable, issue: IssueKey, lock: boolean): Promise<RequirementRow | undefined> {
  const { rows } = await db.query<RequirementRow>(
    `SELECT id, state, requirement_label, default_branch, repo_config, title FROM requirements
     WHERE installation_id = $1 AND repo = $2 AND issue_number = $3${lock ? " FOR UPDATE" : ""}`,
    [issue.installationId, issue.repo, issue.issueNumber],
  );
  return rows[0];
}

/** The issue's requirement, if it has one. */
export async function loadIssueRequirement(db: Queryable, issue: IssueKey): Promise<RequirementRow | undefined> {
  return selectRequirement(db, issue, false);
}

/** The issue's requirement, locked for the caller's transaction. */
export async function lockIssueRequirement(db: Queryable, issue: IssueKey): Promise<RequirementRow | undefined> {
  return selectRequirement(db, issue, true);
}

function fieldValues(fields: RequirementFields): unknown[] {
  return [fields.title, fields.labeledBy, fields.defaultBranch, JSON.stringify(fields.repoConfig), fields.requirementLabel, fields.private, fields.repoId];
}

/** Creates the issue's requirement; undefined when it already has one (a redelivery, or a requirement cancelled earlier). */
export async function insertRequirement(db: Queryable, issue: IssueKey, fields: RequirementFields): Promise<number | undefined> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO requirements (installation_id, repo, issue_number, title, labeled_by, default_branch, repo_config, requirement_label, private, repo_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (installation_id, repo, issue_number) DO NOTHING RETURNING id`,
    [issue.installationId, issue.repo, issue.issueNumber, ...fieldValues(fields)],
  );
  return rows[0]?.id;
}

/** A cancelled requirement received again: the new label event's fields replace the old, and its problems are cleared. */
export async function renewRequirement(db: Queryable, requirementId: number, fields: RequirementFields): Promise<void> {
  await db.query(
    `UPDATE requirements SET title = $2, labeled_by = $3, default_branch = $4, repo_config = $5, requirement_label = $6, private = $7, repo_id = $8,
       plan_problems = NULL WHERE id = $1`,
    [requirementId, ...fieldValues(fields)],
  );
}

/** Every requirement label the repository's requirements were started with. */
export async function loadRequirementLabels(db: Queryable, installationId: number, repo: string): Promise<string[]> {
  const { rows } = await db.query<{ requirement_label: string }>(
    "SELECT DISTINCT requirement_label FROM requirements WHERE installation_id = $1 AND repo = $2 AND requirement_label IS NOT NULL",
    [installationId, repo],
  );
  return rows.map((row) => row.requirement_label);
}

/** The repositories' requirements that are not finished (done, failed or cancelled), oldest first. */
export async function loadUnfinishedRequirements(db: Queryable, installationId: number, repos: string[]): Promise<{ id: number; repo: string }[]> {
  const { rows } = await db.query<{ id: number; repo: string }>(
    `SELECT id, repo FROM requirements WHERE installation_id = $1 AND repo = ANY($2::text[]) AND state <> ALL('{done,failed,cancelled}'::text[]) ORDER BY id`,
    [installationId, repos],
  );
  return rows;
}

/** The requirement's state, unlocked. */
export async function loadRequirementState(db: Queryable, requirementId: number): Promise<RequirementState | undefined> {
  const { rows } = await db.query<{ state: RequirementState }>("SELECT state FROM requirements WHERE id = $1", [requirementId]);
  return rows[0]?.state;
}

/** The requirement's state, locked for the caller's transaction. */
export async function lockRequirementState(db: Queryable, requirementId: number): Promise<RequirementState | undefined> {
  const { rows } = await db.query<{ state: RequirementState }>("SELECT state FROM requirements WHERE id = $1 FOR UPDATE", [requirementId]);
  return rows[0]?.state;
}

/** The requirement's state and current plan revision, locked for the caller's transaction. */
export async function lockRequirementPlan(db: Queryable, requirementId: number): Promise<{ state: RequirementState; plan_revision: number } | undefined> {
  const { rows } = await db.query<{ state: RequirementState; plan_revision: number }>(
    "SELECT state, plan_revision FROM requirements WHERE id = $1 FOR UPDATE",
    [requirementId],
  );
  return rows[0];
}

/** Stores why planning stopped (what the status comment shows a director). */
export async function setPlanProblems(db: Queryable, requirementId: number, explanation: string): Promise<void> {
  await db.query("UPDATE requirements SET plan_problems = $2 WHERE id = $1", [requirementId, JSON.stringify(explanation)]);
}

/** Stores a plan that passed the rules as the requirement's next revision (clearing its problems); returns that revision. */
export async function storePlanRevision(db: Queryable, requirementId: number, plan: unknown): Promise<number | undefined> {
  const { rows } = await db.query<{ plan_revision: number }>(
    "UPDATE requirements SET plan = $2, plan_problems = NULL, plan_revision = plan_revision + 1 WHERE id = $1 RETURNING plan_revision",
    [requirementId, JSON.stringify(plan)],
  );
  return rows[0]?.plan_revision;
}

/**
 * Requirements waiting for a plan (`received`, `planning`) untouched for `lostMs` whose intake job is gone: no
 * job Aura queued for the issue still exists. Locked, skipping those another reconciler pass holds.
 */
export async function lockRequirementsWithLostIntake(
  db: Queryable,
  options: { lostMs: number; batch: number },
): Promise<{ id: number; installation_id: number; repo: string; issue_number: number }[]> {
  const { rows } = await db.query<{ id: number; installation_id: number; repo: string; issue_number: number }>(
    `SELECT r.id, r.installation_id, r.repo, r.issue_number FROM requirements r
       LEFT JOIN installations i ON i.id = r.installation_id
     WHERE r.state IN ('received', 'planning') AND r.updated_at < now() - make_interval(secs => $1)
       AND i.removed_at IS NULL
       AND NOT EXISTS (
         SELECT 1 FROM queued_jobs q
         WHERE (q.job_key = 'requirement:' || r.repo || '#' || r.issue_number
                OR (q.payload->>'repo' = r.repo AND q.payload->>'issueNumber' = r.issue_number::text))
           AND ${JOB_STILL_QUEUED})
     ORDER BY r.updated_at LIMIT $2 FOR UPDATE OF r SKIP LOCKED`,
    [options.lostMs / 1000, options.batch],
  );
  return rows;
}

/** The issue's intake comment of this kind: its id and the hash of the text it was last given. */
export async function loadIntakeComment(
  db: Queryable,
  issue: IssueKey,
  kind: IntakeCommentKind,
): Promise<{ comment_id: number; body_hash: string } | undefined> {
  const { rows } = await db.query<{ comment_id: number; body_hash: string }>(
    "SELECT comment_id, body_hash FROM intake_comments WHERE installation_id = $1 AND repo = $2 AND issue_number = $3 AND kind = $4",
    [issue.installationId, issue.repo, issue.issueNumber, kind],
  );
  return rows[0];
}

/** Records the issue's intake comment of this kind, or its new id and text hash when it was edited or posted again. */
export async function saveIntakeComment(
  db: Queryable,
  issue: IssueKey,
  kind: IntakeCommentKind,
  comment: { id: number | null; bodyHash: string },
): Promise<void> {
  await db.query(
    `INSERT INTO intake_comments (installation_id, repo, issue_number, kind, comment_id, body_hash) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (installation_id, repo, issue_number, kind) DO UPDATE SET comment_id = EXCLUDED.comment_id, body_hash = EXCLUDED.body_hash, updated_at = now()`,
    [issue.installationId, issue.repo, issue.issueNumber, kind, comment.id, comment.bodyHash],
  );
}

/** Records the refusal comment; the first one stays (a person is told once per issue, ever). */
export async function recordRefusalComment(db: Queryable, issue: IssueKey, comment: { id: number; bodyHash: string }): Promise<void> {
  await db.query(
    `INSERT INTO intake_comments (installation_id, repo, issue_number, kind, comment_id, body_hash) VALUES ($1, $2, $3, 'refusal', $4, $5)
     ON CONFLICT DO NOTHING`,
    [issue.installationId, issue.repo, issue.issueNumber, comment.id, comment.bodyHash],
  );
}
