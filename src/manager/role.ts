// The jobs and leader duties of the Manager: intake, planning, routing (and routing again after a provider failure), the requirement status comment, the reconciler.
import type { DeliverySummary, JobSpec } from "../queue/dispatch.js";
import type { Role } from "../services.js";
import { INSTALLATION_TASK, installationHaltScope, installationJobKey, runInstallationJob } from "./installation.js";
import { INTAKE_TASK, intakeHaltScope, intakeJobKey, runIntakeJob } from "./intake.js";
import { LABEL_SYNC_TASK, labelSyncHaltScope, labelSyncJobKey, runLabelSyncJob } from "./label-sync.js";
import { reconcilerDuties } from "./reconciler.js";
import { REROUTE_TASK, rerouteHaltScope, runRerouteJob } from "./reroute.js";

/** Issue actions that can start, restart or cancel a requirement; the job decides what each one means. */
const ISSUE_ACTIONS: ReadonlySet<string> = new Set(["labeled", "unlabeled", "closed", "reopened"]);

function issueNumberOf(payload: Record<string, unknown>): number | undefined {
  const issue = payload.issue;
  if (typeof issue !== "object" || issue === null || !("number" in issue)) return undefined;
  return typeof issue.number === "number" ? issue.number : undefined;
}

/**
 * Every `issues.labeled` is enqueued (the label name is only known from the repository's config, which the job
 * reads): the webhook path stays a few microseconds of work, and the job ignores other labels cheaply.
 */
export function dispatchManager(delivery: DeliverySummary): JobSpec[] {
  const { installationId, repository } = delivery;
  if (installationId === undefined) return [];
  if (delivery.event === "issues" && delivery.action !== undefined && ISSUE_ACTIONS.has(delivery.action)) {
    const issueNumber = issueNumberOf(delivery.payload);
    if (issueNumber === undefined || repository === undefined) return [];
    return [{ task: INTAKE_TASK, key: intakeJobKey(repository, issueNumber), payload: { installationId, repo: repository, issueNumber } }];
  }
  const installationEvent =
    (delivery.event === "installation" && (delivery.action === "created" || delivery.action === "deleted")) ||
    (delivery.event === "installation_repositories" && (delivery.action === "added" || delivery.action === "removed"));
  if (installationEvent) return [{ task: INSTALLATION_TASK, key: installationJobKey(installationId), payload: { installationId } }];
  // A deleted or renamed label may be the requirement label, which the job puts back.
  if (delivery.event === "label" && (delivery.action === "deleted" || delivery.action === "edited") && repository !== undefined) {
    return [{ task: LABEL_SYNC_TASK, key: labelSyncJobKey(repository), payload: { installationId, repo: repository } }];
  }
  return [];
}

export const managerRole: Role = {
  name: "manager",
  dispatch: dispatchManager,
  tasks: (services) => ({
    // Planning calls models and comments on the issue: stops while halted (each scope says when it does not).
    [INTAKE_TASK]: { stopsWhileHalted: (payload) => intakeHaltScope(services, payload), run: (payload, helpers) => runIntakeJob(services, payload, helpers) },
    [INSTALLATION_TASK]: {
      stopsWhileHalted: (payload) => installationHaltScope(services, payload),
      run: (payload, helpers) => runInstallationJob(services, payload, helpers),
    },
    [LABEL_SYNC_TASK]: { stopsWhileHalted: (payload) => labelSyncHaltScope(services, payload), run: (payload) => runLabelSyncJob(services, payload) },
    // Routing after a provider failure writes the status comment and starts work: stops while halted.
    [REROUTE_TASK]: {
      stopsWhileHalted: (payload) => rerouteHaltScope(services, payload),
      run: async (payload, helpers) => {
        const outcome = await runRerouteJob(services, payload);
        helpers.logger.debug(`task.reroute finished: ${outcome.kind === "routed" ? `routed to ${outcome.employeeId ?? "nobody"}` : outcome.reason}`);
      },
    },
  }),
  duties: (services, { dispatchAll }) => reconcilerDuties(services, dispatchAll),
};
