// Applies the SQL files in db/migrations in name order, each in its own transaction, under a session
// advisory lock so that replicas starting together apply each migration exactly once. An applied file whose
// text has changed is refused: migrations are append-only.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { openClient } from "./pool.js";

export const migrationsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../db/migrations");

/** A lock id of our own, so the migration lock never collides with the leader lock. */
const MIGRATION_LOCK = 7_261_001;

export class MigrationError extends Error {
  override name = "MigrationError";
}

export type Migration = { name: string; sql: string; checksum: string };

export function loadMigrations(dir = migrationsDir): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d{3,}-[a-z0-9-]+\.sql$/.test(file))
    .sort()
    .map((name) => {
      const sql = readFileSync(path.join(dir, name), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    });
}

const ROLE_RACE_ATTEMPTS = 3;

/** A unique violation on the cluster's role names, or a duplicate role: another database's migration made it first. */
function roleCreatedMeanwhile(error: unknown): boolean {
  const { code, constraint, message } = (error ?? {}) as { code?: string; constraint?: string; message?: string };
  return (code === "23505" && constraint === "pg_authid_rolname_index") || (code === "42710" && /^role ".*" already exists$/.test(message ?? ""));
}

/** Applies pending migrations; returns the names applied by this call. */
export async function migrate(databaseUrl: string, dir = migrationsDir): Promise<string[]> {
  const migrations = loadMigrations(dir);
  const client = await openClient(databaseUrl);
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS aura_migrations (
      name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const applied = new Map(
      (await client.query<{ name: string; checksum: string }>("SELECT name, checksum FROM aura_migrations")).rows.map((row) => [row.name, row.checksum]),
    );
    const done: string[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.name);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new MigrationError(
            `Migration ${migration.name} was changed after it was applied. Applied migrations are never edited: ` +
              "restore the file and add a new migration instead.",
          );
        }
        continue;
      }
      for (let attempt = 1; ; attempt++) {
        await client.query("BEGIN");
        try {
          await client.query(migration.sql);
          await client.query("INSERT INTO aura_migrations (name, checksum) VALUES ($1, $2)", [migration.name, migration.checksum]);
          await client.query("COMMIT");
          break;
        } catch (error) {
          await client.query("ROLLBACK");
          // Roles belong to the cluster while the lock above is the database's: another database on the same server
          // (an eval slot, a test) creating the same role at the same moment fails this one's `CREATE ROLE` although
          // it checked first. Run again, the migration then finds the role.
          if (roleCreatedMeanwhile(error) && attempt < ROLE_RACE_ATTEMPTS) continue;
          throw new MigrationError(`Migration ${migration.name} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      done.push(migration.name);
    }
    return done;
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
}

/** True when every migration file has been applied (used by /ready). */
export async function isMigrated(pool: pg.Pool, dir = migrationsDir): Promise<boolean> {
  const names = loadMigrations(dir).map((m) => m.name);
  const result = await pool.query<{ count: string }>("SELECT count(*) FROM aura_migrations WHERE name = ANY($1::text[])", [names]);
  return Number(result.rows[0]?.count) === names.length;
}
