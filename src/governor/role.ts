// The jobs and leader duties of the HNSC Governor and the Auditor: verdicts as commit statuses, evidence as reviews.
// Pull request activity starts `pull.evaluate` (one pending job per PR, so bursts collapse) and, for agent PRs,
// `pull.audit` for the head SHA; a closed pull request starts `pull.gate-closed` (its head commit's status is
// computed again over the pull requests left there); an `aura/hnsc` status event starts the forgery check.
import type { Task } from "graphile-worker";
import { z } from "zod";
import { auditPull, refreshReview } from "../auditor/audit-pull.js";
import { deferIfHalted } from "../director/halt.js";
import type { DeliverySummary, JobSpec } from "../queue/dispatch.js";
import type { Role, Services } from "../services.js";
import { handleStatusEvent } from "./forgery.js";
import { STATUS_CONTEXT } from "./commit-status.js";
import { evaluatePull, recordPullClose } from "./gate.js";
import { isAgentPull } from "./github-pull.js";

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
  const jobs: JobSpec[] = [
    { task: "pull.evaluate", key: `pull:${repo}#${pull.number}`, payload: { installationId, repo, pullNumber: pull.number } },
  ];
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

function tasks(services: Services): Record<string, Task> {
  return {
    "pull.evaluate": async (raw, helpers) => {
      const job = EvaluateJob.parse(raw);
      const key = `pull:${job.repo}#${job.pullNumber}`;
      if (await deferIfHalted(services, helpers, { installationId: job.installationId, task: "pull.evaluate", payload: job, jobKey: key })) return;
      await evaluatePull(services, job, { afterPublish: (evaluation) => refreshReview(services, evaluation) });
    },
    "pull.audit": async (raw, helpers) => {
      const job = AuditJob.parse(raw);
      const key = `audit:${job.repo}#${job.pullNumber}@${job.headSha}`;
      if (await deferIfHalted(services, helpers, { installationId: job.installationId, task: "pull.audit", payload: job, jobKey: key })) return;
      await auditPull(services, job, { holder: { jobId: helpers.job.id, attempt: helpers.job.attempts } });
    },
    "pull.gate-closed": async (raw, helpers) => {
      const job = EvaluateJob.parse(raw);
      const key = `gate-closed:${job.repo}#${job.pullNumber}`;
      if (await deferIfHalted(services, helpers, { installationId: job.installationId, task: "pull.gate-closed", payload: job, jobKey: key })) return;
      await recordPullClose(services, job);
    },
    "pull.forgery": async (raw) => {
      const job = ForgeryJob.parse(raw);
      // The forgery check reacts to GitHub's own record of who set the status, read from the stored delivery.
      const { rows } = await services.pool.query<{ payload: unknown }>("SELECT payload FROM webhook_deliveries WHERE delivery_id = $1", [job.deliveryId]);
      if (!rows[0]) return;
      await handleStatusEvent(services, rows[0].payload, { afterPublish: (evaluation) => refreshReview(services, evaluation) });
    },
  };
}

export const governorRole: Role = {
  name: "governor",
  dispatch: dispatchGovernor,
  tasks,
};
