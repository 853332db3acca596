// A rejected agent pull request reopened on GitHub: its task goes back to `pr_open` (and a requirement that
// had failed because of it is in progress again), the rejection stops counting (the PR's outcome will be its
// next close; see STANDING_OUTCOME), and the Governor evaluates the PR again as a new one.
import type pg from "pg";
import { appendEvents } from "../audit/append.js";
import { closedAfter, recordReopen } from "../accountant/ledger.js";
import { reviewAndApply } from "../hr/hr-duty.js";
import { addNotice, refreshStatusComment } from "../core/status-comment.js";
import { inTransaction, transitionRequirement, transitionTask } from "../core/transitions.js";
import { markDeliveryProcessed } from "../queue/inbox.js";
import type { Services } from "../services.js";
import { PullReopenedDelivery, readDelivery } from "./payloads.js";
import { enqueue } from "../queue/enqueue.js";
import { findAgentTask, lockTask, requirementState, type AgentTask } from "./store.js";

export type PullReopenedResult =
  { handled: false; reason: string } | { handled: true; reopened: boolean; taskId: number; superseded: number[]; reason: string };

/** One reopen of an agent pull request, as the steps below need it. */
type Reopen = {
  installationId: number;
  /** `owner/name`. */
  repo: string;
  pull: PullReopenedDelivery["pull_request"];
  /** `owner/name#number`. */
  pullRef: string;
  /** Who reopened it, as the webhook says. */
  by: string | null;
  task: AgentTask;
  deliveryId: string;
};

type ReopenOutcome = { reopened: boolean; superseded: number[]; reason: string };

export async function handlePullReopened(services: Services, deliveryId: string): Promise<PullReopenedResult> {
  const delivery = await readDelivery(services.pool, deliveryId, PullReopenedDelivery);
  const installationId = delivery.installation.id;
  const repo = delivery.repository.full_name;
  const pull = delivery.pull_request;
  const task = await findAgentTask(services.pool, { installationId, repo, pullNumber: pull.number, headRef: pull.head.ref });
  if (!task) {
    await markDeliveryProcessed(services.pool, deliveryId);
    return { handled: false, reason: "not an agent pull request" };
  }
  const reopen: Reopen = { installationId, repo, pull, pullRef: `${repo}#${pull.number}`, by: delivery.sender?.login ?? null, task, deliveryId };

  const result = await inTransaction(services.pool, (client) => recordPullReopen(client, reopen));

  // The rejection no longer counts: HR looks at the employee again, and the status comment shows the PR open.
  if (task.employeeId) await reviewAndApply(services, installationId, task.employeeId, { requirementIds: [task.requirementId] });
  await refreshStatusComment(services, task.requirementId);
  await markDeliveryProcessed(services.pool, deliveryId);
  return { handled: true, taskId: task.taskId, ...result };
}

/** The reopen in the ledger and, when its task ended with this PR's rejection, the task open again; in one transaction. */
async function recordPullReopen(client: pg.PoolClient, reopen: Reopen): Promise<ReopenOutcome> {
  const { installationId, repo, pull, by, task } = reopen;
  // The task row first, before any other write: the close of this PR takes the same lock first.
  const current = await lockTask(client, task.taskId);
  const recorded = await recordReopen(client, {
    installationId,
    repo,
    prNumber: pull.number,
    taskId: task.taskId,
    reopenedAt: new Date(pull.updated_at),
    reopenedBy: by,
    deliveryId: reopen.deliveryId,
  });
  // Recorded before: a redelivery, or a retry after the commit. The follow-ups are idempotent.
  if (recorded === null) return { reopened: false, superseded: [] as number[], reason: "reopen recorded before" };
  const stale = await closedAfter(client, { installationId, repo, prNumber: pull.number, at: new Date(pull.updated_at) });
  const staysClosed = whyTaskStaysClosed(current, pull.number, stale);
  if (staysClosed !== null) {
    await appendEvents(client, [
      {
        actor: by ?? "unknown",
        action: "pull.reopened",
        subject: reopen.pullRef,
        payload: { installationId, taskId: task.taskId, reopened: false, reason: staysClosed },
      },
    ]);
    return { reopened: false, superseded: recorded.superseded, reason: staysClosed };
  }
  await reopenTask(client, reopen, recorded.superseded);
  await appendEvents(client, [
    {
      actor: by ?? "unknown",
      action: "pull.reopened",
      subject: reopen.pullRef,
      payload: { installationId, taskId: task.taskId, employeeId: task.employeeId, reopened: true, superseded: recorded.superseded },
    },
  ]);
  return { reopened: true, superseded: recorded.superseded, reason: "task back to pr_open" };
}

/**
 * Why the task does not come back (null: it does). Only a task that ended with this PR's rejection comes back;
 * one reassigned since has moved on, and a close delivered after this reopen stands.
 */
function whyTaskStaysClosed(current: { state: string; prNumber: number | null } | undefined, pullNumber: number, closedAgain: boolean): string | null {
  const ownPull = current?.prNumber === null || current?.prNumber === pullNumber;
  if (current?.state !== "rejected") return `task is ${current?.state ?? "gone"}, not rejected`;
  if (!ownPull) return "task has a newer pull request";
  if (closedAgain) return "the pull request was closed again after this reopen";
  return null;
}

/** The task back to `pr_open` (and a requirement that failed because of it in progress again), a notice, and a new evaluation. */
async function reopenTask(client: pg.PoolClient, reopen: Reopen, superseded: number[]): Promise<void> {
  const { installationId, repo, pull, by, task } = reopen;
  await transitionTask(client, task.taskId, "pr_open", {
    actor: by ?? "aura/accountant",
    reason: `PR #${pull.number} reopened${by ? ` by @${by}` : ""}`,
    details: { pullNumber: pull.number, supersededLedgerRows: superseded },
  });
  if ((await requirementState(client, task.requirementId)) === "failed") {
    await transitionRequirement(client, task.requirementId, "in_progress", {
      actor: by ?? "aura/accountant",
      reason: `PR #${pull.number} of \`${task.taskKey}\` reopened`,
    });
  }
  await addNotice(client, task.requirementId, {
    kind: "info",
    body: `PR #${pull.number} (\`${task.taskKey}\`) was reopened${by ? ` by @${by}` : ""}: its rejection no longer counts, and its next close decides the outcome.`,
    key: `reopened:${reopen.deliveryId}`,
  });
  // Evaluated again as a new PR, after the task is open again (the Governor's own job for this delivery
  // may have run before; the same job key collapses the two when it has not).
  await enqueue(client, "pull.evaluate", { installationId, repo, pullNumber: pull.number });
}
