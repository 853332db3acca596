// The jobs and leader duties of the Director's commands, the Accountant's ledger, HR reviews and scoreboards.
// Comments become `director.command`, closed pull requests `pull.closed`, reopened ones `pull.reopened`, and a
// "changes requested" review on an agent pull request `director.review` (a revision round, when the reviewer
// is a director).
import { hrDuties } from "../hr/hr-duty.js";
import type { z } from "zod";
import type { DeliverySummary, JobSpec } from "../queue/dispatch.js";
import type { HaltScope, JobDefinition } from "../queue/halt.js";
import type { Role, Services } from "../services.js";
import type { TaskList } from "../queue/worker.js";
import { handleDirectorCommand } from "./commands.js";
import { DeliveryUnusable, JobPayload, PullClosedDelivery, PullReopenedDelivery, readDelivery, ReviewSubmittedDelivery } from "./payloads.js";
import { handlePullClosed } from "./pull-closed.js";
import { handlePullReopened } from "./pull-reopened.js";
import { handleChangesRequested } from "./review-revision.js";
import { findAgentTask } from "./store.js";

type Loose = Record<string, unknown>;

function at(payload: Loose, ...keys: string[]): unknown {
  let value: unknown = payload;
  for (const key of keys) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Loose)[key];
  }
  return value;
}

/** Which Director jobs a delivery starts. Cheap filters only: the job re-checks everything from the inbox. */
export function dispatchDirector(delivery: DeliverySummary): JobSpec[] {
  const { event, action, payload } = delivery;
  if (event === "issue_comment" && action === "created") {
    // Bots (this app included) never command: no job at all, so two apps cannot answer each other in a loop.
    if (at(payload, "comment", "user", "type") === "Bot") return [];
    const body = at(payload, "comment", "body");
    if (typeof body !== "string" || !/\/aura\b/i.test(body)) return [];
    return [{ task: "director.command", payload: {} }];
  }
  if (event === "pull_request" && action === "closed") {
    return [{ task: "pull.closed", payload: {} }];
  }
  if (event === "pull_request" && action === "reopened") {
    return [{ task: "pull.reopened", payload: {} }];
  }
  if (event === "pull_request_review" && action === "submitted" && at(payload, "review", "state") === "changes_requested") {
    if (at(payload, "review", "user", "type") === "Bot") return [];
    return [{ task: "director.review", payload: {} }];
  }
  return [];
}

/** A delivery that cannot be used is logged and dropped (retrying cannot fix it); other errors retry. */
function job(services: Services, name: string, run: (deliveryId: string) => Promise<unknown>): TaskList[string] {
  return async (payload) => {
    const { deliveryId } = JobPayload.parse(payload);
    try {
      await run(deliveryId);
    } catch (error) {
      if (!(error instanceof DeliveryUnusable)) throw error;
      services.log.warn({ job: name, deliveryId, reason: error.message }, "delivery unusable; job dropped");
    }
  };
}

type AgentPullDelivery = { installation: { id: number }; repository: { full_name: string }; pull_request: { number: number; head: { ref: string } } };

/**
 * The halt scope of a job about an agent pull request: the delivery's installation when the pull request is an
 * agent's (and `acts` says the job will act on it). A delivery about another pull request, or one that cannot
 * be used, only gets marked processed or dropped by the handler, which a halt does not stop.
 */
function agentPullScope<D extends AgentPullDelivery>(services: Services, schema: z.ZodType<D>, acts: (delivery: D) => boolean = () => true): HaltScope {
  return async (payload) => {
    const parsed = JobPayload.safeParse(payload);
    if (!parsed.success) return undefined;
    const delivery = await readDelivery(services.pool, parsed.data.deliveryId, schema).catch((error: unknown) => {
      if (error instanceof DeliveryUnusable) return undefined;
      throw error;
    });
    if (!delivery || !acts(delivery)) return undefined;
    const { installation, repository, pull_request: pull } = delivery;
    const task = await findAgentTask(services.pool, {
      installationId: installation.id,
      repo: repository.full_name,
      pullNumber: pull.number,
      headRef: pull.head.ref,
    });
    return task ? installation.id : undefined;
  };
}

export const directorRole: Role = {
  name: "director",
  dispatch: dispatchDirector,
  tasks: (services): Record<string, JobDefinition> => ({
    // Never stops: `/aura resume` itself comes this way, and each command checks what it may do.
    "director.command": { stopsWhileHalted: false, run: job(services, "director.command", (deliveryId) => handleDirectorCommand(services, deliveryId)) },
    // Scoring, strikes, HR review and comments on an agent pull request's close wait out a halt.
    "pull.closed": {
      stopsWhileHalted: agentPullScope(services, PullClosedDelivery),
      run: job(services, "pull.closed", (deliveryId) => handlePullClosed(services, deliveryId)),
    },
    // Reopening an agent pull request changes its task and queues an evaluation: waits out a halt.
    "pull.reopened": {
      stopsWhileHalted: agentPullScope(services, PullReopenedDelivery),
      run: job(services, "pull.reopened", (deliveryId) => handlePullReopened(services, deliveryId)),
    },
    // A director's "changes requested" starts a revision round: waits out a halt.
    "director.review": {
      stopsWhileHalted: agentPullScope(services, ReviewSubmittedDelivery, (delivery) => delivery.review.state === "changes_requested"),
      run: job(services, "director.review", (deliveryId) => handleChangesRequested(services, deliveryId)),
    },
  }),
  duties: (services) => hrDuties(services),
};
