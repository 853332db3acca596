import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { migrate, migrationsDir } from "../../src/db/migrate.js";
import { asAdmin, createTestDatabase } from "../helpers/database.js";

describe("migrations", () => {
  it("are applied exactly once when two replicas start together", async () => {
    const db = await createTestDatabase({ migrate: false });
    try {
      const [a, b] = await Promise.all([migrate(db.url), migrate(db.url)]);

      const all = readdirSync(migrationsDir)
        .filter((f) => f.endsWith(".sql"))
        .sort();
      expect([...a, ...b].sort()).toEqual(all);
      const rows = await db.pool.query("SELECT count(*)::int AS n FROM aura_migrations");
      expect(rows.rows[0].n).toBe(all.length);
    } finally {
      await db.drop();
    }
  });

  it("refuse to run when an applied migration was edited", async () => {
    const db = await createTestDatabase({ migrate: false });
    const dir = mkdtempSync(path.join(os.tmpdir(), "aura-migrations-"));
    try {
      cpSync(migrationsDir, dir, { recursive: true });
      await migrate(db.url, dir);
      writeFileSync(path.join(dir, "002-webhook-inbox.sql"), "-- edited\nSELECT 1;\n");

      await expect(migrate(db.url, dir)).rejects.toThrow(
        "Migration 002-webhook-inbox.sql was changed after it was applied. Applied migrations are never edited",
      );
    } finally {
      await db.drop();
    }
  });

  it("apply a migration that creates a role while another database on the server creates the same role", async () => {
    // Roles are the cluster's, the migration lock is the database's: two databases (eval slots, test files)
    // migrating at once both find the role missing, and the second `CREATE ROLE` waits for the first and fails.
    const role = `aura_race_${randomBytes(4).toString("hex")}`;
    const [first, second] = [await createTestDatabase({ migrate: false }), await createTestDatabase({ migrate: false })];
    const dir = mkdtempSync(path.join(os.tmpdir(), "aura-migrations-"));
    writeFileSync(
      path.join(dir, "001-role.sql"),
      `DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role}') THEN CREATE ROLE ${role} NOLOGIN; END IF; END $$;\nCREATE TABLE after_role (id int);`,
    );
    const holder = await first.pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query(`CREATE ROLE ${role} NOLOGIN`);
      const migrating = migrate(second.url, dir);
      // The second database's CREATE ROLE is now waiting on the first's uncommitted one.
      for (let waited = 0; ; waited += 20) {
        const { rows } = await first.pool.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%CREATE ROLE%'",
        );
        if (rows[0].n > 0) break;
        if (waited > 10_000) throw new Error("the second migration never waited on the role");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await holder.query("COMMIT");

      expect(await migrating).toEqual(["001-role.sql"]);
      const tables = await second.pool.query("SELECT to_regclass('after_role') AS t");
      expect(tables.rows[0]).toEqual({ t: "after_role" });
    } finally {
      holder.release();
      await first.drop();
      await second.drop();
      await asAdmin((admin) => admin.query(`DROP ROLE IF EXISTS ${role}`));
    }
  });

  it("roll back a failing migration and name it", async () => {
    const db = await createTestDatabase({ migrate: false });
    const dir = mkdtempSync(path.join(os.tmpdir(), "aura-migrations-"));
    try {
      writeFileSync(path.join(dir, "001-good.sql"), "CREATE TABLE good (id int);");
      writeFileSync(path.join(dir, "002-bad.sql"), "CREATE TABLE bad (id int); SELECT no_such_function();");

      await expect(migrate(db.url, dir)).rejects.toThrow(/Migration 002-bad\.sql failed: function no_such_function\(\) does not exist/);
      const tables = await db.pool.query("SELECT to_regclass('good') AS good, to_regclass('bad') AS bad");
      expect(tables.rows[0]).toEqual({ good: "good", bad: null });
    } finally {
      await db.drop();
    }
  });
});
