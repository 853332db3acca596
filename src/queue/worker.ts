// Runs durable jobs with graphile-worker and keeps this process's heartbeat, so the leader can unlock the
// jobs of a process that died (graphile-worker alone would wait hours before retrying them).
import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import os from "node:os";
import { Logger as GraphileLogger, run, type Runner, type Task, type WorkerEvents } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { observedTask } from "../observability/observe.js";

export type TaskList = Record<string, Task>;

export type RunningWorker = { processId: string; stop: () => Promise<void> };

export async function startWorker(options: {
  pool: pg.Pool;
  tasks: TaskList;
  log: Logger;
  concurrency?: number;
  heartbeatMs?: number;
  pollInterval?: number;
  /** Called after each job has ended, whatever the outcome (after graphile-worker recorded it). */
  onJobEnd?: () => void;
}): Promise<RunningWorker> {
  const processId = randomUUID();
  const workerIds = new Set<string>();
  const events: WorkerEvents = new EventEmitter() as WorkerEvents;
  // Jobs are locked by the pool's id (or a worker's, depending on how they were fetched): record both.
  events.on("pool:create", ({ workerPool }) => {
    workerIds.add(workerPool.id);
  });
  events.on("worker:create", ({ worker }) => {
    workerIds.add(worker.workerId);
  });
  const { onJobEnd } = options;
  if (onJobEnd) events.on("job:complete", () => onJobEnd());
  const beat = async () => {
    await options.pool.query(
      `INSERT INTO aura_processes (process_id, hostname, pid, worker_ids) VALUES ($1, $2, $3, $4)
       ON CONFLICT (process_id) DO UPDATE SET last_seen = now(), worker_ids = EXCLUDED.worker_ids`,
      [processId, os.hostname(), process.pid, [...workerIds]],
    );
  };
  await beat();
  const runner: Runner = await run({
    pgPool: options.pool,
    // Each run in its own span, its ids on every log line, counted (src/observability/observe.ts).
    taskList: Object.fromEntries(Object.entries(options.tasks).map(([name, task]) => [name, observedTask(name, task)])),
    concurrency: options.concurrency ?? 4,
    noHandleSignals: true,
    pollInterval: options.pollInterval ?? 2_000,
    events,
    logger: graphileLogger(options.log),
  });
  await beat();
  const heartbeat = setInterval(() => {
    beat().catch((error: unknown) => options.log.warn({ reason: String(error) }, "worker heartbeat failed"));
  }, options.heartbeatMs ?? 2_000);
  heartbeat.unref();
  return {
    processId,
    stop: async () => {
      clearInterval(heartbeat);
      await runner.stop();
      await options.pool.query("DELETE FROM aura_processes WHERE process_id = $1", [processId]).catch(() => undefined);
    },
  };
}

/** graphile-worker's log lines, as pino JSON at debug level (warnings and errors kept as such). */
function graphileLogger(log: Logger): GraphileLogger {
  return new GraphileLogger((scope) => (level, message, meta) => {
    const line = { scope, ...meta };
    if (level === "error") log.error(line, message);
    else if (level === "warning") log.warn(line, message);
    else log.debug(line, message);
  });
}

/** Unlocks the jobs of processes whose heartbeat is older than `staleMs`; returns the processes removed. */
export async function unlockDeadWorkers(pool: pg.Pool, staleMs: number): Promise<string[]> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const dead = await client.query<{ process_id: string; worker_ids: string[] }>(
      `DELETE FROM aura_processes WHERE last_seen < now() - make_interval(secs => $1)
       RETURNING process_id, worker_ids`,
      [staleMs / 1000],
    );
    const workerIds = dead.rows.flatMap((row) => row.worker_ids);
    if (workerIds.length > 0) await client.query("SELECT graphile_worker.force_unlock_workers($1::text[])", [workerIds]);
    await client.query("COMMIT");
    return dead.rows.map((row) => row.process_id);
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
