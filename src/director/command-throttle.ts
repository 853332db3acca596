// The per-person throttle on `/aura` commands: each person (per installation) may send COMMAND_LIMIT commands in
// any COMMAND_WINDOW_MS; beyond that their commands are ignored (no reaction, no reply, no audit event each), except
// for one notice and one audit event per window. Counted in the database (`director_command_log`, migration 019),
// so the limit holds across replicas; a command comment counts once however often its delivery is retried.
import type pg from "pg";
import { claimThrottleNotice, commandPlaceInWindow, forgetCommandsBefore, lockCommandCount, logCommand } from "./store.js";

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
  const author = { installationId: input.installationId, login: input.login.toLowerCase() };
  const windowSeconds = COMMAND_WINDOW_MS / 1000;
  await lockCommandCount(client, author);
  await forgetCommandsBefore(client, author, input.now, windowSeconds);
  await logCommand(client, author, input.commentId, input.now);
  const place = await commandPlaceInWindow(client, input, windowSeconds);
  if (place <= COMMAND_LIMIT) return { throttled: false };
  const notify = await claimThrottleNotice(client, author, input.now, windowSeconds);
  return { throttled: true, notify, commandsInWindow: place };
}

/** The one notice per window to someone over the limit: what happened, and what to do. */
export function throttleNotice(login: string): string {
  const minutes = COMMAND_WINDOW_MS / 60_000;
  return `@${login}, Aura is ignoring your \`/aura\` commands for now: you sent more than ${COMMAND_LIMIT} in ${minutes} minutes. Nothing was changed by the commands that were ignored, and further ones get no reaction or reply. Wait ${minutes} minutes without sending commands, then send the one you need again.`;
}
