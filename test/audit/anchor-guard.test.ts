// Migration 016: audit.add_anchor records only a hash the chain really has, and only the app's own roles may
// call it. Before it, any role could add an anchor with any hash, and one bogus row failed verify for good.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import nock from "nock";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeAnchor } from "../../src/audit/anchor.js";
import { appendEvents } from "../../src/audit/append.js";
import { verifyAudit } from "../../src/audit/verify.js";
import { createPool } from "../../src/db/pool.js";
import { refreshStatusComment } from "../../src/core/status-comment.js";
import { asAdmin, createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { GITHUB_API, mockInstallationTokens } from "../helpers/harness.js";
import { insertRequirement, testServices } from "../helpers/services.js";

let db: TestDatabase;
/** A pool whose every connection is the app's role (the test cluster's admin may start sessions as any role). */
let appPool: pg.Pool;
const dir = mkdtempSync(path.join(os.tmpdir(), "aura-anchor-guard-"));
const events = (n: number) => Array.from({ length: n }, (_, i) => ({ actor: "a", action: "t.done", subject: `s-${i}`, payload: { i } }));

function asRoleUrl(url: string, role: string): string {
  const withRole = new URL(url);
  withRole.searchParams.set("options", `-c role=${role}`);
  return withRole.toString();
}

const refusal = (work: Promise<unknown>) =>
  work.then(
    () => "accepted",
    (error: Error) => error.message,
  );

beforeAll(async () => {
  db = await createTestDatabase();
  await asAdmin((admin) =>
    admin.query(`DO $$ BEGIN CREATE ROLE aura_test_stranger NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`),
  );
  appPool = createPool(asRoleUrl(db.url, "aura_app"), { max: 2 });
  await appendEvents(db.pool, events(5));
});

afterAll(async () => {
  await appPool.end();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("audit.add_anchor (migration 016)", () => {
  it("refuses the app's role an anchor whose hash is not the stored event's hash, and verify still passes", async () => {
    const head = (await appPool.query<{ seq: number; hash: Buffer }>("SELECT seq, hash FROM audit.head")).rows[0];
    const bogus = Buffer.alloc(32, 0xab);

    const wrongHash = await refusal(appPool.query("SELECT audit.add_anchor($1, $2, 'file:/tmp/bogus.json')", [head?.seq, bogus]));
    const noSuchEvent = await refusal(appPool.query("SELECT audit.add_anchor(999, $1, 'file:/tmp/bogus.json')", [head?.hash]));
    const result = await verifyAudit(db.pool);

    expect((await appPool.query("SELECT current_user AS role")).rows).toEqual([{ role: "aura_app" }]);
    expect(wrongHash).toBe(`audit anchor refused: hash ${"ab".repeat(32)} is not the stored hash of audit event 5 (${head?.hash.toString("hex")})`);
    expect(noSuchEvent).toBe("audit anchor refused: no stored audit event has seq 999");
    expect((await db.pool.query("SELECT count(*)::int AS n FROM audit.anchors")).rows).toEqual([{ n: 0 }]);
    expect(result).toMatchObject({ ok: true, count: 5, anchorsChecked: 0 });
  });

  it("is executable by the app's role and the owner only: PUBLIC and any other role are refused", async () => {
    const head = (await db.pool.query<{ seq: number; hash: Buffer }>("SELECT seq, hash FROM audit.head")).rows[0];
    const stranger = createPool(asRoleUrl(db.url, "aura_test_stranger"), { max: 1 });
    try {
      const attempt = await refusal(stranger.query("SELECT audit.add_anchor($1, $2, 'file:/tmp/x.json')", [head?.seq, head?.hash]));
      const { rows } = await db.pool.query(
        `SELECT has_function_privilege('aura_app', 'audit.add_anchor(bigint, bytea, text)', 'EXECUTE') AS app,
                EXISTS (SELECT 1 FROM pg_proc p, aclexplode(p.proacl) a
                        WHERE p.oid = 'audit.add_anchor(bigint, bytea, text)'::regprocedure AND a.grantee = 0) AS public`,
      );

      expect(attempt).toBe("permission denied for function add_anchor");
      expect(rows).toEqual([{ app: true, public: false }]);
    } finally {
      await stranger.end();
    }
  });

  it("still records the anchors of the app's own paths, status comment and anchor file, which verify checks", async () => {
    const services = { ...testServices(db), pool: appPool };
    const { requirementId } = await insertRequirement(db, { tasks: [{ key: "a" }] });
    await db.pool.query("UPDATE requirements SET status_comment_id = 555 WHERE id = $1", [requirementId]);
    mockInstallationTokens();
    const patched = nock(GITHUB_API).patch("/repos/octo-org/widgets/issues/comments/555").reply(200, { id: 555 });

    await refreshStatusComment(services, requirementId);
    const file = await writeAnchor(appPool, path.join(dir, "anchor.json"));
    const result = await verifyAudit(db.pool);

    const { rows } = await db.pool.query("SELECT seq, location FROM audit.anchors ORDER BY id");
    expect(patched.isDone()).toBe(true);
    expect(rows).toEqual([
      { seq: 5, location: "comment:octo-org/widgets#7" },
      { seq: 5, location: `file:${path.join(dir, "anchor.json")}` },
    ]);
    expect(file.seq).toBe(5);
    expect(result).toMatchObject({ ok: true, anchorsChecked: 2 });
  });
});
