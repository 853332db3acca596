// The jobs and leader duties of the HNSC Governor and the Auditor: verdicts as commit statuses, evidence as reviews.
// Pull request activity starts `pull.evaluate` (one pending job per PR, so bursts collapse) and, for agent PRs,
// `pull.audit` for the head SHA; a closed pull request starts `pull.gate-closed` (its head commit's status is
// computed again over the pull requests left there); an `aura/hnsc` status event starts the forgery check.
import { z } from "zod";
import { auditPull, refreshReview } from "../auditor/audit-pull.js";
import type { DeliverySummary, JobSpec } from "../queue/dispatch.js";
import type { JobDefinition } from "../queue/halt.js";
import type { Role, Services } from "../services.js";
import { handleStatusEvent } from "./forgery.js";
import { STATUS_CONTEXT } from "./commit-status.js";
import { evaluatePull, recordPullClose } from "./gate.js";
import { isAgentPull } from "../github/pull.js";
import { deliveryPayload } from "../queue/inbox.js";

const EVALUATED_ACTIONS = new Set(["opened", "synchronize", "reopened", "ready_for_review"]);

const PullPayload = z.object({
  changes: z.object({ base: z.unknown().optional() }).optional(),
  pull_request: z.object({
    number: z.number().int(),
    state: z.string(),
    head: z.object({ sha: z.string(), ref: z.string(), repo: z.object({ full_name: z.string() }).nullable() }),
    base: z.object({ repo: z.object({ full_name: z.string() }) }),
  }),
});

/** Which governor and auditor jobs a delivery starts (ids only; the body stays in the inbox). */
export function dispatchGovernor(delivery: DeliverySummary): JobSpec[] {
  const { installationId, repository: repo } = delivery;
  if (installationId === undefined || repo === undefined) return [];
  if (delivery.event === "status") {
    return delivery.payload.context === STATUS_CONTEXT ? [{ task: "pull.forgery", payload: { installationId, repo } }] : [];
  }
  if (delivery.event !== "pull_request" || delivery.action === undefined) return [];
  const parsed = PullPayload.safeParse(delivery.payload);
  if (!parsed.success) return [];
  if (delivery.action === "closed") {
    const number = parsed.data.pull_request.number;
    return [{ task: "pull.gate-closed", key: `gate-closed:${repo}#${number}`, payload: { installationId, repo, pullNumber: number } }];
  }
  const baseChanged = delivery.action === "edited" && parsed.data.changes?.base !== undefined;
  if (!EVALUATED_ACTIONS.has(delivery.action) && !baseChanged) return [];
  const pull = parsed.data.pull_request;
  if (pull.state !== "open") return [];
  const jobs: JobSpec[] = [{ task: "pull.evaluate", key: `pull:${repo}#${pull.number}`, payload: { installationId, repo, pullNumber: pull.number } }];
  if (isAgentPull(pull)) {
    jobs.push({
      task: "pull.audit",
      key: `audit:${repo}#${pull.number}@${pull.head.sha}`,
      payload: { installationId, repo, pullNumber: pull.number, headSha: pull.head.sha },
    });
  }
  return jobs;
}

const EvaluateJob = z.object({ installationId: z.number().int(), repo: z.string(), pullNumber: z.number().int(), deliveryId: z.string().optional() });
const AuditJob = EvaluateJob.extend({ headSha: z.string().regex(/^[0-9a-f]{40}$/) });
const ForgeryJob = z.object({ installationId: z.number().int(), repo: z.string(), deliveryId: z.string() });

/** The payload's installation (a payload that does not parse fails in the handler, as before). */
const payloadInstallation = async (raw: unknown) => EvaluateJob.safeParse(raw).data?.installationId;

function tasks(services: Services): Record<string, JobDefinition> {
  return {
    // Evaluating posts a commit status and refreshes the review: GitHub writes, so it waits out a halt.
    "pull.evaluate": {
      stopsWhileHalted: payloadInstallation,
      run: async (raw) => {
        await evaluatePull(services, EvaluateJob.parse(raw), { afterPublish: (evaluation) => refreshReview(services, evaluation) });
      },
    },
    // The audit runs the tests in the sandbox and posts a review.
    "pull.audit": {
      stopsWhileHalted: payloadInstallation,
      run: async (raw, helpers) => {
        await auditPull(services, AuditJob.parse(raw), { holder: { jobId: helpers.job.id, attempt: helpers.job.attempts } });
      },
    },
    // Recomputes and posts the closed pull request's head status.
    "pull.gate-closed": { stopsWhileHalted: payloadInstallation, run: async (raw) => void (await recordPullClose(services, EvaluateJob.parse(raw))) },
    // Never stops: it answers a forged `aura/hnsc` status by restoring the true one. A halt stops new work; it must
    // not become a window in which a forged green status stands and lets a pull request merge past the gate.
    "pull.forgery": {
      stopsWhileHalted: false,
      run: async (raw) => {
        const job = ForgeryJob.parse(raw);
        // The forgery check reacts to GitHub's own record of who set the status, read from the stored delivery.
        const delivery = await deliveryPayload(services.pool, job.deliveryId);
        if (!delivery) return;
        await handleStatusEvent(services, delivery.payload, { afterPublish: (evaluation) => refreshReview(services, evaluation) });
      },
    },
  };
}

export const governorRole: Role = {
  name: "governor",
  dispatch: dispatchGovernor,
  tasks,
};
