// A server connection that dies under the app is reported and fails the next query; it is never an uncaught exception.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool } from "../../src/db/pool.js";
import { asAdmin, createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { until } from "../helpers/wait.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase({ migrate: false });
});

afterAll(async () => {
  await db.drop();
});

function terminate(pid: number): Promise<unknown> {
  return asAdmin((admin) => admin.query("SELECT pg_terminate_backend($1)", [pid]));
}

describe("the app's pool", () => {
  it("reports a checked-out client's lost connection, rejects its next query, and goes on serving", async () => {
    const errors: Error[] = [];
    const pool = createPool(db.url, { max: 2, onError: (error) => errors.push(error) });
    try {
      const client = await pool.connect();
      expect(client.listenerCount("error")).toBeGreaterThan(0);
      const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");

      // Between two queries, the way a transaction's awaits leave it: the server ends the connection.
      await terminate(rows[0]!.pid);
      await until(() => errors.length > 0);

      await expect(client.query("SELECT 1")).rejects.toThrow();
      client.release(true);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(errors).toHaveLength(1);
      expect(errors[0]!.message).toMatch(/terminat/);

      const after = await pool.query<{ one: number }>("SELECT 1 AS one");
      expect(after.rows[0]!.one).toBe(1);
    } finally {
      await pool.end();
    }
  });

  it("reports an idle client's lost connection once and replaces it", async () => {
    const errors: Error[] = [];
    const pool = createPool(db.url, { max: 1, onError: (error) => errors.push(error) });
    try {
      const { rows } = await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      expect(pool.idleCount).toBe(1);

      await terminate(rows[0]!.pid);
      await until(() => errors.length > 0 && pool.idleCount === 0);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(errors).toHaveLength(1);

      const again = await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
      expect(again.rows[0]!.pid).not.toBe(rows[0]!.pid);
    } finally {
      await pool.end();
    }
  });
});
