// Session advisory locks for "one job at a time on this thing", across worker processes: the lock lives on a
// dedicated pooled connection and is released when the job ends, or by PostgreSQL when that connection drops.
import type pg from "pg";

export type SessionLock = {
  release: () => Promise<void>;
  /**
   * False once the lock's connection has failed or closed (a server restart, idle_session_timeout, a network
   * drop): PostgreSQL released the lock with the session, so another job may hold it now.
   */
  held: () => boolean;
};

/** Takes the lock (`namespace`, `key`), or returns null at once when another session holds it. */
export async function trySessionLock(pool: pg.Pool, namespace: string, key: string): Promise<SessionLock | null> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked", [namespace, key]);
    if (!rows[0]?.locked) {
      client.release();
      return null;
    }
  } catch (error) {
    client.release();
    throw error;
  }
  let lost = false;
  const onLost = () => {
    lost = true;
  };
  client.on("error", onLost);
  client.on("end", onLost);
  return {
    held: () => !lost,
    release: async () => {
      client.removeListener("error", onLost);
      client.removeListener("end", onLost);
      try {
        await client.query("SELECT pg_advisory_unlock(hashtext($1), hashtext($2))", [namespace, key]);
        client.release();
      } catch (error) {
        // A connection that cannot unlock is discarded, which drops the lock with it.
        client.release(error instanceof Error ? error : true);
      }
    },
  };
}

/**
 * Runs `work` holding the lock (`namespace`, `key`), waiting for it while another session holds it: serialises
 * everything done under one name across all workers and processes. Same key space as trySessionLock, so the
 * waiting and the trying forms of one name exclude each other.
 */
export async function withSessionLock<T>(pool: pg.Pool, namespace: string, key: string, work: () => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("SELECT pg_advisory_lock(hashtext($1), hashtext($2))", [namespace, key]);
    try {
      return await work();
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1), hashtext($2))", [namespace, key]);
    }
  } finally {
    client.release();
  }
}
