// The per-person throttle on `/aura` commands: each person (per installation) may send COMMAND_LIMIT commands in
// any COMMAND_WINDOW_MS; beyond that their commands are ignored (no reaction, no reply, no audit event each), except
// for one notice and one audit event per window. Counted in the database (`director_command_log`, migration 019),
// so the limit holds across replicas; a command comment counts once however often its delivery is retried.
import type pg from "pg";

export const COMMAND_LIMIT = 20;
export const COMMAND_WINDOW_MS = 10 * 60_000;

type Queryable = Pick<pg.PoolClient, "query">;

export type ThrottleDecision =
  | { throttled: false }
  /** `notify`: this is the first command over the limit in the window; it alone gets a notice and an audit event. */
  | { throttled: true; notify: boolean; commandsInWindow: number };

/**
 * Counts this command comment for its author and decides whether it is over the limit. Runs inside the caller's
 * transaction; one person's commands are counted one at a time (a transaction-scoped advisory lock).
 */
export async function countCommand(
  client: Queryable,
  input: { installationId: number; commentId: number; login: string; now: Date },
): Promise<ThrottleDecision> {
  const login = input.login.toLowerCase();
  const windowSeconds = COMMAND_WINDOW_MS / 1000;
  await client.query("SELECT pg_advisory_xact_lock(hashtextextended('aura:command-throttle:' || $1 || ':' || $2, 0))", [input.installationId, login]);
  await client.query("DELETE FROM director_command_log WHERE installation_id = $1 AND login = $2 AND seen_at <= $3::timestamptz - make_interval(secs => $4)", [
    input.installationId,
    login,
    input.now,
    windowSeconds,
  ]);
  await client.query(
    "INSERT INTO director_command_log (installation_id, comment_id, login, seen_at) VALUES ($1, $2, $3, $4) ON CONFLICT (installation_id, comment_id) DO NOTHING",
    [input.installationId, input.commentId, login, input.now],
  );
  // This command's place among the person's commands in the window that ends at it (stable for a retried job).
  const { rows } = await client.query<{ place: string }>(
    `SELECT count(*) AS place FROM director_command_log l, director_command_log self
      WHERE self.installation_id = $1 AND self.comment_id = $2
        AND l.installation_id = $1 AND l.login = self.login
        AND l.seen_at > self.seen_at - make_interval(secs => $3)
        AND (l.seen_at, l.comment_id) <= (self.seen_at, self.comment_id)`,
    [input.installationId, input.commentId, windowSeconds],
  );
  const place = Number(rows[0]?.place ?? 0);
  if (place <= COMMAND_LIMIT) return { throttled: false };
  const notice = await client.query(
    `INSERT INTO director_throttle_notices (installation_id, login, noticed_at) VALUES ($1, $2, $3)
     ON CONFLICT (installation_id, login) DO UPDATE SET noticed_at = EXCLUDED.noticed_at
       WHERE director_throttle_notices.noticed_at <= EXCLUDED.noticed_at - make_interval(secs => $4)
     RETURNING 1`,
    [input.installationId, login, input.now, windowSeconds],
  );
  return { throttled: true, notify: (notice.rowCount ?? 0) > 0, commandsInWindow: place };
}

/** The one notice per window to someone over the limit: what happened, and what to do. */
export function throttleNotice(login: string): string {
  const minutes = COMMAND_WINDOW_MS / 60_000;
  return `@${login}, Aura is ignoring your \`/aura\` commands for now: you sent more than ${COMMAND_LIMIT} in ${minutes} minutes. Nothing was changed by the commands that were ignored, and further ones get no reaction or reply. Wait ${minutes} minutes without sending commands, then send the one you need again.`;
}
