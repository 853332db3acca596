// `aura token issue <login> [--label TEXT] [--user-id N]`, `aura token revoke <id>` and `aura token list
// [<login>]`: personal tokens from the operator's command line (the console's Tokens page does the same for a
// signed-in person). The person's user id is asked of GitHub's public user endpoint unless given.
import { parseArgs } from "node:util";
import { Octokit } from "@octokit/rest";
import type pg from "pg";
import { issueToken, listTokens, revokeToken } from "./tokens.js";

export const TOKEN_USAGE = `token issue <login> [--label TEXT] [--user-id N] | token revoke <id> | token list [<login>]`;

const LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/;

/** Runs one `aura token …` command; returns the exit code. `operator` is who the audit records as acting. */
export async function runTokenCommand(
  pool: pg.Pool,
  argv: readonly string[],
  io: { out: NodeJS.WritableStream; githubApiUrl: string; operator: string },
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: { label: { type: "string" }, "user-id": { type: "string" } },
  });
  const [sub, target] = positionals;
  if (sub === "issue" && target && LOGIN.test(target)) {
    const userId = values["user-id"] === undefined ? await lookUpUserId(target, io.githubApiUrl) : Number(values["user-id"]);
    if (!Number.isSafeInteger(userId) || userId <= 0) {
      io.out.write(`Could not find the GitHub user ${target}'s id; pass it with --user-id N.\n`);
      return 2;
    }
    const { token, record } = await issueToken(pool, { person: { login: target, userId }, label: values.label, by: io.operator });
    io.out.write(`Issued token ${record.id} for @${target} (user id ${userId}). It is shown only now:\n${token}\n`);
    return 0;
  }
  if (sub === "revoke" && target && /^\d+$/.test(target)) {
    const revoked = await revokeToken(pool, { id: Number(target), by: io.operator });
    io.out.write(revoked ? `Token ${revoked.id} of @${revoked.login} is revoked (since ${revoked.revokedAt?.toISOString()}).\n` : `No token ${target}.\n`);
    return revoked ? 0 : 1;
  }
  if (sub === "list" && (target === undefined || LOGIN.test(target))) {
    const tokens = (await listTokens(pool)).filter((entry) => target === undefined || entry.login.toLowerCase() === target.toLowerCase());
    for (const entry of tokens) {
      const state = entry.revokedAt ? `revoked ${entry.revokedAt.toISOString()} by ${entry.revokedBy}` : "active";
      const used = entry.lastUsedAt ? entry.lastUsedAt.toISOString() : "never";
      io.out.write(
        `${entry.id}\t@${entry.login}\t${entry.label || "-"}\tcreated ${entry.createdAt.toISOString()} by ${entry.createdBy}\tlast used ${used}\t${state}\n`,
      );
    }
    if (tokens.length === 0) io.out.write("No personal tokens.\n");
    return 0;
  }
  io.out.write(`Usage: aura ${TOKEN_USAGE}\n`);
  return 2;
}

async function lookUpUserId(login: string, baseUrl: string): Promise<number> {
  try {
    const { data } = await new Octokit({ baseUrl }).request("GET /users/{username}", { username: login });
    return typeof data.id === "number" ? data.id : Number.NaN;
  } catch (error) {
    if ((error as { status?: number }).status === 404) return Number.NaN;
    throw error;
  }
}
