// The rule layer for widening a task's edit scope. The whole repository is readable, but an agent edits only
// inside its task's scope; it may ask for more. Each requested path is granted when it is not a protected path
// (policies/protected-paths.yml, unless the task's class is allowed there) and no other live task of the same
// requirement owns it (its planned scope or an earlier grant overlaps the path); otherwise it is refused with
// the reason. A refusal ends the agent's run and sends the task to a director. Every decision is recorded
// (`scope_grants`) and audited (`task.scope_decided`), and grants outlive the run: a retry or a revision of the
// task edits with them.
import type pg from "pg";
import { appendEvents } from "../../audit/append.js";
import type { ProtectedPath, TaskClass } from "../../config/policy-files.js";
import { globsOverlap, GlobSyntaxError, scopeReachesProtected } from "../../manager/glob-overlap.js";
import { checkRelativePath, UnsafePathError } from "../../workspace/index.js";
import type { ScopeDecision } from "./types.js";

type Queryable = Pick<pg.PoolClient, "query">;

/** The scope another task of the requirement owns: its planned globs and what was granted to it. */
export type OwnedScope = { taskKey: string; globs: readonly string[] };

export type ScopeRuleInput = {
  requested: readonly string[];
  taskClass: TaskClass;
  protectedPaths: readonly ProtectedPath[];
  /** What the requirement's other live tasks own. */
  others: readonly OwnedScope[];
};

/** Why one requested path may not be granted, or undefined when it may. Pure. */
export function scopeRefusal(requested: string, input: Omit<ScopeRuleInput, "requested">): string | undefined {
  let path: string;
  try {
    path = checkRelativePath(requested).join("/");
  } catch (error) {
    if (error instanceof UnsafePathError) return error.message;
    throw error;
  }
  try {
    const blocked = input.protectedPaths.find((entry) => !entry.allowTaskClasses.includes(input.taskClass) && scopeReachesProtected(path, entry.glob));
    if (blocked) {
      const what = /[*?[{]/.test(path) ? "reaches a protected path" : "is a protected path";
      return `${path} ${what} (${blocked.glob}: ${blocked.reason}); ${input.taskClass} tasks may not change it`;
    }
    for (const other of input.others) {
      const owner = other.globs.find((glob) => globsOverlap(path, glob));
      if (owner) return `${path} belongs to task ${other.taskKey} of the same requirement (its scope ${owner}); two tasks may not edit the same files`;
    }
  } catch (error) {
    // A glob the overlap check cannot analyse is never taken as "no overlap".
    if (error instanceof GlobSyntaxError) return `${path} cannot be checked: ${error.message}; ask for plain file paths`;
    throw error;
  }
  return undefined;
}

/** Grants or refuses each requested path (duplicates once), in the order asked. Pure. */
export function decideScope(input: ScopeRuleInput): ScopeDecision {
  const decision: ScopeDecision = { granted: [], refused: [] };
  for (const requested of new Set(input.requested)) {
    const reason = scopeRefusal(requested, input);
    if (reason) decision.refused.push({ path: requested, reason });
    else decision.granted.push(checkRelativePath(requested).join("/"));
  }
  return decision;
}

/** The globs each other live task of the task's requirement owns: its planned scope and its grants. */
export async function otherTaskScopes(db: Queryable, taskId: number): Promise<OwnedScope[]> {
  const { rows } = await db.query<{ task_key: string; scope: string[]; granted: string[] | null }>(
    `SELECT o.task_key, o.scope,
            (SELECT array_agg(g.path ORDER BY g.id) FROM scope_grants g WHERE g.task_id = o.id AND g.granted) AS granted
     FROM tasks t JOIN tasks o ON o.requirement_id = t.requirement_id AND o.id <> t.id
     WHERE t.id = $1 AND o.state NOT IN ('cancelled', 'rejected', 'failed')
     ORDER BY o.id`,
    [taskId],
  );
  return rows.map((row) => ({ taskKey: row.task_key, globs: [...row.scope, ...(row.granted ?? [])] }));
}

/** Paths granted to the task so far (by any of its runs), in the order granted. */
export async function grantedScope(db: Queryable, taskId: number): Promise<string[]> {
  const { rows } = await db.query<{ path: string }>("SELECT DISTINCT ON (path) path, id FROM scope_grants WHERE task_id = $1 AND granted ORDER BY path, id", [
    taskId,
  ]);
  return rows.map((row) => row.path);
}

export type ScopeRequest = {
  taskId: number;
  runId: number | null;
  requested: readonly string[];
  reason: string;
  taskClass: TaskClass;
  protectedPaths: readonly ProtectedPath[];
  actor: string;
  subject: string;
};

/**
 * Decides a request against the task's siblings as they are now, then records each path's grant or refusal and
 * one `task.scope_decided` audit event, in one transaction with the decision's reads.
 */
export async function requestScope(pool: pg.Pool, request: ScopeRequest): Promise<ScopeDecision> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    // Two tasks of one requirement asking for the same path at once: the second sees the first's grant.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('aura:scope'), (SELECT (requirement_id % 2147483647)::int FROM tasks WHERE id = $1))", [
      request.taskId,
    ]);
    const decision = decideScope({
      requested: request.requested,
      taskClass: request.taskClass,
      protectedPaths: request.protectedPaths,
      others: await otherTaskScopes(client, request.taskId),
    });
    const reason = request.reason.slice(0, 2000);
    for (const path of decision.granted) {
      await client.query("INSERT INTO scope_grants (task_id, run_id, path, granted, request_reason) VALUES ($1, $2, $3, true, $4)", [
        request.taskId,
        request.runId,
        path,
        reason,
      ]);
    }
    for (const refusal of decision.refused) {
      await client.query("INSERT INTO scope_grants (task_id, run_id, path, granted, request_reason, refusal) VALUES ($1, $2, $3, false, $4, $5)", [
        request.taskId,
        request.runId,
        refusal.path.slice(0, 1000),
        reason,
        refusal.reason,
      ]);
    }
    await appendEvents(client, [
      {
        actor: request.actor,
        action: "task.scope_decided",
        subject: request.subject,
        payload: { taskId: request.taskId, runId: request.runId, reason, granted: decision.granted, refused: decision.refused },
      },
    ]);
    await client.query("COMMIT");
    return decision;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** The sentence a director reads when a refused scope request stopped the task. */
export function refusalReason(decision: ScopeDecision): string {
  return `the agent asked to edit outside its scope and was refused: ${decision.refused.map((r) => `${r.path} (${r.reason})`).join("; ")}`;
}
