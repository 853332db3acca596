// A session advisory lock knows when PostgreSQL dropped it with its connection, so the job holding it can stop.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trySessionLock, withSessionLock } from "../../src/db/advisory-lock.js";
import { createTestDatabase, endLockSessions, type TestDatabase } from "../helpers/database.js";
import { until } from "../helpers/wait.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
});

afterAll(async () => {
  await db.drop();
});

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

    expect(await endLockSessions(db, "test")).toBe(1);
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

describe("a waiting session lock", () => {
  it("runs work for one name one at a time, in the order the holders asked, and frees the name afterwards", async () => {
    const held = await trySessionLock(db.pool, "test", "c");
    const steps: string[] = [];

    const waiting = withSessionLock(db.pool, "test", "c", async () => {
      steps.push("waiter ran");
      return "done";
    });
    while ((await db.pool.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).rowCount !== 1)
      await new Promise((resolve) => setTimeout(resolve, 10));
    steps.push("holder released");
    await held?.release();

    expect(await waiting).toBe("done");
    expect(steps).toEqual(["holder released", "waiter ran"]);
    const free = await trySessionLock(db.pool, "test", "c");
    expect(free?.held()).toBe(true);
    await free?.release();
  });

  it("releases the name when the work throws", async () => {
    await expect(withSessionLock(db.pool, "test", "d", () => Promise.reject(new Error("work failed")))).rejects.toThrow("work failed");

    const free = await trySessionLock(db.pool, "test", "d");
    expect(free?.held()).toBe(true);
    await free?.release();
  });
});
