import { cpSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { migrate, migrationsDir } from "../../src/db/migrate.js";
import { createTestDatabase } from "../helpers/database.js";

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
