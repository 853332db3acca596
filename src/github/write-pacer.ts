// GitHub write pacing shared by every process on one database. GitHub's secondary limits allow an installation
// at most 80 content-creating requests a minute and 500 an hour, however many processes send them; a limiter in
// each process would allow N times that. Before each such request the process takes a slot (a time) from
// PostgreSQL in one call (take_github_write_slot, db/migrations/028-github-write-pacing.sql) and waits until it.
import type { Logger } from "pino";
import type pg from "pg";
import { recordGitHubWriteWait } from "../observability/metrics.js";

/** GitHub's secondary limits on content-creating requests, per installation. */
export const GITHUB_WRITE_LIMITS = { perMinute: 80, perHour: 500 } as const;

export type WritePacing = {
  /** Writes a minute, evenly spaced (at most 80). */
  perMinute: number;
  /** Writes in any rolling hour (at most 500). */
  perHour: number;
  /** Tests and benchmarks against a fake GitHub: how long their "minute" and "hour" are (default 60 s, 1 h). */
  minuteMs?: number;
  hourMs?: number;
  /**
   * Slack added to both windows: the pacer times a write's departure, GitHub counts its arrival, and two
   * requests' trips (different processes, hosts, connections) differ. With it, N writes span a minute plus
   * the slack, so GitHub sees no more than N in any minute unless two arrivals differ by more (default 1 s).
   */
  jitterMs?: number;
};

/** Bounds a slot can be set by: none (it is now), the per-minute pace, or the hourly budget. */
export type SlotBound = "now" | "pace" | "hour";

export type WritePacer = {
  /** Takes the installation's next slot and resolves at its time. Throws WritePacingUnavailable without the database. */
  take: (installationId: number) => Promise<void>;
};

/** A pacing configuration GitHub would not honour, or that is not a limit at all. */
export class WritePacingInvalid extends Error {
  override name = "WritePacingInvalid";
}

/** The database did not hand out a slot, so the write was not sent. */
export class WritePacingUnavailable extends Error {
  override name = "WritePacingUnavailable";
  constructor(
    readonly installationId: number,
    cause: unknown,
  ) {
    super(
      `GitHub write for installation ${installationId} not sent: its pacing slot could not be taken from PostgreSQL ` +
        `(${cause instanceof Error ? cause.message : String(cause)}). Writes are paced through the database so that all ` +
        "processes together stay under GitHub's secondary limits; the job fails and retries once the database answers.",
      { cause },
    );
  }
}

export function validateWritePacing(pacing: WritePacing): void {
  const { perMinute, perHour } = pacing;
  if (!Number.isInteger(perMinute) || perMinute < 1 || perMinute > GITHUB_WRITE_LIMITS.perMinute) {
    throw new WritePacingInvalid(
      `GitHub writes per minute must be a whole number from 1 to ${GITHUB_WRITE_LIMITS.perMinute} (GitHub's secondary limit); got ${perMinute}`,
    );
  }
  if (!Number.isInteger(perHour) || perHour < 1 || perHour > GITHUB_WRITE_LIMITS.perHour) {
    throw new WritePacingInvalid(
      `GitHub writes per hour must be a whole number from 1 to ${GITHUB_WRITE_LIMITS.perHour} (GitHub's secondary limit); got ${perHour}`,
    );
  }
  for (const [name, value] of Object.entries({ minuteMs: pacing.minuteMs, hourMs: pacing.hourMs, jitterMs: pacing.jitterMs })) {
    if (value !== undefined && !(Number.isFinite(value) && value >= 0))
      throw new WritePacingInvalid(`${name} must be a number of milliseconds, 0 or more; got ${value}`);
  }
}

/**
 * The shared pacer. Waits of at least a sixth of a minute (10 s) are logged once per installation, reason and
 * episode: the first long wait logs, later ones that begin while the writes are still held up do not. Every wait is observed in the
 * aura_github_write_wait_seconds histogram, by the bound that set it.
 */
export function createWritePacer(options: {
  pool: pg.Pool;
  log: Logger;
  pacing: WritePacing;
  /** The process's own pause between one installation's writes (AURA_GITHUB_WRITE_INTERVAL_MS), to warn when it is the slower pace. */
  intervalMs?: number;
}): WritePacer {
  validateWritePacing(options.pacing);
  const { perMinute, perHour, minuteMs = 60_000, hourMs = 3_600_000, jitterMs = 1_000 } = options.pacing;
  const spacingMs = (minuteMs + jitterMs) / perMinute;
  const windowMs = hourMs + jitterMs;
  const longWaitMs = minuteMs / 6;
  const quietUntil = new Map<string, number>();
  const log = options.log.child({ component: "github-write-pacer" });
  const paceMs = Math.floor(minuteMs / perMinute);
  if (options.intervalMs !== undefined && options.intervalMs > paceMs) {
    log.warn(
      { intervalMs: options.intervalMs, perMinute, paceMs },
      "AURA_GITHUB_WRITE_INTERVAL_MS is longer than AURA_GITHUB_WRITES_PER_MINUTE's spacing, so each process writes more slowly than that: lower it to paceMs or less to use the full pace",
    );
  }

  // A long wait for the same reason that begins before the last one ended (plus the threshold) belongs to the
  // same episode; the hourly budget is reported even when queueing behind the pace was reported just before.
  const reportLongWait = (installationId: number, bound: SlotBound, slot: Date, waitMs: number) => {
    const now = Date.now();
    const episode = `${installationId}:${bound}`;
    const quiet = quietUntil.get(episode) ?? 0;
    quietUntil.set(episode, Math.max(quiet, now + waitMs + longWaitMs));
    if (now < quiet) return;
    const details = { installationId, nextWriteAt: slot.toISOString(), waitSeconds: Math.round(waitMs / 100) / 10, perMinute, perHour };
    if (bound === "hour") {
      log.warn(
        details,
        "An installation used its hourly GitHub write budget (AURA_GITHUB_WRITES_PER_HOUR): its writes wait until the rolling hour frees a slot",
      );
    } else {
      log.warn(details, "An installation has more GitHub writes queued than its pace (AURA_GITHUB_WRITES_PER_MINUTE): its writes wait in line");
    }
  };

  return {
    take: async (installationId) => {
      let row: { wait_ms: number; slot: Date; bound: SlotBound };
      try {
        const { rows } = await options.pool.query<{ wait_ms: number; slot: Date; bound: SlotBound }>(
          "SELECT wait_ms, slot, bound FROM take_github_write_slot($1, $2, $3, $4)",
          [installationId, spacingMs, perHour, windowMs],
        );
        const [first] = rows;
        if (!first) throw new Error("take_github_write_slot returned no slot");
        row = first;
      } catch (error) {
        throw new WritePacingUnavailable(installationId, error);
      }
      recordGitHubWriteWait(row.bound, row.wait_ms / 1000);
      if (row.wait_ms >= longWaitMs) reportLongWait(installationId, row.bound, row.slot, row.wait_ms);
      if (row.wait_ms > 0) await new Promise((resolve) => setTimeout(resolve, row.wait_ms));
    },
  };
}
