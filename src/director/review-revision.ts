// A director's "changes requested" review on an agent pull request is a revision round: the task goes back to
// its employee with the review's text. Reviews by people who are not directors change nothing (they are audited).
import { isDirector } from "../github/permissions.js";
import { markDeliveryProcessed } from "../queue/inbox.js";
import type { Services } from "../services.js";
import { requestRevision, RevisionNotPossible } from "../employees/revise.js";
import { refreshStatusComment } from "../core/status-comment.js";
import { inTransaction } from "../core/transitions.js";
import { ReviewSubmittedDelivery, readDelivery, splitRepo } from "./payloads.js";
import { directorConfig } from "./pull-closed.js";
import { findAgentTask } from "./store.js";

export type RevisionOutcome = "not_agent_pull" | "not_director" | "requested" | "refused";

export async function handleChangesRequested(services: Services, deliveryId: string): Promise<RevisionOutcome> {
  const delivery = await readDelivery(services.pool, deliveryId, ReviewSubmittedDelivery);
  const installationId = delivery.installation.id;
  const repo = delivery.repository.full_name;
  const task = await findAgentTask(services.pool, {
    installationId,
    repo,
    pullNumber: delivery.pull_request.number,
    headRef: delivery.pull_request.head.ref,
  });
  if (!task || delivery.review.state !== "changes_requested") {
    await markDeliveryProcessed(services.pool, deliveryId);
    return "not_agent_pull";
  }
  const reviewer = delivery.review.user.login;
  const config = await directorConfig(services, installationId, repo);
  const check = await isDirector(services, { installationId, ...splitRepo(repo), login: reviewer, config });
  if (!check.director) {
    await services.audit.append({
      actor: reviewer,
      action: "director.review_ignored",
      subject: `${repo}#${delivery.pull_request.number}`,
      payload: { installationId, reviewId: delivery.review.id, permission: check.permission, reason: "changes requested by someone who is not a director" },
    });
    await markDeliveryProcessed(services.pool, deliveryId);
    return "not_director";
  }
  try {
    await inTransaction(services.pool, (client) =>
      requestRevision(services, client, {
        taskId: task.taskId,
        instructions: delivery.review.body?.trim() || "Changes requested in the review.",
        by: reviewer,
        sourceKey: `review:${delivery.review.id}`,
      }),
    );
  } catch (error) {
    if (!(error instanceof RevisionNotPossible)) throw error;
    services.log.info({ taskId: task.taskId, reason: error.message }, "changes requested, but the task cannot be revised now");
    await markDeliveryProcessed(services.pool, deliveryId);
    return "refused";
  }
  await refreshStatusComment(services, task.requirementId);
  await markDeliveryProcessed(services.pool, deliveryId);
  return "requested";
}
