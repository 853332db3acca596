// The leader's repair duty for the Manager: tasks that stopped making progress are retried once and then go
// to a director; requirements whose intake job was lost are enqueued again; deliveries that were recorded but
// never processed (and have no job) are dispatched again, once. Webhooks are never redelivered by GitHub after a
// failure, so this is what makes "record, then work" safe. Reservations of model calls that can no longer be
// running (a worker killed mid-call) are released, so they stop counting against the budgets. Pull requests
// the gate's migration 020 recorded as open without asking GitHub are confirmed against GitHub once each.
import { releaseStaleReservations } from "../models/budgets.js";
import { redeliverFailedDeliveries } from "../github/redeliver.js";
import { confirmBackfilledPulls } from "../governor/confirm-pulls.js";
import type pg from "pg";
import type { Services } from "../services.js";
import type { Dispatcher } from "../queue/dispatch.js";
import type { Duty } from "../queue/leader.js";
import { routeTask } from "./assign.js";
import { enqueueMany } from "../queue/enqueue.js";
import { deliveryJobs } from "../queue/inbox.js";
import { lockMissedDeliveries, recordRedispatch, setDeliveryProcessed } from "./delivery-store.js";
import { INTAKE_TASK } from "./intake.js";
import { loadRequirementState, lockRequirementsWithLostIntake } from "./requirement-store.js";
import { countStuckRetry, findStuckTasks, lockTaskForStuckCheck } from "./task-store.js";
import { addNotice, refreshStatusComment } from "../core/status-comment.js";
import { inTransaction, transitionRequirement, transitionTask } from "../core/transitions.js";

export type ReconcilerOptions = {
  /** A task in `assigned` or `working` with no state change for this long is stuck (default 30 minutes). */
  stuckTaskMs: number;
  /** A `received`/`planning` requirement without a job for this long has lost its job (default 1 minute). */
  lostIntakeMs: number;
  /** A delivery unprocessed and without a job for this long was missed (default 1 minute). */
  missedDeliveryMs: number;
  /** How many of each kind one pass repairs. */
  batch: number;
};

export const DEFAULT_RECONCILER_OPTIONS: ReconcilerOptions = {
  stuckTaskMs: 30 * 60_000,
  lostIntakeMs: 60_000,
  missedDeliveryMs: 60_000,
  batch: 50,
};

export type StuckTaskAction = { taskId: number; action: "retried" | "needs_director" };

/** Retries each stuck task once (a new routing decision), then hands it to a director. */
export async function reconcileStuckTasks(services: Services, options: Pick<ReconcilerOptions, "stuckTaskMs" | "batch">): Promise<StuckTaskAction[]> {
  const rows = await findStuckTasks(services.pool, { stuckMs: options.stuckTaskMs, batch: options.batch });
  const actions: StuckTaskAction[] = [];
  for (const row of rows) {
    const action = await inTransaction(services.pool, async (client) => {
      const task = await lockTaskForStuckCheck(client, row.id, options.stuckTaskMs);
      if (!task || !task.stale || (task.state !== "assigned" && task.state !== "working")) return null;
      const minutes = Math.round(options.stuckTaskMs / 60_000);
      if (task.stuck_retries === 0) {
        await countStuckRetry(client, row.id);
        if (task.state === "working") {
          await transitionTask(client, row.id, "queued", { actor: "aura/reconciler", reason: `no progress for ${minutes} minutes; retrying once` });
        }
        await routeTask(services, client, row.id);
        return "retried" as const;
      }
      await transitionTask(client, row.id, "needs_director", { actor: "aura/reconciler", reason: `no progress for ${minutes} minutes after a retry` });
      await addNotice(client, row.requirement_id, {
        kind: "warning",
        key: `stuck:${row.id}`,
        body: `Task \`${task.task_key}\` made no progress for ${minutes} minutes, even after a retry. A director can \`/aura reassign ${task.task_key} <employee>\` or close the issue.`,
      });
      await moveRequirementToDirector(client, row.requirement_id, `task ${task.task_key} is stuck`);
      return "needs_director" as const;
    });
    if (action) {
      actions.push({ taskId: row.id, action });
      await refreshStatusComment(services, row.requirement_id).catch((error: unknown) =>
        services.log.warn({ requirementId: row.requirement_id, reason: String(error) }, "status comment refresh failed"),
      );
    }
  }
  return actions;
}

async function moveRequirementToDirector(client: pg.PoolClient, requirementId: number, reason: string): Promise<void> {
  const state = await loadRequirementState(client, requirementId);
  if (state === "in_progress") await transitionRequirement(client, requirementId, "needs_director", { actor: "aura/reconciler", reason });
}

/** Releases the reservations of model calls that can no longer be running (see releaseStaleReservations). */
export async function reconcileStaleReservations(services: Services): Promise<number> {
  const released = await releaseStaleReservations(services.pool, { at: services.now() });
  if (released > 0) services.log.warn({ released }, "released the budget reservations of model calls that are no longer running");
  return released;
}

/** Enqueues intake again for requirements waiting for a plan whose job is gone. Returns their ids. */
export async function reconcileLostIntake(services: Services, options: Pick<ReconcilerOptions, "lostIntakeMs" | "batch">): Promise<number[]> {
  return inTransaction(services.pool, async (client) => {
    const rows = await lockRequirementsWithLostIntake(client, { lostMs: options.lostIntakeMs, batch: options.batch });
    await enqueueMany(
      client,
      rows.map((row) => ({ name: INTAKE_TASK, payload: { installationId: Number(row.installation_id), repo: row.repo, issueNumber: row.issue_number } })),
    );
    if (rows.length > 0) services.log.warn({ requirements: rows.map((row) => row.id) }, "re-enqueued intake for requirements whose job was lost");
    return rows.map((row) => row.id);
  });
}

/**
 * Dispatches again, at most once each, deliveries that were recorded but never processed and have no job
 * (a job lost, or a role that dispatched nothing). A delivery that still dispatches nothing is marked processed.
 */
export async function reconcileMissedDeliveries(
  services: Services,
  dispatch: Dispatcher,
  options: Pick<ReconcilerOptions, "missedDeliveryMs" | "batch">,
): Promise<{ redispatched: string[]; settled: string[] }> {
  return inTransaction(services.pool, async (client) => {
    const rows = await lockMissedDeliveries(client, { missedMs: options.missedDeliveryMs, batch: options.batch });
    const redispatched: string[] = [];
    const settled: string[] = [];
    for (const row of rows) {
      const jobs = dispatch({
        deliveryId: row.delivery_id,
        event: row.event,
        action: row.action ?? undefined,
        installationId: row.installation_id ?? undefined,
        repository: row.repository ?? undefined,
        payload: row.payload,
      });
      if (jobs.length === 0) {
        await setDeliveryProcessed(client, row.delivery_id);
        settled.push(row.delivery_id);
        continue;
      }
      await enqueueMany(client, deliveryJobs(jobs, row.delivery_id));
      await recordRedispatch(client, row.delivery_id, jobs.length);
      redispatched.push(row.delivery_id);
    }
    if (redispatched.length > 0) services.log.warn({ deliveries: redispatched }, "re-dispatched deliveries that were never processed");
    return { redispatched, settled };
  });
}

/**
 * The Manager's leader duties. `dispatchAll` (every role's dispatcher, for deliveries never processed) is handed
 * in by the role registry, which imports this module through the Manager's role.
 */
export function reconcilerDuties(services: Services, dispatchAll: Dispatcher, overrides: Partial<ReconcilerOptions> = {}): Duty[] {
  const options = { ...DEFAULT_RECONCILER_OPTIONS, ...overrides };
  return [
    { name: "manager-stuck-tasks", everyMs: 60_000, run: async () => void (await reconcileStuckTasks(services, options)) },
    { name: "manager-lost-intake", everyMs: 30_000, run: async () => void (await reconcileLostIntake(services, options)) },
    { name: "manager-stale-reservations", everyMs: 60_000, run: async () => void (await reconcileStaleReservations(services)) },
    // Until none is left (then one indexed query finds nothing): each backfilled row is asked about once.
    { name: "governor-backfilled-pulls", everyMs: 5 * 60_000, run: async () => void (await confirmBackfilledPulls(services, options)) },
    {
      // Deliveries GitHub failed to hand over are never retried by GitHub; ask it to redeliver them.
      name: "manager-failed-deliveries",
      everyMs: 5 * 60_000,
      // Give GitHub's own first attempts (and a restarting app's webhook proxy) time to land.
      firstRunAfterMs: 2 * 60_000,
      run: async () => {
        if (!services.github.forApp) return;
        const { redelivered } = await redeliverFailedDeliveries(services.pool, services.github.forApp());
        if (redelivered.length > 0) services.log.warn({ redelivered }, "asked GitHub to redeliver failed webhook deliveries");
      },
    },
    {
      name: "manager-missed-deliveries",
      everyMs: 30_000,
      run: async () => void (await reconcileMissedDeliveries(services, dispatchAll, options)),
    },
  ];
}
