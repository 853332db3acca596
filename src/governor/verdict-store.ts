// Every verdict the governor gives a pull request's head, stored with its head SHA, pack revision and rule
// states, and the gate's record of each pull request's current head (`governor_pulls`), so the status of a
// commit can be computed over every pull request at it, a forged status answered with the true one, and a
// reader can see exactly what judged each commit.
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
  /** Given to an agent pull request: the commit is then an agent commit for good. */
  agent: boolean;
  rules: readonly RuleResult[];
};

export async function storeVerdict(db: Queryable, verdict: StoredVerdict): Promise<number> {
  const { rows } = await db.query<{ id: string }>(
    `INSERT INTO governor_verdicts
       (installation_id, repo, pull_number, head_sha, pack_revision, conclusion, description, target_url, governed, rules, agent)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
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
      verdict.agent,
    ],
  );
  return Number(rows[0]?.id);
}

type VerdictRow = {
  id: string;
  pull_number: number;
  head_sha: string;
  pack_revision: string;
  conclusion: Conclusion;
  description: string;
  target_url: string | null;
  governed: boolean;
  agent: boolean;
  rules: RuleResult[];
};

const VERDICT_COLUMNS = "id, pull_number, head_sha, pack_revision, conclusion, description, target_url, governed, agent, rules";

function fromRow(at: { installationId: number; repo: string }, row: VerdictRow): StoredVerdict & { id: number } {
  return {
    ...at,
    id: Number(row.id),
    pullNumber: row.pull_number,
    headSha: row.head_sha,
    packRevision: row.pack_revision,
    conclusion: row.conclusion,
    description: row.description,
    targetUrl: row.target_url ?? undefined,
    governed: row.governed,
    agent: row.agent,
    rules: row.rules,
  };
}

/**
 * The most recent verdict for a commit of the repository, whichever pull request it was evaluated for; an agent
 * pull request's verdict comes before any other. Only a fallback for a commit no open pull request has as its
 * head: the status of a commit is computed over all of them (`readCommitRecords`).
 */
export async function latestVerdictForSha(
  db: Queryable,
  at: { installationId: number; repo: string; headSha: string },
): Promise<(StoredVerdict & { id: number }) | undefined> {
  const { rows } = await db.query<VerdictRow>(
    `SELECT ${VERDICT_COLUMNS} FROM governor_verdicts
      WHERE installation_id = $1 AND repo = $2 AND head_sha = $3 ORDER BY agent DESC, id DESC LIMIT 1`,
    [at.installationId, at.repo, at.headSha],
  );
  return rows[0] ? fromRow(at, rows[0]) : undefined;
}

/** The most recent verdict one pull request was given at this head (what its close is judged by). */
export async function latestVerdictForPull(
  db: Queryable,
  at: { installationId: number; repo: string; pullNumber: number; headSha: string },
): Promise<(StoredVerdict & { id: number }) | undefined> {
  const { rows } = await db.query<VerdictRow>(
    `SELECT ${VERDICT_COLUMNS} FROM governor_verdicts
      WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4 ORDER BY id DESC LIMIT 1`,
    [at.installationId, at.repo, at.pullNumber, at.headSha],
  );
  return rows[0] ? fromRow(at, rows[0]) : undefined;
}

export type PullHead = {
  installationId: number;
  repo: string;
  pullNumber: number;
  headSha: string;
  agent: boolean;
  /** Whether the pull request is governed, as far as known (an evaluation may start before it is known: false). */
  governed: boolean;
  htmlUrl: string;
  /** True while an evaluation of this head runs: the pull request counts as `pending` at it. */
  evaluating: boolean;
};

/**
 * Records the pull request as open at `headSha`. Returns the head it was recorded at before when that was
 * another commit (a commit it has left, whose status must then be computed again).
 */
export async function recordPullHead(db: Queryable, head: PullHead): Promise<string | undefined> {
  // Two statements, not one: the caller holds the pull request's lock, so nothing changes the row in between.
  const before = await db.query<{ head_sha: string; open: boolean }>(
    "SELECT head_sha, open FROM governor_pulls WHERE installation_id = $1 AND repo = $2 AND pull_number = $3",
    [head.installationId, head.repo, head.pullNumber],
  );
  await db.query(
    `INSERT INTO governor_pulls (installation_id, repo, pull_number, head_sha, agent, governed, open, evaluating, html_url)
     VALUES ($1, $2, $3, $4, $5, $6, true, $7, $8)
     ON CONFLICT (installation_id, repo, pull_number) DO UPDATE
       SET head_sha = EXCLUDED.head_sha, agent = EXCLUDED.agent, governed = EXCLUDED.governed, open = true, merged = false,
           evaluating = EXCLUDED.evaluating, html_url = EXCLUDED.html_url, unconfirmed = false, updated_at = now()`,
    [head.installationId, head.repo, head.pullNumber, head.headSha, head.agent, head.governed, head.evaluating, head.htmlUrl],
  );
  const previous = before.rows[0];
  return previous?.open && previous.head_sha !== head.headSha ? previous.head_sha : undefined;
}

/**
 * Records the pull request as closed (merged by the merge button, or not); returns the head it was open at, or
 * undefined when it was not open here. A merged agent pull request keeps its final say at that head.
 */
export async function recordPullClosed(
  db: Queryable,
  at: { installationId: number; repo: string; pullNumber: number; merged: boolean },
): Promise<string | undefined> {
  const { rows } = await db.query<{ head_sha: string }>(
    `UPDATE governor_pulls SET open = false, evaluating = false, merged = $4, unconfirmed = false, updated_at = now()
      WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND open RETURNING head_sha`,
    [at.installationId, at.repo, at.pullNumber, at.merged],
  );
  return rows[0]?.head_sha;
}

/** A pull request migration 020 recorded as open without asking GitHub (migration 021 marks them). */
export type UnconfirmedPull = { installationId: number; repo: string; pullNumber: number; headSha: string };

/** Up to `limit` unconfirmed rows of installations that are present and not halted, oldest first. */
export async function listUnconfirmedPulls(db: Queryable, limit: number): Promise<UnconfirmedPull[]> {
  const { rows } = await db.query<{ installation_id: string; repo: string; pull_number: number; head_sha: string }>(
    `SELECT p.installation_id, p.repo, p.pull_number, p.head_sha FROM governor_pulls p
       LEFT JOIN installations i ON i.id = p.installation_id
      WHERE p.unconfirmed AND i.removed_at IS NULL AND i.halted_at IS NULL
      ORDER BY p.updated_at, p.pull_number LIMIT $1`,
    [limit],
  );
  return rows.map((row) => ({ installationId: Number(row.installation_id), repo: row.repo, pullNumber: row.pull_number, headSha: row.head_sha }));
}

/** GitHub confirmed the row: still open at the recorded head. False when the row changed meanwhile. */
export async function markPullConfirmed(db: Queryable, at: UnconfirmedPull): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE governor_pulls SET unconfirmed = false, updated_at = now()
      WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4 AND unconfirmed`,
    [at.installationId, at.repo, at.pullNumber, at.headSha],
  );
  return (rowCount ?? 0) > 0;
}

/** GitHub reports the pull request closed (or gone). False when the row changed meanwhile. */
export async function recordUnconfirmedPullClosed(db: Queryable, at: UnconfirmedPull, merged: boolean): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE governor_pulls SET open = false, evaluating = false, merged = $5, unconfirmed = false, updated_at = now()
      WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4 AND unconfirmed`,
    [at.installationId, at.repo, at.pullNumber, at.headSha, merged],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * GitHub reports the pull request open at another head than the recorded one: it no longer speaks for the
 * recorded commit, and at its new head it has no say until it is evaluated there. False when the row changed.
 */
export async function recordPullMoved(db: Queryable, at: UnconfirmedPull, newHead: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE governor_pulls SET head_sha = $5, evaluating = false, unconfirmed = false, updated_at = now()
      WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4 AND unconfirmed`,
    [at.installationId, at.repo, at.pullNumber, at.headSha, newHead],
  );
  return (rowCount ?? 0) > 0;
}

/** Whether the gate's record has the pull request open. */
export async function isPullRecordedOpen(db: Queryable, at: { installationId: number; repo: string; pullNumber: number }): Promise<boolean> {
  const { rows } = await db.query("SELECT 1 FROM governor_pulls WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND open", [
    at.installationId,
    at.repo,
    at.pullNumber,
  ]);
  return rows.length > 0;
}

/** Which of these pull requests the governor has judged as governed (each once, in order). */
export async function governedPulls(db: Queryable, among: { installationId: number; repo: string; pullNumbers: readonly number[] }): Promise<number[]> {
  const { rows } = await db.query<{ pull_number: number }>(
    `SELECT DISTINCT pull_number FROM governor_verdicts
      WHERE installation_id = $1 AND repo = $2 AND governed AND pull_number = ANY($3::int[]) ORDER BY pull_number`,
    [among.installationId, among.repo, among.pullNumbers],
  );
  return rows.map((row) => row.pull_number);
}

/** What one open pull request says about the commit that is its head. */
export type PullAtCommit = {
  pullNumber: number;
  agent: boolean;
  /** Whether it is governed as far as known (an evaluation may start before that is known: then false). */
  governed: boolean;
  htmlUrl: string | undefined;
  evaluating: boolean;
  /** Its latest verdict at this head, if it has one. */
  verdict: (StoredVerdict & { id: number }) | undefined;
};

export type CommitRecords = {
  /** Every open pull request whose recorded head is the commit. */
  pulls: PullAtCommit[];
  /** Agent pull requests merged (by a director) with the commit as their head: their final say stands. */
  merged: PullAtCommit[];
  /** Set when the commit is, or ever was, the head of an agent pull request, or a commit an agent task recorded. */
  agentCommit: { pullNumber: number | undefined } | undefined;
};

/** Everything the gate knows about one commit of a repository (read under the commit's lock). */
export async function readCommitRecords(db: Queryable, at: { installationId: number; repo: string; headSha: string }): Promise<CommitRecords> {
  const pulls = await db.query<
    VerdictRow & {
      p_pull_number: number;
      p_agent: boolean;
      p_governed: boolean;
      open: boolean;
      evaluating: boolean;
      html_url: string | null;
      id: string | null;
    }
  >(
    `SELECT p.pull_number AS p_pull_number, p.agent AS p_agent, p.governed AS p_governed, p.open, p.evaluating, p.html_url, v.*
       FROM governor_pulls p
       LEFT JOIN LATERAL (
         SELECT ${VERDICT_COLUMNS} FROM governor_verdicts v
          WHERE v.installation_id = p.installation_id AND v.repo = p.repo AND v.pull_number = p.pull_number AND v.head_sha = p.head_sha
          ORDER BY v.id DESC LIMIT 1
       ) v ON true
      WHERE p.installation_id = $1 AND p.repo = $2 AND p.head_sha = $3 AND (p.open OR (p.merged AND p.agent))
      ORDER BY p.pull_number`,
    [at.installationId, at.repo, at.headSha],
  );
  // An agent commit: the head of an agent PR now or at any verdict, or a commit the work loop recorded for a
  // task (Employees' task_commits, migration 007), whichever PR it was pushed to.
  const agent = await db.query<{ pull_number: number | null }>(
    `SELECT pull_number FROM (
       SELECT pull_number, 1 AS preference, id AS recency FROM governor_verdicts
        WHERE installation_id = $1 AND repo = $2 AND head_sha = $3 AND agent
       UNION ALL
       SELECT pull_number, 2, 0 FROM governor_pulls WHERE installation_id = $1 AND repo = $2 AND head_sha = $3 AND agent
       UNION ALL
       SELECT t.pr_number, 3, 0 FROM task_commits tc
         JOIN tasks t ON t.id = tc.task_id JOIN requirements r ON r.id = t.requirement_id
        WHERE r.installation_id = $1 AND r.repo = $2 AND tc.sha = $3
     ) found ORDER BY preference, recency DESC LIMIT 1`,
    [at.installationId, at.repo, at.headSha],
  );
  const found = agent.rows[0];
  const said = pulls.rows.map((row) => ({
    open: row.open,
    pull: {
      pullNumber: row.p_pull_number,
      agent: row.p_agent,
      governed: row.p_governed,
      htmlUrl: row.html_url ?? undefined,
      evaluating: row.evaluating,
      verdict: row.id === null ? undefined : fromRow(at, { ...row, id: row.id }),
    } satisfies PullAtCommit,
  }));
  return {
    pulls: said.filter((row) => row.open).map((row) => row.pull),
    merged: said.filter((row) => !row.open).map((row) => row.pull),
    agentCommit: found ? { pullNumber: found.pull_number ?? undefined } : undefined,
  };
}
