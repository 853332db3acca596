// A session advisory lock knows when PostgreSQL dropped it with its connection, so the job holding it can stop.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trySessionLock } from "../../src/db/advisory-lock.js";
import { adminUrl, createTestDatabase, type TestDatabase } from "../helpers/database.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
});

afterAll(async () => {
  await db.drop();
});

/** Ends the sessions holding advisory locks in this test's database, as a server-side timeout would. */
async function terminateLockHolders(): Promise<number> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ ended: boolean }>(
      `SELECT pg_terminate_backend(l.pid) AS ended FROM pg_locks l JOIN pg_database d ON d.oid = l.database
       WHERE l.locktype = 'advisory' AND d.datname = $1`,
      [new URL(db.url).pathname.slice(1)],
    );
    return rows.length;
  } finally {
    await admin.end();
  }
}

async function until(check: () => boolean): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > 10_000) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("a session lock", () => {
  it("is held until released, and keeps others out meanwhile", async () => {
    const lock = await trySessionLock(db.pool, "test", "a");

    expect(lock?.held()).toBe(true);
    expect(await trySessionLock(db.pool, "test", "a")).toBeNull();
    await lock?.release();
    const again = await trySessionLock(db.pool, "test", "a");
    expect(again?.held()).toBe(true);
    await again?.release();
  });

  it("says it is no longer held once its connection was ended, and another job can take it", async () => {
    const lock = await trySessionLock(db.pool, "test", "b");
    expect(lock?.held()).toBe(true);

    expect(await terminateLockHolders()).toBe(1);
    await until(() => lock?.held() === false);

    const other = await trySessionLock(db.pool, "test", "b");
    expect(other?.held()).toBe(true);
    await lock?.release();
    expect(other?.held()).toBe(true);
    await other?.release();
    const { rows } = await db.pool.query<{ one: number }>("SELECT 1 AS one");
    expect(rows[0]?.one).toBe(1);
  });
});
