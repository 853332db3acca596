import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkAppRole } from "../../src/db/app-role.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

/** Runs `work` on one connection as `role` (the test database's admin may become any role). */
async function asRole<T>(role: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await db.pool.connect();
  try {
    await client.query(`SET ROLE ${role}`);
    return await work(client);
  } finally {
    await client.query("RESET ROLE");
    client.release();
  }
}

describe("migration 011: the aura_app role", () => {
  it("may use the application tables, including tables created by later migrations", async () => {
    await db.pool.query("CREATE TABLE later_feature (id bigserial PRIMARY KEY, note text)");

    const inserted = await asRole("aura_app", async (client) => {
      return (await client.query("INSERT INTO later_feature (note) VALUES ('new table') RETURNING id")).rows;
    });

    expect(inserted).toEqual([{ id: 1 }]);
  });

  it("may not create tables, write the audit log directly or change the ledgers", async () => {
    const attempts = await asRole("aura_app", async (client) => {
      const outcomes: string[] = [];
      await client.query("BEGIN");
      for (const sql of [
        "CREATE TABLE public.sneaky (id int)",
        "INSERT INTO audit.events (seq, ts, prev_hash, hash, canonical) VALUES (999999, now(), '\\x00', '\\x00', '{}')",
        "INSERT INTO audit.anchors (seq, hash, location) VALUES (1, '\\x00', 'x')",
        "UPDATE strike_ledger SET rule_id = rule_id",
        "DELETE FROM aura_migrations",
      ]) {
        await client.query("SAVEPOINT attempt");
        outcomes.push(
          await client.query(sql).then(
            () => "accepted",
            (error: Error) => error.message,
          ),
        );
        await client.query("ROLLBACK TO SAVEPOINT attempt");
      }
      await client.query("ROLLBACK");
      return outcomes;
    });

    expect(attempts).toHaveLength(5);
    for (const outcome of attempts) expect(outcome).toMatch(/permission denied/);
  });
});

describe("checkAppRole", () => {
  it("finds nothing to warn about for aura_app", async () => {
    const check = await asRole("aura_app", (client) => checkAppRole(client));

    expect(check).toEqual({ role: "aura_app", superuser: false, ownsAudit: false, canInsertAudit: false, warnings: [] });
  });

  it("warns when the role is a superuser", async () => {
    const check = await checkAppRole(db.pool);

    expect(check.superuser).toBe(true);
    expect(check.warnings[0]).toMatch(/is a superuser/);
  });

  it("warns when the role owns the audit log or may insert into it", async () => {
    await db.pool.query(`DO $$ BEGIN CREATE ROLE aura_test_inserter; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    await db.pool.query("GRANT INSERT ON audit.events TO aura_test_inserter");

    const owner = await asRole("aura_audit_owner", (client) => checkAppRole(client));
    const inserter = await asRole("aura_test_inserter", (client) => checkAppRole(client));

    expect(owner).toMatchObject({ superuser: false, ownsAudit: true });
    expect(owner.warnings[0]).toMatch(/owns audit\.events/);
    expect(inserter).toMatchObject({ ownsAudit: false, canInsertAudit: true });
    expect(inserter.warnings[0]).toMatch(/may INSERT into audit\.events directly/);
  });
});
