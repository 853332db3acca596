// Personal tokens: how a person is recognised by the MCP server over HTTP (and by `aura mcp` in AURA_MCP_TOKEN).
// A token is 32 random bytes, shown once at issue and stored only as the sha256 of its text. It names a person
// (GitHub login and user id) and nothing else: which repositories it reaches is decided at each use, from what
// that person directs then (access.ts). Issuing and revoking are audited in the same transaction as the change.
import { createHash, randomBytes } from "node:crypto";
import type pg from "pg";
import { appendEvents } from "../audit/append.js";
import { inTransaction } from "../core/transitions.js";

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

/** Every personal token starts with this, so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = "aura_pt_";
const TOKEN_TEXT = /^aura_pt_[A-Za-z0-9_-]{43}$/;

export type Person = { login: string; userId: number };

export type TokenRecord = {
  id: number;
  login: string;
  userId: number;
  label: string;
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
};

export type Authenticated = { ok: true; person: Person; tokenId: number };
export type Refused = { ok: false; reason: "malformed" | "unknown" | "revoked"; message: string };

type TokenRow = {
  id: string;
  github_login: string;
  github_user_id: string;
  label: string;
  created_by: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
};

const COLUMNS = "id, github_login, github_user_id, label, created_by, created_at, last_used_at, revoked_at, revoked_by";

function recordOf(row: TokenRow): TokenRecord {
  return {
    id: Number(row.id),
    login: row.github_login,
    userId: Number(row.github_user_id),
    label: row.label,
    createdBy: row.created_by,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
  };
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Issues a token for `person`; the returned `token` is the only time its text exists outside the caller. */
export async function issueToken(pool: pg.Pool, input: { person: Person; label?: string; by: string }): Promise<{ token: string; record: TokenRecord }> {
  const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
  const label = (input.label ?? "").trim().slice(0, 100);
  const record = await inTransaction(pool, async (client) => {
    const { rows } = await client.query<TokenRow>(
      `INSERT INTO personal_tokens (github_login, github_user_id, label, token_sha256, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
      [input.person.login, input.person.userId, label, hashToken(token), input.by],
    );
    const created = recordOf(rows[0] as TokenRow);
    await appendEvents(client, [
      {
        actor: input.by,
        action: "console.token_issued",
        subject: `user:${input.person.userId}`,
        payload: { tokenId: created.id, login: input.person.login, label },
      },
    ]);
    return created;
  });
  return { token, record };
}

/**
 * Revokes a token. With `ownerUserId`, only that person's token (a person revokes their own; another's id is
 * not found). Undefined when no such token; revoking a revoked token changes nothing and records nothing again.
 */
export async function revokeToken(pool: pg.Pool, input: { id: number; by: string; ownerUserId?: number }): Promise<TokenRecord | undefined> {
  return inTransaction(pool, async (client) => {
    const { rows } = await client.query<TokenRow>(
      `SELECT ${COLUMNS} FROM personal_tokens WHERE id = $1 AND ($2::bigint IS NULL OR github_user_id = $2) FOR UPDATE`,
      [input.id, input.ownerUserId ?? null],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (row.revoked_at !== null) return recordOf(row);
    const updated = await client.query<TokenRow>(`UPDATE personal_tokens SET revoked_at = now(), revoked_by = $2 WHERE id = $1 RETURNING ${COLUMNS}`, [
      input.id,
      input.by,
    ]);
    const revoked = recordOf(updated.rows[0] as TokenRow);
    await appendEvents(client, [
      { actor: input.by, action: "console.token_revoked", subject: `user:${revoked.userId}`, payload: { tokenId: revoked.id, login: revoked.login } },
    ]);
    return revoked;
  });
}

/** Tokens, newest first: one person's with `userId`, else every token (operators). Never the token text. */
export async function listTokens(db: Queryable, filter: { userId?: number } = {}): Promise<TokenRecord[]> {
  const { rows } = await db.query<TokenRow>(`SELECT ${COLUMNS} FROM personal_tokens WHERE ($1::bigint IS NULL OR github_user_id = $1) ORDER BY id DESC`, [
    filter.userId ?? null,
  ]);
  return rows.map(recordOf);
}

/**
 * The person a token names, or why it is refused. A good token's last use is recorded (at most once a minute,
 * so a busy client does not write on every request).
 */
export async function authenticateToken(db: Queryable, token: string): Promise<Authenticated | Refused> {
  if (!TOKEN_TEXT.test(token)) {
    return { ok: false, reason: "malformed", message: `This is not an Aura personal token (they start with ${TOKEN_PREFIX}). Issue one in the console.` };
  }
  const { rows } = await db.query<TokenRow>(`SELECT ${COLUMNS} FROM personal_tokens WHERE token_sha256 = $1`, [hashToken(token)]);
  const row = rows[0];
  if (!row) return { ok: false, reason: "unknown", message: "This personal token is not known here. Issue a new one in the console." };
  if (row.revoked_at !== null) {
    return { ok: false, reason: "revoked", message: `This personal token (id ${row.id}) was revoked. Issue a new one in the console.` };
  }
  await db.query("UPDATE personal_tokens SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')", [
    row.id,
  ]);
  return { ok: true, person: { login: row.github_login, userId: Number(row.github_user_id) }, tokenId: Number(row.id) };
}
