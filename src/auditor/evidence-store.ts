// The Auditor's records in `auditor_runs`: one row per head SHA of a pull request, pending while the tests run,
// then passed or failed with the full report, and the review once it is posted. The governor's `evidence` rule
// reads it through loadEvidence. Also the one place the Auditor learns what the employee's own run showed: the
// claim the work loop recorded in `task_run_claims` (never the PR body, which carries model text).
import type pg from "pg";
import type { AuditorEvidence } from "../governor/pull-context.js";
import type { SandboxRunMode } from "../workspace/index.js";
import { parseEvidenceClaim, type ClaimRead } from "./claims.js";

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

export type PullAt = { installationId: number; repo: string; pullNumber: number; headSha: string };

export type RunSummary = {
  command: string | null;
  exitCode: number | null;
  timedOut: boolean;
  sandbox: "bwrap" | "kubernetes" | "none" | null;
  /** `sandbox` plus whether resource limits applied; absent in reports stored before it was recorded. */
  mode?: SandboxRunMode | null;
  /** The sandbox limits that held and those that did not, in words; absent in reports stored before. */
  limitsHeld?: string;
  limitsMissing?: string;
  /** The part of limitsMissing the operator accepted in AURA_SANDBOX_ACCEPT_MISSING; absent in reports stored before. */
  limitsAccepted?: string;
  counts: { passed: number; failed: number; skipped: number; total: number; runner: string } | undefined;
  logSha256: string | null;
  durationMs: number;
  /** Why the tests did not run, or the setup step that failed. */
  problem: string | undefined;
  /** The last lines of the log, for the review. */
  logTail: string;
};

export type AuditReport = {
  headSha: string;
  baseSha: string;
  head: RunSummary;
  base: RunSummary | undefined;
  claim: { kind: string; claim?: unknown; reason?: string };
  flags: string[];
  diff: { files: number; additions: number; deletions: number };
};

export type StoredRun = {
  state: "pending" | "passed" | "failed";
  report: AuditReport | null;
  reviewId: number | null;
  reviewUrl: string | null;
  reviewDigest: string | null;
};

/** Marks the run as started (pending) unless it already finished; returns the row as it now stands. */
export async function startRun(db: Queryable, at: PullAt, baseSha: string): Promise<StoredRun> {
  await db.query(
    `INSERT INTO auditor_runs (installation_id, repo, pull_number, head_sha, base_sha) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (installation_id, repo, pull_number, head_sha) DO NOTHING`,
    [at.installationId, at.repo, at.pullNumber, at.headSha, baseSha],
  );
  const run = await loadRun(db, at);
  if (!run) throw new Error("auditor run row vanished");
  return run;
}

export async function loadRun(db: Queryable, at: PullAt): Promise<StoredRun | undefined> {
  const { rows } = await db.query<{
    state: StoredRun["state"];
    report: AuditReport | null;
    review_id: string | null;
    review_url: string | null;
    review_digest: string | null;
  }>(
    `SELECT state, report, review_id, review_url, review_digest FROM auditor_runs
      WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4`,
    [at.installationId, at.repo, at.pullNumber, at.headSha],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    state: row.state,
    report: row.report,
    reviewId: row.review_id === null ? null : Number(row.review_id),
    reviewUrl: row.review_url,
    reviewDigest: row.review_digest,
  };
}

export async function finishRun(db: Queryable, at: PullAt, state: "passed" | "failed", report: AuditReport): Promise<void> {
  await db.query(
    `UPDATE auditor_runs SET state = $5, counts = $6, report = $7, updated_at = now()
      WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4`,
    [at.installationId, at.repo, at.pullNumber, at.headSha, state, JSON.stringify(report.head.counts ?? null), JSON.stringify(report)],
  );
}

export async function recordReview(db: Queryable, at: PullAt, review: { id: number; url: string; digest: string }): Promise<void> {
  await db.query(
    `UPDATE auditor_runs SET review_id = $5, review_url = $6, review_digest = $7, updated_at = now()
      WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4`,
    [at.installationId, at.repo, at.pullNumber, at.headSha, review.id, review.url, review.digest],
  );
}

/** The Auditor's evidence for the governor's `evidence` rule; undefined when no run for this SHA exists. */
export async function loadEvidence(db: Queryable, at: PullAt): Promise<AuditorEvidence | undefined> {
  const run = await loadRun(db, at);
  if (!run) return undefined;
  const counts = run.report?.head.counts;
  return {
    headSha: at.headSha,
    state: run.state,
    counts: counts ? { passed: counts.passed, failed: counts.failed, skipped: counts.skipped } : undefined,
    url: run.reviewUrl ?? undefined,
  };
}

/**
 * The work loop's recorded claim for the task behind this pull request (found by the PR number the work loop
 * recorded, else by its head branch, as the PR may be audited before the number is stored): the claim about this
 * head SHA, else the latest one (which then names another commit, and the comparison says so).
 */
export async function loadRunClaim(db: Queryable, at: PullAt & { headRef: string }): Promise<ClaimRead> {
  const { rows } = await db.query<{ claim: unknown }>(
    `WITH task AS (
       SELECT t.id FROM tasks t JOIN requirements r ON r.id = t.requirement_id
        WHERE r.installation_id = $1 AND r.repo = $2 AND (t.pr_number = $3 OR t.branch = $4)
        ORDER BY (t.pr_number = $3) DESC NULLS LAST, t.id DESC LIMIT 1)
     SELECT c.claim FROM task_run_claims c JOIN task ON task.id = c.task_id
      ORDER BY (c.head_sha = $5) DESC NULLS LAST, c.id DESC LIMIT 1`,
    [at.installationId, at.repo, at.pullNumber, at.headRef, at.headSha],
  );
  return parseEvidenceClaim(rows[0]?.claim);
}
