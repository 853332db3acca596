// A fresh, migrated database per test file on the run's PostgreSQL server.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { runMigrations as runGraphileMigrations } from "graphile-worker";
import { inject } from "vitest";
import { migrate } from "../../src/db/migrate.js";
import { createPool } from "../../src/db/pool.js";

export type TestDatabase = { url: string; pool: pg.Pool; drop: () => Promise<void> };

export function adminUrl(): string {
  return inject("adminDatabaseUrl");
}

export function databaseUrlFor(name: string): string {
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs `fn` on a connection to the run's PostgreSQL server as its superuser, then closes it. */
export async function asAdmin<T>(fn: (admin: pg.Client) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Ends the sessions of `db` that hold a session lock of `namespace` (trySessionLock's first key), as a server
 * restart or idle_session_timeout would; returns how many it ended.
 */
export async function endLockSessions(db: TestDatabase, namespace: string): Promise<number> {
  const { rows } = await asAdmin((admin) =>
    admin.query(
      `SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
       WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND d.datname = $1
         AND l.classid::bigint = (hashtext($2)::bigint & 4294967295)`,
      [new URL(db.url).pathname.slice(1), namespace],
    ),
  );
  return rows.length;
}

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `aura_test_${randomBytes(6).toString("hex")}`;
  await asAdmin((admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = databaseUrlFor(name);
  if (options.migrate !== false) {
    await migrate(url);
    await runGraphileMigrations({ connectionString: url });
  }
  const pool = createPool(url, { max: 12 });
  return {
    url,
    pool,
    drop: async () => {
      await pool.end();
      await asAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
