// The refusal throttle: someone who is not a director gets a reaction on every command, but at most one
// reply per issue per hour, so a stream of commands cannot make the app flood an issue.
import type pg from "pg";

export const REFUSAL_REPLY_EVERY_MS = 3_600_000;

/**
 * Claims the right to reply to this user on this issue now: true when no reply went out in the last hour
 * (and records this one), false otherwise. Atomic, so two concurrent jobs never both reply.
 */
export async function claimRefusalReply(
  client: Pick<pg.PoolClient, "query">,
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
