// The requirement intake job, one per issue (job key `requirement:<repo>#<n>`). It applies every unprocessed
// `issues` delivery of that issue in arrival order (labelled, unlabelled, closed, reopened), so a job collapsed by
// its key loses nothing; then, if the requirement is waiting for a plan, it plans it; then it refreshes the
// status comment. Jobs for the same issue never overlap (an advisory lock), and every step is idempotent: a
// redelivery, a second label, a retry or a restart never produces a second plan, task or comment.
import { trySessionLock } from "../db/advisory-lock.js";
import { markDeliveryProcessed } from "../queue/inbox.js";
import { createHash } from "node:crypto";
import type { JobHelpers } from "graphile-worker";
import type pg from "pg";
import type { Logger } from "pino";
import { z } from "zod";
import { appendEvents } from "../audit/append.js";
import { parseRepoConfig, RepoConfig, effectiveBudgets, type EffectiveBudgets } from "../config/repo-config.js";
import { releaseStaleReservations, utcDay, type SpendHolder } from "../models/budgets.js";
import type { InstallationOctokit } from "../github/octokit.js";
import { atLeast, getPermission, type Permission } from "../github/permissions.js";
import { readRepoConfig, type RepoConfigResult } from "../github/repo-config-reader.js";
import { upsertStickyComment } from "../github/sticky-comment.js";
import { enqueue } from "../queue/enqueue.js";
import type { Services } from "../services.js";
import {
  CONFIG_ERROR_MARKER,
  PLANNING_BUDGET_MARKER,
  REFUSAL_MARKER,
  configErrorComment,
  crashExplanation,
  invalidOutputExplanation,
  noManagerExplanation,
  planningBudgetComment,
  planningBudgetExplanation,
  planRefusedExplanation,
  providersFailedExplanation,
  refusalComment,
} from "./intake-messages.js";
import { cancelRequirement, releaseDependents } from "./lifecycle.js";
import { buildPlanningMessages, type PlanningInput, type PlanningPrompt, type ProtectedGlob, type TaskPlan } from "./plan.js";
import { draftPlan, type DraftOutcome } from "./planner.js";
import { readRepoView, type RepoView } from "./repo-view.js";
import { loadLatestIssuePayload, loadUnprocessedIssueDeliveries } from "./delivery-store.js";
import { isInstallationRemoved, recordInstallation } from "./installation-store.js";
import {
  insertRequirement,
  loadIntakeComment,
  loadIssueRequirement,
  loadRequirementLabels,
  lockIssueRequirement,
  recordRefusalComment,
  renewRequirement,
  saveIntakeComment,
  setPlanProblems,
  storePlanRevision,
  type RequirementFields,
  type RequirementRow,
} from "./requirement-store.js";
import { insertPlannedTask, lockEarlierPlanTasks } from "./task-store.js";
import { canTransition } from "../core/state-machine.js";
import { refreshStatusComment } from "../core/status-comment.js";
import { inTransaction, transitionRequirement, transitionTask } from "../core/transitions.js";

export const INTAKE_TASK = "requirement.intake" as const;

export const intakeJobKey = (repo: string, issueNumber: number) => `requirement:${repo}#${issueNumber}`;

/** The prompt budget for planning, in estimated tokens (fits the smallest manager model's context). */
export const PLANNING_PROMPT_TOKENS = 16_000;

/** How long a job waits before trying again when another job holds its issue. */
const BUSY_RETRY_MS = 2_000;

const DEFAULT_LABEL = RepoConfig.parse({}).requirementLabel;

export const IntakePayload = z.object({
  installationId: z.number().int().positive(),
  repo: z.string().regex(/^[^/\s]+\/[^/\s]+$/),
  issueNumber: z.number().int().positive(),
  deliveryId: z.string().optional(),
});
export type IntakePayload = z.infer<typeof IntakePayload>;

/** The fields of an `issues` delivery the intake relies on; the rest is kept but unused. */
export const IssuesDelivery = z.looseObject({
  action: z.string(),
  issue: z.looseObject({
    number: z.number().int(),
    title: z.string(),
    body: z.string().nullable().optional(),
    state: z.string(),
    labels: z.array(z.looseObject({ name: z.string() })).optional(),
  }),
  label: z.looseObject({ name: z.string() }).optional(),
  sender: z.looseObject({ login: z.string(), type: z.string().optional() }),
  repository: z.looseObject({
    id: z.number().int(),
    full_name: z.string(),
    private: z.boolean(),
    default_branch: z.string(),
  }),
});
export type IssuesDelivery = z.infer<typeof IssuesDelivery>;

type Delivery = { deliveryId: string; body: IssuesDelivery };

/** What planning a requirement asks the manager models, and the limits their plan is held to. */
type PlanningRequest = {
  config: RepoConfig;
  view: RepoView;
  budgets: EffectiveBudgets;
  budget: NonNullable<PlanningInput["budget"]>;
  protectedGlobs: ProtectedGlob[];
  prompt: PlanningPrompt;
};

/** Every manager model failed for provider reasons; the job is retried later (not a quality failure). */
export class ManagerModelsUnavailable extends Error {
  override name = "ManagerModelsUnavailable";
}

function isBot(sender: IssuesDelivery["sender"]): boolean {
  return sender.type === "Bot" || sender.login.endsWith("[bot]");
}

const sha = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * The intake job's halt scope: its installation, unless that was removed (the job then only drops the issue's
 * deliveries, which a halt does not stop: a removed installation is never resumed).
 */
export async function intakeHaltScope(services: Services, rawPayload: unknown): Promise<number | undefined> {
  const parsed = IntakePayload.safeParse(rawPayload);
  if (!parsed.success) return undefined;
  return (await new Intake(services, parsed.data).installationRemoved()) ? undefined : parsed.data.installationId;
}

/** Runs the `requirement.intake` job. */
export async function runIntakeJob(services: Services, rawPayload: unknown, helpers: Pick<JobHelpers, "job">): Promise<void> {
  const payload = IntakePayload.parse(rawPayload);
  const jobKey = intakeJobKey(payload.repo, payload.issueNumber);
  const intake = new Intake(services, payload);
  if (await intake.installationRemoved()) {
    await intake.dropDeliveries("the installation was removed");
    return;
  }
  // Only one job works on an issue at a time.
  const lock = await trySessionLock(services.pool, "aura:intake", jobKey);
  if (!lock) {
    await enqueue(services.pool, INTAKE_TASK, payload, { runAt: new Date(Date.now() + BUSY_RETRY_MS) });
    return;
  }
  try {
    await intake.recordInstallation();
    await intake.applyDeliveries();
    await intake.planIfWaiting(helpers.job.attempts >= helpers.job.max_attempts, { jobId: helpers.job.id, attempt: helpers.job.attempts });
    await intake.refreshStatus();
  } catch (error) {
    // On the last attempt a requirement must not stay in `planning` forever: a director is told instead.
    if (helpers.job.attempts >= helpers.job.max_attempts && (await intake.giveUp(error, helpers.job.attempts))) return;
    throw error;
  } finally {
    await lock.release();
  }
}

class Intake {
  private readonly owner: string;
  private readonly name: string;
  private readonly subject: string;
  private readonly log: Logger;
  private configResult: RepoConfigResult | undefined;
  /** Whether the status comment shows the latest state (false until refreshed in this job). */
  private statusFresh = false;

  constructor(
    private readonly services: Services,
    private readonly job: IntakePayload,
  ) {
    const [owner = "", name = ""] = job.repo.split("/");
    this.owner = owner;
    this.name = name;
    this.subject = `${job.repo}#${job.issueNumber}`;
    this.log = services.log.child({ task: INTAKE_TASK, repo: job.repo, issue: job.issueNumber });
  }

  private get octokit(): InstallationOctokit {
    return this.services.github.forInstallation(this.job.installationId);
  }

  async installationRemoved(): Promise<boolean> {
    return isInstallationRemoved(this.services.pool, this.job.installationId);
  }

  async recordInstallation(): Promise<void> {
    await recordInstallation(this.services.pool, this.job.installationId, this.owner);
  }

  private async deliveries(): Promise<Delivery[]> {
    const deliveries: Delivery[] = [];
    for (const row of await loadUnprocessedIssueDeliveries(this.services.pool, this.job)) {
      const parsed = IssuesDelivery.safeParse(row.payload);
      if (parsed.success) deliveries.push({ deliveryId: row.delivery_id, body: parsed.data });
      else
        await markDeliveryProcessed(
          this.services.pool,
          row.delivery_id,
          `not an issues payload the Manager understands: ${parsed.error.message.slice(0, 300)}`,
        );
    }
    return deliveries;
  }

  async dropDeliveries(reason: string): Promise<void> {
    for (const delivery of await this.deliveries()) await markDeliveryProcessed(this.services.pool, delivery.deliveryId, reason);
  }

  private async requirement(): Promise<RequirementRow | undefined> {
    return loadIssueRequirement(this.services.pool, this.job);
  }

  /** The repository config on the default branch, read at most once per job. */
  private async config(): Promise<RepoConfigResult> {
    this.configResult ??= await readRepoConfig(this.services, this.octokit, { owner: this.owner, repo: this.name });
    return this.configResult;
  }

  async applyDeliveries(): Promise<void> {
    for (const delivery of await this.deliveries()) {
      switch (delivery.body.action) {
        case "labeled":
          await this.onLabeled(delivery);
          break;
        case "unlabeled":
          await this.onUnlabeled(delivery);
          break;
        case "closed":
          await this.onCancel(delivery, `the issue was closed by @${delivery.body.sender.login}`);
          break;
        case "reopened":
          await this.onReopened(delivery);
          break;
        default:
          await markDeliveryProcessed(this.services.pool, delivery.deliveryId);
      }
    }
  }

  private async onLabeled(delivery: Delivery): Promise<void> {
    const { body } = delivery;
    if (body.issue.state !== "open") return markDeliveryProcessed(this.services.pool, delivery.deliveryId, "label added to a closed issue");
    const config = await this.config();
    if (!config.ok) return this.reportInvalidConfig(delivery, config.message, body.label?.name ?? "");
    if (body.label?.name !== config.config.requirementLabel) return markDeliveryProcessed(this.services.pool, delivery.deliveryId);
    await this.start(delivery, config.config, "labelled");
  }

  private async onReopened(delivery: Delivery): Promise<void> {
    const labels = (delivery.body.issue.labels ?? []).map((label) => label.name);
    const config = await this.config();
    if (!config.ok) {
      const existing = await this.requirement();
      const label = existing?.requirement_label ?? DEFAULT_LABEL;
      if (labels.includes(label)) return this.reportInvalidConfig(delivery, config.message, label);
      return markDeliveryProcessed(this.services.pool, delivery.deliveryId);
    }
    if (!labels.includes(config.config.requirementLabel)) return markDeliveryProcessed(this.services.pool, delivery.deliveryId);
    await this.start(delivery, config.config, "reopened");
  }

  private async onUnlabeled(delivery: Delivery): Promise<void> {
    const existing = await this.requirement();
    const label = delivery.body.label?.name;
    if (!existing || label === undefined || label !== existing.requirement_label) return markDeliveryProcessed(this.services.pool, delivery.deliveryId);
    await this.onCancel(delivery, `the \`${label}\` label was removed by @${delivery.body.sender.login}`);
  }

  private async onCancel(delivery: Delivery, reason: string): Promise<void> {
    const existing = await this.requirement();
    if (!existing) return markDeliveryProcessed(this.services.pool, delivery.deliveryId);
    await inTransaction(this.services.pool, async (client) => {
      await cancelRequirement(client, existing.id, { actor: delivery.body.sender.login, reason, noticeKey: `cancelled:${delivery.deliveryId}` });
      await markDeliveryProcessed(client, delivery.deliveryId);
    });
    this.statusFresh = false;
  }

  /** A labelled or reopened issue: check who did it, then create the requirement (or receive it again). */
  private async start(delivery: Delivery, config: RepoConfig, how: "labelled" | "reopened"): Promise<void> {
    const { body } = delivery;
    const existing = await this.requirement();
    // Labelled twice, or redelivered: the requirement is already under way.
    if (existing && existing.state !== "cancelled") return markDeliveryProcessed(this.services.pool, delivery.deliveryId, "requirement already exists");

    const sender = body.sender.login;
    let permission: Permission | null = null;
    if (!isBot(body.sender)) permission = await getPermission(this.octokit, { owner: this.owner, repo: this.name, username: sender });
    if (permission === null || !atLeast(permission, "triage")) return this.refuse(delivery, config.requirementLabel, permission);

    const fields: RequirementFields = {
      title: body.issue.title,
      labeledBy: sender,
      defaultBranch: body.repository.default_branch,
      repoConfig: config,
      requirementLabel: config.requirementLabel,
      private: body.repository.private,
      repoId: body.repository.id,
    };
    await inTransaction(this.services.pool, async (client) => {
      const id = await insertRequirement(client, this.job, fields);
      if (id !== undefined) {
        await appendEvents(client, [
          {
            actor: sender,
            action: "requirement.received",
            subject: this.subject,
            payload: { requirementId: id, how, permission, label: config.requirementLabel, deliveryId: delivery.deliveryId },
          },
        ]);
      } else {
        const row = await lockIssueRequirement(client, this.job);
        if (row?.state === "cancelled") {
          await renewRequirement(client, row.id, fields);
          await transitionRequirement(client, row.id, "received", {
            actor: sender,
            reason: how === "labelled" ? `labelled again by @${sender}` : `issue reopened by @${sender}`,
            details: { permission, deliveryId: delivery.deliveryId },
          });
        }
      }
      await markDeliveryProcessed(client, delivery.deliveryId);
    });
    this.statusFresh = false;
  }

  /**
   * One polite comment per issue, ever, to a person; an audit event for every refused attempt. A bot gets no
   * comment at all: bots do not read replies, and two bots answering each other would loop.
   */
  private async refuse(delivery: Delivery, label: string, permission: Permission | null): Promise<void> {
    const { sender } = delivery.body;
    const bot = isBot(sender);
    const already = await loadIntakeComment(this.services.pool, this.job, "refusal");
    let commentId: number | null = null;
    let body = "";
    if (already === undefined && !bot) {
      body = refusalComment({ login: sender.login, label, permission });
      // A crash after posting finds the comment again by its marker instead of posting a second one.
      ({ commentId } = await upsertStickyComment(this.octokit, {
        owner: this.owner,
        repo: this.name,
        issueNumber: this.job.issueNumber,
        marker: REFUSAL_MARKER,
        body,
      }));
    }
    await inTransaction(this.services.pool, async (client) => {
      if (commentId !== null) await recordRefusalComment(client, this.job, { id: commentId, bodyHash: sha(body) });
      await appendEvents(client, [
        {
          actor: sender.login,
          action: "requirement.refused",
          subject: this.subject,
          payload: {
            reason: bot ? "bot" : "permission",
            permission,
            required: "triage",
            label,
            commented: commentId !== null,
            deliveryId: delivery.deliveryId,
          },
        },
      ]);
      await markDeliveryProcessed(client, delivery.deliveryId, bot ? "refused: bot sender" : `refused: permission ${permission ?? "none"}`);
    });
  }

  /**
   * An invalid `.github/aura.yml`: the label that was added cannot be checked against the configured one, so the
   * comment goes only where the label is plausibly the requirement label, and never twice with the same text.
   */
  private async reportInvalidConfig(delivery: Delivery, message: string, label: string): Promise<void> {
    const known = await loadRequirementLabels(this.services.pool, this.job.installationId, this.job.repo);
    const plausible = label === DEFAULT_LABEL || /aura/i.test(label) || known.includes(label);
    if (!plausible) return markDeliveryProcessed(this.services.pool, delivery.deliveryId, "repository config invalid; label not recognisable");
    // A bot could not start a requirement with a valid config either: refused in the audit log, and no comment.
    if (isBot(delivery.body.sender)) return this.refuse(delivery, label, null);
    const body = configErrorComment({ message, branch: delivery.body.repository.default_branch, label });
    const previous = await loadIntakeComment(this.services.pool, this.job, "config-error");
    let commentId = previous?.comment_id ?? null;
    if (previous?.body_hash !== sha(body)) {
      ({ commentId } = await upsertStickyComment(this.octokit, {
        owner: this.owner,
        repo: this.name,
        issueNumber: this.job.issueNumber,
        marker: CONFIG_ERROR_MARKER,
        body,
        commentId,
      }));
    }
    await inTransaction(this.services.pool, async (client) => {
      await saveIntakeComment(client, this.job, "config-error", { id: commentId, bodyHash: sha(body) });
      await appendEvents(client, [
        {
          actor: delivery.body.sender.login,
          action: "repo_config.invalid",
          subject: this.subject,
          payload: { message, label, deliveryId: delivery.deliveryId },
        },
      ]);
      await markDeliveryProcessed(client, delivery.deliveryId, "repository config invalid");
    });
  }

  /** The issue text the planner reads: the newest delivery's copy (the text at the time it was labelled). */
  private async issueText(): Promise<{ title: string; body: string }> {
    const parsed = IssuesDelivery.safeParse(await loadLatestIssuePayload(this.services.pool, this.job));
    if (parsed.success) return { title: parsed.data.issue.title, body: parsed.data.issue.body ?? "" };
    const { data } = await this.octokit.request("GET /repos/{owner}/{repo}/issues/{issue_number}", {
      owner: this.owner,
      repo: this.name,
      issue_number: this.job.issueNumber,
    });
    return { title: data.title, body: data.body ?? "" };
  }

  /** Plans a requirement that is `received` (or still `planning` after a crash). */
  async planIfWaiting(finalAttempt: boolean, holder: SpendHolder): Promise<void> {
    const requirement = await this.requirement();
    if (!requirement || (requirement.state !== "received" && requirement.state !== "planning")) return;
    if (requirement.state === "received") {
      await inTransaction(this.services.pool, (client) =>
        transitionRequirement(client, requirement.id, "planning", { actor: "aura/manager", reason: "planning started" }),
      );
      await this.refreshStatus(true);
    }
    const request = await this.planningRequest(requirement);
    // An earlier attempt killed mid-call must not keep its reservation against the caps this plan needs.
    await releaseStaleReservations(this.services.pool, { at: this.services.now(), requirementId: requirement.id });
    const outcome = await this.draft(requirement.id, request, holder);
    const planning = { record: outcome.record, prompt: { estimatedTokens: request.prompt.estimatedTokens, truncated: request.prompt.truncated } };
    if (outcome.kind === "providers-failed" && !finalAttempt) return this.deferPlanning(requirement.id, outcome.reason, planning);
    await this.recordDraft(requirement.id, request.config, outcome, planning);
    this.statusFresh = false;
    if (outcome.kind === "over-budget") await this.reportPlanningBudget(outcome.reason);
  }

  /** What the planner is asked and held to: the prompt (issue, tree, readme, manifests) and the repository's limits. */
  private async planningRequest(requirement: RequirementRow): Promise<PlanningRequest> {
    const config = requirement.repo_config ? RepoConfig.parse(requirement.repo_config) : parseRepoConfig(null);
    const branch = requirement.default_branch ?? (await this.defaultBranch());
    // The repository and the issue are read side by side: on GitHub each read is a round trip.
    const [view, issue] = await Promise.all([readRepoView(this.octokit, { owner: this.owner, repo: this.name, ref: branch }), this.issueText()]);
    const budgets = effectiveBudgets(this.services.policies.budgets, config);
    const protectedGlobs: ProtectedGlob[] = this.services.policies.protectedPaths.protected.map((entry) => ({
      glob: entry.glob,
      reason: entry.reason,
      allowTaskClasses: entry.allowTaskClasses,
    }));
    const budget = { perTask: budgets.perTask, perRequirement: budgets.perRequirement };
    const prompt = buildPlanningMessages({
      issueTitle: issue.title,
      issueBody: issue.body,
      fileTree: view.fileTree,
      readme: view.readme,
      manifests: view.manifests,
      tokenBudget: PLANNING_PROMPT_TOKENS,
      protectedGlobs,
      maxTasks: config.maxTasks,
      budget,
    });
    return { config, view, budgets, budget, protectedGlobs, prompt };
  }

  /** Asks the manager models for a plan, spending against the requirement's budgets. */
  private async draft(requirementId: number, request: PlanningRequest, holder: SpendHolder): Promise<DraftOutcome> {
    const { config, view, budgets, budget, protectedGlobs, prompt } = request;
    return draftPlan(this.services, {
      messages: prompt.messages,
      spend: {
        subject: { installationId: this.job.installationId, repo: this.job.repo, requirementId, day: utcDay(this.services.now()) },
        budgets,
        holder,
      },
      limits: {
        maxTasks: config.maxTasks,
        protectedGlobs,
        budget,
        // An incomplete or empty tree cannot show that a file does not exist.
        ...(view.treeTruncated || view.fileTree.length === 0 ? {} : { repoFiles: view.fileTree }),
      },
    });
  }

  /** No manager model could be reached and attempts are left: audited, and the job is retried later. */
  private async deferPlanning(requirementId: number, reason: string, planning: Record<string, unknown>): Promise<never> {
    await appendEvents(this.services.pool, [
      {
        actor: "aura/manager",
        action: "plan.deferred",
        subject: this.subject,
        payload: { requirementId, reason, ...planning },
      },
    ]);
    throw new ManagerModelsUnavailable(`${reason}; planning will be retried`);
  }

  /** Audits the draft and settles the requirement by it, unless the requirement left `planning` meanwhile. */
  private async recordDraft(requirementId: number, config: RepoConfig, outcome: DraftOutcome, planning: Record<string, unknown>): Promise<void> {
    await inTransaction(this.services.pool, async (client) => {
      const current = await lockIssueRequirement(client, this.job);
      if (current?.state !== "planning") {
        // Cancelled (or taken over by a director) while the model was thinking: the draft is dropped.
        await appendEvents(client, [
          {
            actor: "aura/manager",
            action: "plan.discarded",
            subject: this.subject,
            payload: { requirementId, state: current?.state ?? null, outcome: outcome.kind },
          },
        ]);
        return;
      }
      await appendEvents(client, [
        {
          actor: "aura/manager",
          action: "plan.drafted",
          subject: this.subject,
          payload: { requirementId, outcome: outcome.kind, ...planning },
        },
      ]);
      await this.settle(client, requirementId, config, outcome);
    });
  }

  /**
   * Planning was refused because a budget is used up: one comment on the issue says so, found again by its
   * marker and edited only when its text changes, so label/unlabel cycles never add a second one.
   */
  private async reportPlanningBudget(reason: string): Promise<void> {
    const body = planningBudgetComment(reason);
    const previous = await loadIntakeComment(this.services.pool, this.job, "planning-budget");
    if (previous?.body_hash === sha(body)) return;
    const { commentId } = await upsertStickyComment(this.octokit, {
      owner: this.owner,
      repo: this.name,
      issueNumber: this.job.issueNumber,
      marker: PLANNING_BUDGET_MARKER,
      body,
      commentId: previous?.comment_id ?? null,
    });
    await saveIntakeComment(this.services.pool, this.job, "planning-budget", { id: commentId, bodyHash: sha(body) });
  }

  private async settle(client: pg.PoolClient, requirementId: number, config: RepoConfig, outcome: DraftOutcome): Promise<void> {
    const needsDirector = async (to: "needs_director" | "failed", explanation: string, reason: string) => {
      await setPlanProblems(client, requirementId, explanation);
      await transitionRequirement(client, requirementId, to, { actor: "aura/manager", reason });
    };
    switch (outcome.kind) {
      case "planned":
        return this.storePlan(client, requirementId, config, outcome.plan, outcome.employeeId);
      case "refused":
        return needsDirector(
          "needs_director",
          planRefusedExplanation(outcome.problems, outcome.employeeId),
          `the rules refused the plan ${outcome.record.calls.length} times`,
        );
      case "invalid-output":
        return needsDirector(
          "needs_director",
          invalidOutputExplanation(outcome.employeeId, outcome.reason),
          "the manager model gave no valid plan after re-asks",
        );
      case "providers-failed":
        return needsDirector("needs_director", providersFailedExplanation(outcome.reason), "no manager model could be reached");
      case "over-budget":
        return needsDirector("needs_director", planningBudgetExplanation(), `planning refused: ${outcome.reason}`);
      case "no-manager":
        return needsDirector("failed", noManagerExplanation(outcome.reason), "no manager model is configured");
    }
  }

  private async storePlan(client: pg.PoolClient, requirementId: number, config: RepoConfig, plan: TaskPlan, employeeId: string): Promise<void> {
    const revision = (await storePlanRevision(client, requirementId, { ...plan, plannedBy: employeeId })) ?? 1;
    // Tasks of an earlier plan that are still open give way to the new plan.
    for (const task of await lockEarlierPlanTasks(client, requirementId, revision)) {
      if (canTransition("task", task.state, "cancelled")) {
        await transitionTask(client, task.id, "cancelled", { actor: "aura/manager", reason: "superseded by a new plan" });
      }
    }
    for (const task of plan.tasks) await insertPlannedTask(client, requirementId, revision, task);
    await transitionRequirement(client, requirementId, "planned", {
      actor: "aura/manager",
      reason: `a plan of ${plan.tasks.length} task${plan.tasks.length === 1 ? "" : "s"} by ${employeeId} passed the rules`,
      details: { planRevision: revision, tasks: plan.tasks.map((task) => task.id) },
    });
    if (config.planApproval) {
      await transitionRequirement(client, requirementId, "awaiting_approval", {
        actor: "aura/manager",
        reason: "planApproval is on: waiting for /aura approve",
      });
      return;
    }
    await transitionRequirement(client, requirementId, "in_progress", { actor: "aura/manager", reason: "tasks released to routing" });
    await releaseDependents(this.services, client, requirementId);
  }

  private async defaultBranch(): Promise<string> {
    const { data } = await this.octokit.request("GET /repos/{owner}/{repo}", { owner: this.owner, repo: this.name });
    return data.default_branch;
  }

  /** Re-renders the status comment unless this job already showed the latest state. */
  async refreshStatus(force = false): Promise<void> {
    if (this.statusFresh && !force) return;
    const requirement = await this.requirement();
    if (!requirement) return;
    await refreshStatusComment(this.services, requirement.id);
    this.statusFresh = true;
  }

  /** Last attempt failed: move a requirement stuck in planning to a director. True when it did. */
  async giveUp(error: unknown, attempts: number): Promise<boolean> {
    const message = error instanceof Error ? error.message : String(error);
    this.log.error({ reason: message }, "planning failed on its last attempt");
    const moved = await inTransaction(this.services.pool, async (client) => {
      const requirement = await lockIssueRequirement(client, this.job);
      if (!requirement) return false;
      if (requirement.state === "received") {
        await transitionRequirement(client, requirement.id, "planning", { actor: "aura/manager", reason: "planning started" });
      } else if (requirement.state !== "planning") {
        return false;
      }
      await setPlanProblems(client, requirement.id, crashExplanation(attempts, message));
      await transitionRequirement(client, requirement.id, "needs_director", {
        actor: "aura/manager",
        reason: `planning failed ${attempts} times: ${message.slice(0, 300)}`,
      });
      return true;
    });
    if (moved)
      await this.refreshStatus(true).catch((refreshError: unknown) => this.log.warn({ reason: String(refreshError) }, "status comment refresh failed"));
    return moved;
  }
}
