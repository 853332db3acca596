// What a soak run must show when it ends, read from the GitHub edges' stores and the database: no pull request,
// comment or review written twice (by identity: the task marker of a PR body, the hidden `<!-- aura:… -->` marker
// or else the text of a comment, the commit and marker or text of a review); every requirement at its end state
// (done, its task merged); the audit chain verifies; no budget reservation left open.
import type pg from "pg";
import { verifyAudit } from "../../src/audit/verify.js";
import type { GitHubEdge } from "../../src/local/github-edge.js";

const MARKER = /<!-- aura:[^>]*-->/;

/** The identity of a written text: its first hidden marker, else the whole text. */
const identity = (body: string) => MARKER.exec(body)?.[0] ?? body;

function repeated(keys: string[]): string[] {
  const seen = new Map<string, number>();
  for (const key of keys) seen.set(key, (seen.get(key) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([key, n]) => `${n} × ${key}`);
}

/** Everything the app wrote twice on one repository's edge, each as `<n> × <kind> <identity>`. */
export function findDuplicates(repo: string, edge: GitHubEdge, botLogin: string): string[] {
  const pulls = [...edge.pulls.values()].map((pull) => `${repo} pull ${/<!-- aura:task id=\d+ -->/.exec(pull.body)?.[0] ?? pull.head}`);
  const comments = edge.comments
    .filter((comment) => comment.user.login === botLogin)
    .map((comment) => `${repo} #${comment.issue} comment ${identity(comment.body).slice(0, 120)}`);
  const reviews = edge.reviews.map(
    (review) => `${repo} #${review.pull} review ${review.commit_id.slice(0, 12)} ${review.event} ${identity(review.body).slice(0, 120)}`,
  );
  return [...repeated(pulls), ...repeated(comments), ...repeated(reviews)];
}

export type EndStates = { done: number; lost: string[]; stuck: string[] };

/** Each repository's requirement must be done with every task merged; missing is lost, anything else stuck. */
export async function readEndStates(pool: pg.Pool, installationId: number, repos: { fullName: string; issue: number }[]): Promise<EndStates> {
  const { rows } = await pool.query<{ repo: string; issue: number; state: string; tasks: string[] | null }>(
    `SELECT r.repo, r.issue_number AS issue, r.state, array_agg(t.state ORDER BY t.id) FILTER (WHERE t.id IS NOT NULL) AS tasks
       FROM requirements r LEFT JOIN tasks t ON t.requirement_id = r.id
      WHERE r.installation_id = $1 GROUP BY r.id`,
    [installationId],
  );
  const byRepo = new Map(rows.map((row) => [`${row.repo}#${row.issue}`, row]));
  const result: EndStates = { done: 0, lost: [], stuck: [] };
  for (const { fullName, issue } of repos) {
    const row = byRepo.get(`${fullName}#${issue}`);
    if (!row) result.lost.push(`${fullName}#${issue}`);
    else if (row.state === "done" && (row.tasks ?? []).length > 0 && (row.tasks ?? []).every((state) => state === "merged")) result.done++;
    else result.stuck.push(`${fullName}#${issue}: requirement ${row.state}, tasks ${(row.tasks ?? []).join(", ") || "none"}`);
  }
  return result;
}

/** Budget reservations by state; `reserved` ones are calls whose reservation was never settled or released. */
export async function readReservations(pool: pg.Pool): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ state: string; n: number }>("SELECT state, count(*)::int AS n FROM model_spend GROUP BY state ORDER BY state");
  return Object.fromEntries(rows.map((row) => [row.state, row.n]));
}

export async function auditVerifies(pool: pg.Pool): Promise<{ ok: boolean; events: number; problem?: string }> {
  const result = await verifyAudit(pool);
  return { ok: result.ok, events: result.count, ...(result.ok ? {} : { problem: JSON.stringify(result).slice(0, 500) }) };
}

/** The database's own counters (pg_stat_database) for the soak's database: transactions, blocks, rows. */
export type DatabaseWork = { commits: number; rollbacks: number; blocksRead: number; blocksHit: number; rowsWritten: number; rowsRead: number };

export async function readDatabaseWork(pool: pg.Pool): Promise<DatabaseWork> {
  const { rows } = await pool.query<Record<keyof DatabaseWork, string>>(
    `SELECT xact_commit AS "commits", xact_rollback AS "rollbacks", blks_read AS "blocksRead", blks_hit AS "blocksHit",
            tup_inserted + tup_updated + tup_deleted AS "rowsWritten", tup_returned + tup_fetched AS "rowsRead"
       FROM pg_stat_database WHERE datname = current_database()`,
  );
  const row = rows[0] as Record<keyof DatabaseWork, string>;
  return Object.fromEntries(Object.entries(row).map(([key, value]) => [key, Number(value)])) as DatabaseWork;
}

export function databaseDelta(before: DatabaseWork, after: DatabaseWork): DatabaseWork {
  return Object.fromEntries(Object.keys(after).map((key) => [key, after[key as keyof DatabaseWork] - before[key as keyof DatabaseWork]])) as DatabaseWork;
}
