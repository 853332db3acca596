// Personal tokens on a real database: shown once and stored hashed, authenticated to their person, revocable
// (by their person only, unless an operator), with their uses and both changes recorded.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticateToken, issueToken, listTokens, revokeToken, TOKEN_PREFIX } from "../../src/console/tokens.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { setUp } from "../helpers/harness.js";

let database: TestDatabase | undefined;
const db = () => setUp(database, "database is created in beforeAll");
const OCTOCAT = { login: "octocat", userId: 583231 };
const HUBOT = { login: "hubot", userId: 480938 };

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

describe("personal tokens", () => {
  it("are 32 random bytes shown once and stored only as their sha256, and authenticate their person", async () => {
    const { token, record } = await issueToken(db().pool, { person: OCTOCAT, label: "laptop IDE", by: "octocat" });

    const stored = await db().pool.query<{ token_sha256: string }>("SELECT token_sha256 FROM personal_tokens WHERE id = $1", [record.id]);
    const auth = await authenticateToken(db().pool, token);
    const dump = JSON.stringify((await db().pool.query("SELECT * FROM personal_tokens")).rows);

    expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
    expect(Buffer.from(token.slice(TOKEN_PREFIX.length), "base64url")).toHaveLength(32);
    expect(stored.rows[0]?.token_sha256).toBe(createHash("sha256").update(token).digest("hex"));
    expect(dump).not.toContain(token.slice(TOKEN_PREFIX.length));
    expect(auth).toEqual({ ok: true, person: OCTOCAT, tokenId: record.id });
    expect(record).toMatchObject({ login: "octocat", userId: 583231, label: "laptop IDE", createdBy: "octocat", revokedAt: null });
  });

  it("record their last use", async () => {
    const { token, record } = await issueToken(db().pool, { person: OCTOCAT, by: "octocat" });

    await authenticateToken(db().pool, token);

    const listed = (await listTokens(db().pool, { userId: OCTOCAT.userId })).find((entry) => entry.id === record.id);
    expect(listed?.lastUsedAt).toBeInstanceOf(Date);
  });

  it("refuse a malformed, an unknown and a revoked token, each saying what to do", async () => {
    const { token, record } = await issueToken(db().pool, { person: OCTOCAT, by: "octocat" });

    await revokeToken(db().pool, { id: record.id, by: "octocat", ownerUserId: OCTOCAT.userId });

    expect(await authenticateToken(db().pool, "ghp_notours")).toMatchObject({ ok: false, reason: "malformed" });
    expect(await authenticateToken(db().pool, `${TOKEN_PREFIX}${"x".repeat(43)}`)).toMatchObject({ ok: false, reason: "unknown" });
    const revoked = await authenticateToken(db().pool, token);
    expect(revoked).toMatchObject({ ok: false, reason: "revoked" });
    expect(revoked.ok ? "" : revoked.message).toContain("Issue a new one in the console");
  });

  it("can be revoked by their own person only (another's id is not found), or by an operator; a second revoke changes nothing", async () => {
    const { token, record } = await issueToken(db().pool, { person: OCTOCAT, by: "octocat" });

    const byOther = await revokeToken(db().pool, { id: record.id, by: "hubot", ownerUserId: HUBOT.userId });
    const stillGood = await authenticateToken(db().pool, token);
    const byOperator = await revokeToken(db().pool, { id: record.id, by: "operator" });
    const again = await revokeToken(db().pool, { id: record.id, by: "someone-else" });

    expect(byOther).toBeUndefined();
    expect(stillGood.ok).toBe(true);
    expect(byOperator).toMatchObject({ revokedBy: "operator" });
    expect(again?.revokedBy).toBe("operator");
    expect(await revokeToken(db().pool, { id: 999_999, by: "operator" })).toBeUndefined();
  });

  it("are listed per person without their text, newest first", async () => {
    await issueToken(db().pool, { person: HUBOT, label: "ci", by: "hubot" });

    const hubots = await listTokens(db().pool, { userId: HUBOT.userId });
    const all = await listTokens(db().pool);

    expect(hubots.map((entry) => [entry.login, entry.label])).toEqual([["hubot", "ci"]]);
    expect(all.length).toBeGreaterThan(hubots.length);
    expect(all.map((entry) => entry.id)).toEqual([...all.map((entry) => entry.id)].sort((a, b) => b - a));
    expect(JSON.stringify(all)).not.toContain(TOKEN_PREFIX);
  });

  it("write an audit event on issue and on revoke, naming the token and its person but never the token", async () => {
    const { token, record } = await issueToken(db().pool, { person: HUBOT, label: "audit me", by: "hubot" });
    await revokeToken(db().pool, { id: record.id, by: "hubot", ownerUserId: HUBOT.userId });
    await revokeToken(db().pool, { id: record.id, by: "hubot", ownerUserId: HUBOT.userId });

    const { rows } = await db().pool.query<{ actor: string; action: string; subject: string; payload: { tokenId: number }; canonical: string }>(
      "SELECT actor, action, subject, payload, canonical FROM audit.events WHERE subject = $1 AND (payload->>'tokenId')::bigint = $2 ORDER BY seq",
      [`user:${HUBOT.userId}`, record.id],
    );

    expect(rows.map((row) => [row.actor, row.action])).toEqual([
      ["hubot", "console.token_issued"],
      ["hubot", "console.token_revoked"],
    ]);
    expect(rows.some((row) => row.canonical.includes(token.slice(TOKEN_PREFIX.length)))).toBe(false);
  });
});
