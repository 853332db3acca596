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

export async function createTestDatabase(options: { migrate?: boolean } = {}): Promise<TestDatabase> {
  const name = `aura_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
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
      const client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
