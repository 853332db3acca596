// Leader election: a session advisory lock held on a dedicated, unpooled connection. The leader runs the
// periodic duties (unlocking dead workers' jobs, reconciling missed work, HR reviews, audit retention);
// if its connection drops, the lock is released with it and another process takes over.
import pg from "pg";
import type { Logger } from "pino";
import { setLeader } from "../observability/metrics.js";

const LEADER_LOCK = 7_261_002;

export type Duty = {
  name: string;
  everyMs: number;
  run: () => Promise<void>;
  /**
   * First run this long after taking the lead (default: at once), or sooner when the duty is due by its last run
   * under any leader (`leader_duty_runs`, migration 029): its interval since then is up earlier, or is already.
   */
  firstRunAfterMs?: number;
};

export type Leadership = { isLeader: () => boolean; stop: () => Promise<void> };

export function startLeaderElection(options: { databaseUrl: string; log: Logger; duties: Duty[]; retryMs?: number }): Leadership {
  let client: pg.Client | undefined;
  let leader = false;
  let stopped = false;
  const timers: NodeJS.Timeout[] = [];
  let attempt: NodeJS.Timeout | undefined;

  const lose = () => {
    if (leader) options.log.warn("leadership lost");
    leader = false;
    setLeader(false);
    for (const timer of timers.splice(0)) clearTimeout(timer);
    client?.end().catch(() => undefined);
    client = undefined;
    schedule();
  };

  const tryLead = async () => {
    if (stopped) return;
    try {
      client ??= await connect();
      const result = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [LEADER_LOCK]);
      if (!result.rows[0]?.locked) return schedule();
      leader = true;
      setLeader(true);
      options.log.info({ duties: options.duties.map((d) => d.name) }, "this process is the leader");
      const held = client;
      for (const duty of options.duties) await scheduleDuty(duty, { log: options.log, timers, client: held, isCurrent: () => client === held && leader });
    } catch (error) {
      options.log.warn({ reason: error instanceof Error ? error.message : String(error) }, "leader election failed; retrying");
      lose();
    }
  };

  const connect = async () => {
    const c = new pg.Client({ connectionString: options.databaseUrl });
    c.on("error", () => lose());
    c.on("end", () => {
      if (!stopped && client === c) lose();
    });
    await c.connect();
    return c;
  };

  function schedule() {
    if (stopped) return;
    clearTimeout(attempt);
    attempt = setTimeout(() => void tryLead(), options.retryMs ?? 2_000);
    attempt.unref();
  }

  void tryLead();
  return {
    isLeader: () => leader,
    stop: async () => {
      stopped = true;
      clearTimeout(attempt);
      for (const timer of timers.splice(0)) clearTimeout(timer);
      leader = false;
      setLeader(false);
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}

type DutyContext = {
  log: Logger;
  timers: NodeJS.Timeout[];
  /** The leader's own connection (it holds the lock): where a delayed duty's runs are kept. */
  client: pg.Client;
  /** Whether this leadership still stands (a run that ends after it was lost records nothing). */
  isCurrent: () => boolean;
};

/**
 * Runs the duty now, or after its first delay (shortened to when it is due by its last recorded run), and then
 * every `everyMs`; its timers go into `timers`. A duty with a first delay records each run it finishes.
 */
async function scheduleDuty(duty: Duty, context: DutyContext): Promise<void> {
  const { log, timers } = context;
  const recorded = duty.firstRunAfterMs !== undefined;
  const run = () => void runDuty(duty, log).then((ran) => (ran && recorded && context.isCurrent() ? recordRun(duty, context) : undefined));
  const start = () => {
    run();
    const timer = setInterval(run, duty.everyMs);
    timer.unref();
    timers.push(timer);
  };
  if (duty.firstRunAfterMs === undefined) return start();
  const due = await dueInMs(duty, context);
  if (!context.isCurrent()) return;
  const first = setTimeout(start, Math.min(duty.firstRunAfterMs, due ?? Infinity));
  first.unref();
  timers.push(first);
}

/** How long until the duty is due by its last recorded run (0: already), or undefined when none is recorded or it cannot be read. */
async function dueInMs(duty: Duty, context: DutyContext): Promise<number | undefined> {
  try {
    const { rows } = await context.client.query<{ due_ms: number }>(
      "SELECT greatest(0, extract(epoch FROM ran_at + make_interval(secs => $2::float8 / 1000) - now()) * 1000)::float8 AS due_ms FROM leader_duty_runs WHERE duty = $1",
      [duty.name, duty.everyMs],
    );
    return rows[0]?.due_ms;
  } catch (error) {
    context.log.warn(
      { duty: duty.name, reason: error instanceof Error ? error.message : String(error) },
      "could not read when the leader duty last ran; waiting its first delay",
    );
    return undefined;
  }
}

async function recordRun(duty: Duty, context: DutyContext): Promise<void> {
  await context.client
    .query("INSERT INTO leader_duty_runs (duty, ran_at) VALUES ($1, now()) ON CONFLICT (duty) DO UPDATE SET ran_at = EXCLUDED.ran_at", [duty.name])
    .catch((error: unknown) =>
      context.log.warn({ duty: duty.name, reason: error instanceof Error ? error.message : String(error) }, "could not record the leader duty's run"),
    );
}

/** A duty that fails is logged and runs again at its next interval; resolves whether it ran to the end. */
async function runDuty(duty: Duty, log: Logger): Promise<boolean> {
  try {
    await duty.run();
    return true;
  } catch (error) {
    log.error({ duty: duty.name, reason: error instanceof Error ? error.message : String(error) }, "leader duty failed");
    return false;
  }
}
