// The one way Aura queues work. Every job the app runs is named here with its payload type and its defaults, and
// is queued through graphile-worker's public SQL function `graphile_worker.add_job`, inside the caller's
// transaction when a client is given (a state change and the job it starts commit together).
//
// "Is a job still waiting for this delivery / installation / requirement?" cannot be asked of graphile-worker's
// public `jobs` view (it has no payload) and its private tables are not an API (they change between versions).
// So each enqueue also writes one row of `queued_jobs` (migration 022) in the same statement: the job id that
// `add_job` returns, the task, the key as given, and the payload. A question joins that table to the public view
// by id, so a finished or removed job is never counted. This was chosen over a job key that carries the data
// because keys are already spent on collapsing bursts (one pending `pull.evaluate` per pull request whatever
// the delivery), and a key cannot say both. The leader's delivery pruning deletes rows whose job is gone.
//
// Defaults, one per job:
// - `maxAttempts` is 5 for every job, `task.work` included (it used to get graphile-worker's default of 25 when
//   routed and 5 when re-dispatched). Work that keeps failing should reach a person in minutes, not retry for
//   days: five attempts with graphile-worker's exponential backoff span about a minute and a half, and past that
//   the Manager's reconciler is the long-horizon retry (a task with no progress for 30 minutes is routed again
//   once, then handed to a director). Every handler resumes from its last recorded step, so an attempt is cheap.
// - `key` collapses bursts and re-adds: one pending job per subject, and a job re-added later (halted, busy)
//   replaces rather than doubles. Mode is graphile-worker's default, `replace` (the newer payload and run time
//   win); nothing here needs `preserve_run_at` or `unsafe_dedupe`.
// - No named queues. graphile-worker serialises a whole queue, which is coarser than what the work needs: jobs
//   for one issue are kept apart by an advisory lock (intake), jobs for one task tree by the tree lock, and
//   jobs for one pull request by their shared key and the gate's commit lock. Different subjects run in
//   parallel.
import type pg from "pg";
import { withTraceContext } from "../observability/tracing.js";

type Db = Pick<pg.Pool | pg.PoolClient, "query">;

type PullJob = { installationId: number; repo: string; pullNumber: number; deliveryId?: string };
type DeliveryJob = { deliveryId: string };

/** Every job's payload. Payloads carry ids, never bodies: a delivery's body stays in the inbox. */
export type JobPayloads = {
  "task.work": { taskId: number; revisionId?: number };
  "task.sync-base": { taskId: number };
  /** An employee's provider failed the task (`from`: that employee, `failure`: the failure's kind); the Manager routes it again. */
  "task.reroute": { taskId: number; from: string; failure: string };
  "base.moved": { installationId: number; repo: string; branch: string; deliveryId?: string };
  "branch.pushed": { installationId: number; repo: string; branch: string; sender: string; pusher: string; deliveryId?: string };
  "requirement.intake": { installationId: number; repo: string; issueNumber: number; deliveryId?: string };
  "installation.sync": { installationId: number; deliveryId?: string };
  "label.sync": { installationId: number; repo: string; deliveryId?: string };
  "pull.evaluate": PullJob;
  "pull.audit": PullJob & { headSha: string };
  "pull.gate-closed": PullJob;
  "pull.forgery": { installationId: number; repo: string; deliveryId: string };
  "director.command": DeliveryJob;
  "pull.closed": DeliveryJob;
  "pull.reopened": DeliveryJob;
  "director.review": DeliveryJob;
};

export type JobName = keyof JobPayloads;

type JobDefaults<N extends JobName> = { maxAttempts: number; key?: (payload: JobPayloads[N]) => string };

const ATTEMPTS = 5;

/** Per-job defaults (see the module comment for why each is what it is). */
export const JOBS: { [N in JobName]: JobDefaults<N> } = {
  "task.work": { maxAttempts: ATTEMPTS, key: (p) => `task:${p.taskId}` },
  "task.sync-base": { maxAttempts: ATTEMPTS, key: (p) => `sync:${p.taskId}` },
  "task.reroute": { maxAttempts: ATTEMPTS, key: (p) => `reroute:${p.taskId}` },
  "base.moved": { maxAttempts: ATTEMPTS },
  "branch.pushed": { maxAttempts: ATTEMPTS },
  "requirement.intake": { maxAttempts: ATTEMPTS, key: (p) => `requirement:${p.repo}#${p.issueNumber}` },
  "installation.sync": { maxAttempts: ATTEMPTS, key: (p) => `installation:${p.installationId}` },
  "label.sync": { maxAttempts: ATTEMPTS, key: (p) => `label:${p.repo}` },
  "pull.evaluate": { maxAttempts: ATTEMPTS, key: (p) => `pull:${p.repo}#${p.pullNumber}` },
  "pull.audit": { maxAttempts: ATTEMPTS, key: (p) => `audit:${p.repo}#${p.pullNumber}@${p.headSha}` },
  "pull.gate-closed": { maxAttempts: ATTEMPTS, key: (p) => `gate-closed:${p.repo}#${p.pullNumber}` },
  "pull.forgery": { maxAttempts: ATTEMPTS },
  "director.command": { maxAttempts: ATTEMPTS },
  "pull.closed": { maxAttempts: ATTEMPTS, key: (p) => `closed:${p.deliveryId}` },
  "pull.reopened": { maxAttempts: ATTEMPTS, key: (p) => `reopened:${p.deliveryId}` },
  "director.review": { maxAttempts: ATTEMPTS, key: (p) => `review:${p.deliveryId}` },
};

export function isJobName(name: string): name is JobName {
  return Object.hasOwn(JOBS, name);
}

/** One job to queue. `key` overrides the job's default key (a delivery's dispatcher may name its own). */
export type JobRequest = { [N in JobName]: { name: N; payload: JobPayloads[N]; key?: string; runAt?: Date } }[JobName];

/** The job's key: the one given, else the job's default, else none. */
export function jobKeyOf(request: JobRequest): string | null {
  if (request.key !== undefined) return request.key;
  const key = JOBS[request.name].key as ((payload: JobPayloads[JobName]) => string) | undefined;
  return key ? key(request.payload) : null;
}

/**
 * The CTEs that queue the jobs of `specs` (a relation with columns task, payload, key, max_attempts, run_at,
 * ord — see `batchParams`) and record them; the last one is named `recorded` and returns `job_id`. For callers
 * that must queue inside a larger statement (the webhook inbox records a delivery and its jobs in one).
 */
export function addJobsCte(specs: string): string {
  return `added AS (
       SELECT DISTINCT ON (a.id) a.id, s.task, s.key, s.payload
       FROM ${specs} AS s
       CROSS JOIN LATERAL graphile_worker.add_job(s.task, s.payload::json, job_key => s.key, max_attempts => s.max_attempts, run_at => s.run_at) AS a
       ORDER BY a.id, s.ord DESC
     ), recorded AS (
       INSERT INTO queued_jobs (job_id, task, job_key, payload)
       SELECT id, task, key, payload::jsonb FROM added
       ON CONFLICT (job_id) DO UPDATE SET task = EXCLUDED.task, job_key = EXCLUDED.job_key, payload = EXCLUDED.payload, queued_at = now()
       RETURNING job_id
     )`;
}

/** The five arrays `unnestSpecs` reads, in its parameter order. */
export function batchParams(requests: readonly JobRequest[]): [string[], string[], (string | null)[], number[], (Date | null)[]] {
  return [
    requests.map((r) => r.name),
    // The payload carries the active trace context (nothing when tracing is off), so the job continues the trace.
    requests.map((r) => JSON.stringify(withTraceContext(r.payload))),
    requests.map((r) => jobKeyOf(r)),
    requests.map((r) => JOBS[r.name].maxAttempts),
    requests.map((r) => r.runAt ?? null),
  ];
}

/** The relation `addJobsCte` reads, from the five arrays of `batchParams` at parameters $first..$first+4. */
export function unnestSpecs(first: number): string {
  const [a, b, c, d, e] = [first, first + 1, first + 2, first + 3, first + 4];
  return `unnest($${a}::text[], $${b}::text[], $${c}::text[], $${d}::int[], $${e}::timestamptz[]) WITH ORDINALITY AS u(task, payload, key, max_attempts, run_at, ord)`;
}

/** Queues many jobs in one statement (so atomically); returns the job ids. */
export async function enqueueMany(db: Db, requests: readonly JobRequest[]): Promise<string[]> {
  if (requests.length === 0) return [];
  const { rows } = await db.query<{ job_id: string }>(
    `WITH specs AS (SELECT * FROM ${unnestSpecs(1)}), ${addJobsCte("specs")} SELECT job_id::text FROM recorded`,
    batchParams(requests),
  );
  return rows.map((row) => row.job_id);
}

/** Queues one job (in the caller's transaction when `db` is a client in one); returns its id. */
export async function enqueue<N extends JobName>(db: Db, name: N, payload: JobPayloads[N], options: { key?: string; runAt?: Date } = {}): Promise<string> {
  const [id] = await enqueueMany(db, [{ name, payload, ...options } as JobRequest]);
  return id as string;
}

/** SQL condition: a job Aura queued (alias `q`, a `queued_jobs` row) still exists in graphile-worker's public view. */
export const JOB_STILL_QUEUED = "EXISTS (SELECT 1 FROM graphile_worker.jobs j WHERE j.id = q.job_id)";

/** Forgets the records of jobs that are gone (finished, or removed); returns how many. */
export async function forgetFinishedJobs(db: Db): Promise<number> {
  const result = await db.query(`DELETE FROM queued_jobs q WHERE NOT ${JOB_STILL_QUEUED}`);
  return result.rowCount ?? 0;
}
