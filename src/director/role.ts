// The jobs and leader duties of the Director's commands, the Accountant's ledger, HR reviews and scoreboards.
// Comments become `director.command`, closed pull requests `pull.closed`, reopened ones `pull.reopened`, and a
// "changes requested" review on an agent pull request `director.review` (a revision round, when the reviewer
// is a director).
import { hrDuties } from "../hr/hr-duty.js";
import type { DeliverySummary, JobSpec } from "../queue/dispatch.js";
import type { Role, Services } from "../services.js";
import type { TaskList } from "../queue/worker.js";
import { handleDirectorCommand } from "./commands.js";
import { DeliveryUnusable, JobPayload } from "./payloads.js";
import { handlePullClosed } from "./pull-closed.js";
import { handlePullReopened } from "./pull-reopened.js";
import { handleChangesRequested } from "./review-revision.js";

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
function job(services: Services, name: string, run: (deliveryId: string, helpers: Parameters<TaskList[string]>[1]) => Promise<unknown>): TaskList[string] {
  return async (payload, helpers) => {
    const { deliveryId } = JobPayload.parse(payload);
    try {
      await run(deliveryId, helpers);
    } catch (error) {
      if (!(error instanceof DeliveryUnusable)) throw error;
      services.log.warn({ job: name, deliveryId, reason: error.message }, "delivery unusable; job dropped");
    }
  };
}

export const directorRole: Role = {
  name: "director",
  dispatch: dispatchDirector,
  tasks: (services) => ({
    "director.command": job(services, "director.command", (deliveryId) => handleDirectorCommand(services, deliveryId)),
    "pull.closed": job(services, "pull.closed", (deliveryId, helpers) => handlePullClosed(services, helpers, deliveryId)),
    "pull.reopened": job(services, "pull.reopened", (deliveryId, helpers) => handlePullReopened(services, helpers, deliveryId)),
    "director.review": job(services, "director.review", (deliveryId, helpers) => handleChangesRequested(services, helpers, deliveryId)),
  }),
  duties: (services) => hrDuties(services),
};
