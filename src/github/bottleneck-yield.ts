// Bottleneck schedules every GitHub request of the throttling and retry plugins (and the app's own write groups).
// It waits on 1 ms timers where it means "at once": its in-process datastore yields to the event loop before each
// of its steps with `setTimeout(resolve, 0)` (about a dozen per request), and it starts every job it runs with
// `setTimeout(execute, wait)` even when `wait` is 0 (three per request: the throttling plugin's retry limiter and
// read group, the retry plugin's per-request limiter). Node rounds each up to a 1 ms timer: 16.7 ms per GET
// through Probot's Octokit against a local server that answers in about a millisecond, 5.9 ms with the yields
// immediate, 1.2 ms with the job starts too (docs/benchmarks.md, bench:eval's fourth round). Both become
// `setImmediate`: still a turn of the event loop (I/O and other work run in between, as before), without the
// timer. A yield or a job with a
// real delay (the plugins' pacing, minTime, a retry's wait) or an expiration keeps its timers. Bottleneck 2 has
// no option for this; the datastore class is reached through an instance (`_store`), the job start is the
// limiter's `_run`, and both module files of the package are patched (the plugins load `bottleneck/light.js`, the
// app's groups `bottleneck`).
import { createRequire } from "node:module";
import Bottleneck from "bottleneck";

type Datastore = { yieldLoop: (t?: number) => Promise<void>; Promise: PromiseConstructor };

type ScheduledJob = { doRun: () => void; doExecute: (...args: unknown[]) => Promise<unknown>; options: { expiration?: number | null } };
type Scheduled = { timeout: unknown; expiration: unknown; job: ScheduledJob };
type Limiter = {
  _run: (index: string, job: ScheduledJob, wait: number) => Scheduled;
  _scheduled: Record<string, Scheduled>;
  _limiter: unknown;
  _clearGlobalState: (index: string) => boolean;
  _free: (index: string, job: ScheduledJob, ...rest: unknown[]) => Promise<unknown>;
};

/**
 * Bottleneck's `_run` for a job to start at once: as the original (the job marked running, then executed with the
 * same callbacks) but on the next turn of the event loop instead of a 1 ms timer. The handle it keeps as the job's
 * `timeout` is one `clearTimeout` cancels (Node's clearTimeout clears any object's `_onTimeout`), which is how
 * Bottleneck's `stop({ dropWaitingJobs })` drops a job scheduled but not yet executed.
 */
function runAtOnce(original: Limiter["_run"]): Limiter["_run"] {
  return function (this: Limiter, index, job, wait) {
    if (wait > 0 || job.options.expiration != null) return original.call(this, index, job, wait);
    job.doRun();
    const clearGlobalState = this._clearGlobalState.bind(this, index);
    const run = this._run.bind(this, index, job);
    const free = this._free.bind(this, index, job);
    const handle: { _onTimeout: (() => void) | null } = { _onTimeout: () => void job.doExecute(this._limiter, clearGlobalState, run, free) };
    setImmediate(() => handle._onTimeout?.());
    return (this._scheduled[index] = { timeout: handle, expiration: undefined, job });
  };
}

const require = createRequire(import.meta.url);
let patched: object[] | undefined;

/** Makes Bottleneck's zero-delay yields and job starts immediate in this process (once); returns the patched datastore prototypes. */
export function useImmediateYields(): object[] {
  patched ??= [Bottleneck, require("bottleneck/light.js") as typeof Bottleneck].flatMap((BottleneckClass) => {
    const limiterPrototype = BottleneckClass.prototype as unknown as Limiter;
    if (typeof limiterPrototype._run === "function") limiterPrototype._run = runAtOnce(limiterPrototype._run);
    const probe = new BottleneckClass() as unknown as { _store?: object };
    const prototype = probe._store ? (Object.getPrototypeOf(probe._store) as Datastore) : undefined;
    void (probe as unknown as Bottleneck).disconnect(false);
    if (!prototype || typeof prototype.yieldLoop !== "function") return [];
    const original = prototype.yieldLoop;
    prototype.yieldLoop = function (this: Datastore, t = 0) {
      return t > 0 ? original.call(this, t) : new this.Promise<void>((resolve) => setImmediate(resolve));
    };
    return [prototype];
  });
  return patched;
}
