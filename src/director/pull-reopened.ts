// A rejected agent pull request reopened on GitHub: its task goes back to `pr_open` (and a requirement that
// had failed because of it is in progress again), the rejection stops counting (the PR's outcome will be its
// next close; see STANDING_OUTCOME), and the Governor evaluates the PR again as a new one.
import { appendEvents } from "../audit/append.js";
import { closedAfter, recordReopen } from "../accountant/ledger.js";
import { reviewAndApply } from "../hr/hr-duty.js";
import { addNotice, refreshStatusComment } from "../core/status-comment.js";
import { inTransaction, transitionRequirement, transitionTask } from "../core/transitions.js";
import { markDeliveryProcessed } from "../queue/inbox.js";
import type { Services } from "../services.js";
import { PullReopenedDelivery, readDelivery } from "./payloads.js";
import { findAgentTask } from "./pull-closed.js";
import { enqueue } from "../queue/enqueue.js";

export type PullReopenedResult =
  { handled: false; reason: string } | { handled: true; reopened: boolean; taskId: number; superseded: number[]; reason: string };

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
  const by = delivery.sender?.login ?? null;
  const pullRef = `${repo}#${pull.number}`;

  const result = await inTransaction(services.pool, async (client) => {
    const current = (
      await client.query<{ state: string; pr_number: number | null }>("SELECT state, pr_number FROM tasks WHERE id = $1 FOR UPDATE", [task.taskId])
    ).rows[0];
    const recorded = await recordReopen(client, {
      installationId,
      repo,
      prNumber: pull.number,
      taskId: task.taskId,
      reopenedAt: new Date(pull.updated_at),
      reopenedBy: by,
      deliveryId,
    });
    // Recorded before: a redelivery, or a retry after the commit. The follow-ups below are idempotent.
    if (recorded === null) return { reopened: false, superseded: [] as number[], reason: "reopen recorded before" };
    // Only a task that ended with this PR's rejection comes back; one reassigned since has moved on.
    const ownPull = current?.pr_number === null || current?.pr_number === pull.number;
    const reopenedAt = new Date(pull.updated_at);
    const stale = await closedAfter(client, { installationId, repo, prNumber: pull.number, at: reopenedAt });
    if (current?.state !== "rejected" || !ownPull || stale) {
      const reason =
        current?.state !== "rejected"
          ? `task is ${current?.state ?? "gone"}, not rejected`
          : !ownPull
            ? "task has a newer pull request"
            : "the pull request was closed again after this reopen";
      await appendEvents(client, [
        { actor: by ?? "unknown", action: "pull.reopened", subject: pullRef, payload: { installationId, taskId: task.taskId, reopened: false, reason } },
      ]);
      return { reopened: false, superseded: recorded.superseded, reason };
    }
    await transitionTask(client, task.taskId, "pr_open", {
      actor: by ?? "aura/accountant",
      reason: `PR #${pull.number} reopened${by ? ` by @${by}` : ""}`,
      details: { pullNumber: pull.number, supersededLedgerRows: recorded.superseded },
    });
    const requirement = (await client.query<{ state: string }>("SELECT state FROM requirements WHERE id = $1", [task.requirementId])).rows[0];
    if (requirement?.state === "failed") {
      await transitionRequirement(client, task.requirementId, "in_progress", {
        actor: by ?? "aura/accountant",
        reason: `PR #${pull.number} of \`${task.taskKey}\` reopened`,
      });
    }
    await addNotice(client, task.requirementId, {
      kind: "info",
      body: `PR #${pull.number} (\`${task.taskKey}\`) was reopened${by ? ` by @${by}` : ""}: its rejection no longer counts, and its next close decides the outcome.`,
      key: `reopened:${deliveryId}`,
    });
    // Evaluated again as a new PR, after the task is open again (the Governor's own job for this delivery
    // may have run before; the same job key collapses the two when it has not).
    await enqueue(client, "pull.evaluate", { installationId, repo, pullNumber: pull.number });
    await appendEvents(client, [
      {
        actor: by ?? "unknown",
        action: "pull.reopened",
        subject: pullRef,
        payload: { installationId, taskId: task.taskId, employeeId: task.employeeId, reopened: true, superseded: recorded.superseded },
      },
    ]);
    return { reopened: true, superseded: recorded.superseded, reason: "task back to pr_open" };
  });

  // The rejection no longer counts: HR looks at the employee again, and the status comment shows the PR open.
  if (task.employeeId) await reviewAndApply(services, installationId, task.employeeId, { requirementIds: [task.requirementId] });
  await refreshStatusComment(services, task.requirementId);
  await markDeliveryProcessed(services.pool, deliveryId);
  return { handled: true, taskId: task.taskId, ...result };
}
