// One job at a time in a task's work tree. The work loop and the base sync both rebuild the task's tree from its
// remote branch (and remove it afterwards), so they must never overlap, across worker processes too: a session
// advisory lock on a dedicated connection, released when the job ends or its connection drops.
import type pg from "pg";
import { trySessionLock, type SessionLock } from "../db/advisory-lock.js";

export type TreeLock = SessionLock;

/** How long a job that found the task's tree busy waits before it tries again. */
export const TREE_BUSY_RETRY_MS = 2_000;

/** Takes the task's tree lock, or returns null when another job holds it. */
export function tryTaskTreeLock(pool: pg.Pool, taskId: number): Promise<TreeLock | null> {
  return trySessionLock(pool, "aura:task-tree", String(taskId));
}

/** The tree lock's connection closed while a job worked in the tree: the job stops before pushing and runs again. */
export class TreeLockLost extends Error {
  override name = "TreeLockLost";
}

/** Throws TreeLockLost unless `lock` is still held: call it before pushing what was built in the tree. */
export function assertTreeLockHeld(lock: TreeLock, taskId: number): void {
  if (lock.held()) return;
  throw new TreeLockLost(
    `task ${taskId}: the lock on its work tree was lost (its database connection closed), so another job may have used the tree; nothing was pushed and the job will run again`,
  );
}
