// The Auditor's own data, each query a small named function: the advisory review of each head SHA
// (`auditor_advisory_reviews`), claimed before any model call or post and settled once it is done. A store of its
// own, beside evidence-store.ts, on purpose: evidence-store.ts (the test runs the governor's evidence rule reads)
// is on the Auditor's surface, which other roles import, while the advisory reviews are nobody else's business.
import type { Queryable } from "../db/queryable.js";
import type { PullAt } from "./evidence-store.js";

export type AdvisoryState = "pending" | "posted" | "skipped" | "failed";

/** Claims the head SHA for the reviewer (a row already there is kept as it is). */
export async function claimAdvisoryReview(db: Queryable, at: PullAt, reviewer: string): Promise<void> {
  await db.query(
    `INSERT INTO auditor_advisory_reviews (installation_id, repo, pull_number, head_sha, reviewer) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (installation_id, repo, pull_number, head_sha) DO NOTHING`,
    [at.installationId, at.repo, at.pullNumber, at.headSha, reviewer],
  );
}

/** The state of the head SHA's advisory review; undefined when it was never claimed. */
export async function advisoryReviewState(db: Queryable, at: PullAt): Promise<AdvisoryState | undefined> {
  const { rows } = await db.query<{ state: AdvisoryState }>(
    "SELECT state FROM auditor_advisory_reviews WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4",
    [at.installationId, at.repo, at.pullNumber, at.headSha],
  );
  return rows[0]?.state;
}

/** How the advisory review of a head SHA ended: posted (with the review), skipped or failed, and why. */
export type AdvisorySettlement = {
  state: "posted" | "skipped" | "failed";
  detail: string;
  findings?: number;
  costUsd?: number;
  review?: { id: number; url: string };
};

export async function settleAdvisoryReview(db: Queryable, at: PullAt, outcome: AdvisorySettlement): Promise<void> {
  await db.query(
    `UPDATE auditor_advisory_reviews SET state = $5, detail = $6, findings = $7, cost_usd = $8, review_id = $9, review_url = $10, updated_at = now()
      WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4`,
    [
      at.installationId,
      at.repo,
      at.pullNumber,
      at.headSha,
      outcome.state,
      outcome.detail,
      outcome.findings ?? null,
      outcome.costUsd ?? null,
      outcome.review?.id ?? null,
      outcome.review?.url ?? null,
    ],
  );
}
