// A model call killed mid-flight must not keep its budget reservation forever, and a live call must never
// lose its own. Real PostgreSQL and a real graphile-worker runner: the reservation names the job attempt that
// made it, and "stale" is read from graphile-worker's public `jobs` view and the call's deadline.
import pino from "pino";
import { beforeAll, describe, expect, it } from "vitest";
import type { EffectiveBudgets } from "../../src/config/repo-config.js";
import { effectiveBudgets, parseRepoConfig } from "../../src/config/repo-config.js";
import { loadBudgets } from "../../src/config/policy-files.js";
import { RESERVATION_MARGIN_MS, releaseStaleReservations, reserveSpend } from "../../src/models/budgets.js";
import { reconcileStaleReservations } from "../../src/manager/reconciler.js";
import { startWorker } from "../../src/queue/worker.js";
import { testServices } from "../helpers/services.js";
import { useSpendSubject } from "./spend-fixtures.js";

const silent = pino({ level: "silent" });
// Reservations are made and checked at a fixed moment, so no outcome depends on the clock.
const AT = new Date("2100-01-01T00:00:00Z");
const spend = useSpendSubject({ taskKey: "fix-add", employeeId: "gpt-4.1-mini" });
let budgets: EffectiveBudgets;

beforeAll(() => {
  budgets = effectiveBudgets(loadBudgets(), parseRepoConfig(null));
});

/** Polls a condition another connection makes true (a worker's job finishing), for at most 20 s. */
async function waitFor(probe: () => Promise<true | undefined>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await probe()) === undefined) {
    if (Date.now() > deadline) throw new Error("the condition was not met within 20 s");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stateOf(id: number): Promise<string> {
  return (await spend.db.pool.query<{ state: string }>("SELECT state FROM model_spend WHERE id = $1", [id])).rows[0]?.state ?? "missing";
}

const reserve = (holder?: { jobId: string; attempt: number }) =>
  reserveSpend(spend.db.pool, {
    subject: spend.subject,
    budgets,
    amount: { tokens: 1000, usd: 0.01 },
    purpose: "edits",
    deadlineMs: 60_000,
    at: AT,
    ...(holder ? { holder } : {}),
  });

describe("stale budget reservations", () => {
  it("releases the reservation of an attempt that failed, keeps the running retry's, and releases it once the job is gone", async () => {
    const reservations: number[] = [];
    let openGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      openGate = resolve;
    });
    const worker = await startWorker({
      pool: spend.db.pool,
      log: silent,
      pollInterval: 100,
      tasks: {
        "spend.hold": async (_payload, helpers) => {
          const { reservationId } = await reserve({ jobId: helpers.job.id, attempt: helpers.job.attempts });
          reservations.push(reservationId);
          // The first attempt dies mid-call; the retry is a call still in flight until the gate opens.
          if (helpers.job.attempts === 1) throw new Error("killed mid-call");
          await gate;
        },
      },
    });
    try {
      const job = (await spend.db.pool.query<{ id: string }>("SELECT (graphile_worker.add_job('spend.hold', '{}'::json, max_attempts => 3)).id")).rows[0];
      await waitFor(async () => {
        const row = (
          await spend.db.pool.query("SELECT 1 FROM graphile_worker.jobs WHERE id = $1 AND attempts = 1 AND locked_at IS NULL AND last_error IS NOT NULL", [
            job?.id,
          ])
        ).rowCount;
        return row ? true : undefined;
      });

      const afterFailure = await releaseStaleReservations(spend.db.pool, { at: AT, taskId: spend.subject.taskId ?? undefined });
      expect(afterFailure).toBe(1);
      expect(await stateOf(reservations[0] ?? 0)).toBe("released");

      await spend.db.pool.query("SELECT graphile_worker.reschedule_jobs(ARRAY[$1::bigint], run_at => now())", [job?.id]);
      await waitFor(async () => (reservations.length === 2 ? true : undefined));
      const whileRunning = await releaseStaleReservations(spend.db.pool, { at: AT });
      expect(whileRunning).toBe(0);
      expect(await stateOf(reservations[1] ?? 0)).toBe("reserved");

      openGate();
      await waitFor(async () => ((await spend.db.pool.query("SELECT 1 FROM graphile_worker.jobs WHERE id = $1", [job?.id])).rowCount === 0 ? true : undefined));
      const afterDone = await releaseStaleReservations(spend.db.pool, { at: AT });
      expect(afterDone).toBe(1);
      expect(await stateOf(reservations[1] ?? 0)).toBe("released");
    } finally {
      openGate();
      await worker.stop();
    }
  });

  it("releases a reservation made outside any job only after its call's deadline plus the margin, from the reconciler", async () => {
    const { reservationId } = await reserve();
    const services = testServices(spend.db, { now: () => new Date(AT.getTime() + 60_000 + RESERVATION_MARGIN_MS) });
    const later = testServices(spend.db, { now: () => new Date(AT.getTime() + 60_000 + RESERVATION_MARGIN_MS + 1) });

    const atDeadline = await reconcileStaleReservations(services);
    const stateAtDeadline = await stateOf(reservationId);
    const pastDeadline = await reconcileStaleReservations(later);

    expect(atDeadline).toBe(0);
    expect(stateAtDeadline).toBe("reserved");
    expect(pastDeadline).toBe(1);
    expect(await stateOf(reservationId)).toBe("released");
  });
});
