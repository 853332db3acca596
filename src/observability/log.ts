// The app's logger: JSON lines (pino) as before, or readable lines when LOG_FORMAT=pretty, or when LOG_FORMAT is
// unset and standard output is a terminal (Probot's LOG_FORMAT convention, through pino-pretty, which Probot uses
// too). While a job runs, every line the app logs carries that job's ids (job id and name, attempt, and the
// delivery, task and installation its payload names): the queue runner scopes each job (`withJobIds`), and
// `withJobContext` makes the app's logger, and every child of it, add the scope's ids to each line, so the
// handlers' loggers (made once, before any job) need no change.
import { AsyncLocalStorage } from "node:async_hooks";
import pino, { type Logger } from "pino";

export type LogFormat = "json" | "pretty";

/** The ids a job's log lines carry; the last three when its payload names them. */
export type JobIds = { jobId: string; jobName: string; attempt: number; deliveryId?: string; taskId?: number; installationId?: number };

const jobScope = new AsyncLocalStorage<JobIds>();

/** Runs `fn` as the job `ids` describes: what it logs (through a logger from withJobContext) carries the ids. */
export function withJobIds<T>(ids: JobIds, fn: () => T): T {
  return jobScope.run(ids, fn);
}

/** A job's ids from graphile-worker's job and its payload (which names its delivery, task or installation when it has one). */
export function jobIdsOf(jobName: string, job: { id: string; attempts: number }, payload: unknown): JobIds {
  const fields = payload !== null && typeof payload === "object" ? (payload as Record<string, unknown>) : {};
  return {
    jobId: String(job.id),
    jobName,
    attempt: job.attempts,
    ...(typeof fields.deliveryId === "string" ? { deliveryId: fields.deliveryId } : {}),
    ...(typeof fields.taskId === "number" ? { taskId: fields.taskId } : {}),
    ...(typeof fields.installationId === "number" ? { installationId: fields.installationId } : {}),
  };
}

/** Adds an id the job learnt while running (its installation, found by the halt check) to its lines from now on. */
export function noteJobIds(ids: Pick<JobIds, "installationId">): void {
  const current = jobScope.getStore();
  if (current) Object.assign(current, ids);
}

type Mixin = (merge: object, level: number, logger: Logger) => object;

/**
 * A child of `log` whose lines, and those of its children, carry the running job's ids. pino applies a logger's
 * mixin to every line and children inherit it, so it is set once here on the child (composed with any mixin `log`
 * already had); outside a job it adds nothing.
 */
export function withJobContext(log: Logger): Logger {
  const child = log.child({});
  const previous = Reflect.get(child, pino.symbols.mixinSym) as Mixin | undefined;
  const mixin: Mixin = (merge, level, logger) => ({ ...previous?.(merge, level, logger), ...jobScope.getStore() });
  Reflect.set(child, pino.symbols.mixinSym, mixin);
  return child;
}

/** Pretty when asked for, or when unset and the output is a terminal; JSON otherwise. */
export function isPretty(format: LogFormat | undefined, isTTY: boolean): boolean {
  return format === undefined ? isTTY : format === "pretty";
}

/** The app's logger on standard output (or `destination`, for tests), in the format LOG_FORMAT and the terminal decide. */
export async function createLogger(options: {
  level: string;
  format: LogFormat | undefined;
  isTTY?: boolean;
  destination?: NodeJS.WritableStream;
}): Promise<Logger> {
  const isTTY = options.isTTY ?? process.stdout.isTTY === true;
  const base = { name: "aura", level: options.level };
  if (!isPretty(options.format, isTTY)) return options.destination ? pino(base, options.destination) : pino(base);
  const { default: pretty } = await import("pino-pretty");
  return pino(base, pretty({ colorize: isTTY, ignore: "pid,hostname", translateTime: "SYS:standard", destination: options.destination ?? 1, sync: true }));
}
