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
  /** First run this long after taking the lead (default: at once). */
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
      for (const duty of options.duties) scheduleDuty(duty, options.log, timers);
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

/** Runs the duty now (or after its first delay) and then every `everyMs`; its timers go into `timers`. */
function scheduleDuty(duty: Duty, log: Logger, timers: NodeJS.Timeout[]): void {
  const start = () => {
    void runDuty(duty, log);
    const timer = setInterval(() => void runDuty(duty, log), duty.everyMs);
    timer.unref();
    timers.push(timer);
  };
  if (duty.firstRunAfterMs === undefined) start();
  else {
    const first = setTimeout(start, duty.firstRunAfterMs);
    first.unref();
    timers.push(first);
  }
}

/** A duty that fails is logged and runs again at its next interval. */
async function runDuty(duty: Duty, log: Logger): Promise<void> {
  try {
    await duty.run();
  } catch (error) {
    log.error({ duty: duty.name, reason: error instanceof Error ? error.message : String(error) }, "leader duty failed");
  }
}
