// Every verdict the governor posts as `aura/hnsc`, stored with its head SHA, pack revision and rule states, so a
// forged status can be answered with the true one and a reader can see exactly what judged each commit.
import type pg from "pg";
import type { Conclusion, RuleResult } from "./verdict.js";

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

export type StoredVerdict = {
  installationId: number;
  repo: string;
  pullNumber: number;
  headSha: string;
  packRevision: string;
  conclusion: Conclusion;
  description: string;
  targetUrl: string | undefined;
  governed: boolean;
  rules: readonly RuleResult[];
};

export async function storeVerdict(db: Queryable, verdict: StoredVerdict): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO governor_verdicts
       (installation_id, repo, pull_number, head_sha, pack_revision, conclusion, description, target_url, governed, rules)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
    [
      verdict.installationId,
      verdict.repo,
      verdict.pullNumber,
      verdict.headSha,
      verdict.packRevision,
      verdict.conclusion,
      verdict.description,
      verdict.targetUrl ?? null,
      verdict.governed,
      JSON.stringify(verdict.rules),
    ],
  );
  return Number(rows[0]?.id);
}

/** The most recent verdict for a commit of the repository, whichever pull request it was evaluated for. */
export async function latestVerdictForSha(
  db: Queryable,
  at: { installationId: number; repo: string; headSha: string },
): Promise<StoredVerdict | undefined> {
  const { rows } = await db.query<{
    pull_number: number;
    pack_revision: string;
    conclusion: Conclusion;
    description: string;
    target_url: string | null;
    governed: boolean;
    rules: RuleResult[];
  }>(
    `SELECT pull_number, pack_revision, conclusion, description, target_url, governed, rules FROM governor_verdicts
      WHERE installation_id = $1 AND repo = $2 AND head_sha = $3 ORDER BY id DESC LIMIT 1`,
    [at.installationId, at.repo, at.headSha],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    ...at,
    pullNumber: row.pull_number,
    packRevision: row.pack_revision,
    conclusion: row.conclusion,
    description: row.description,
    targetUrl: row.target_url ?? undefined,
    governed: row.governed,
    rules: row.rules,
  };
}
