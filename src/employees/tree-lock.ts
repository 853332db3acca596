// One job at a time in a task's work tree. The work loop and the base sync both rebuild the task's tree from its
// remote branch (and remove it afterwards), so they must never overlap, across worker processes too: a session
// advisory lock on a dedicated connection, released when the job ends or its connection drops.
import type pg from "pg";

export type TreeLock = { release: () => Promise<void> };

/** How long a job that found the task's tree busy waits before it tries again. */
export const TREE_BUSY_RETRY_MS = 2_000;

/** Takes the task's tree lock, or returns null when another job holds it. */
export async function tryTaskTreeLock(pool: pg.Pool, taskId: number): Promise<TreeLock | null> {
  const client = await pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock(hashtext('aura:task-tree'), hashtext($1)) AS locked", [String(taskId)]);
    if (!rows[0]?.locked) {
      client.release();
      return null;
    }
  } catch (error) {
    client.release();
    throw error;
  }
  return {
    release: async () => {
      try {
        await client.query("SELECT pg_advisory_unlock(hashtext('aura:task-tree'), hashtext($1))", [String(taskId)]);
        client.release();
      } catch (error) {
        // A connection that cannot unlock is discarded, which drops the lock with it.
        client.release(error instanceof Error ? error : true);
      }
    },
  };
}
