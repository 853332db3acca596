// Final authority: when an agent's pull request closes, the Accountant records what the Director decided.
// Merged by a director is a success; merged by anyone else is a governance incident (recorded, reported, not
// scored); closed unmerged is a rejection. Strikes for the rules the head commit failed are counted once per
// (PR, rule). Then HR reviews the employee, dependent tasks are released and the status comment updated.
import type pg from "pg";
import { z } from "zod";
import { appendEvents } from "../audit/append.js";
import { pullCloseKey, recordOutcome, recordStrike, reopenedAfter } from "../accountant/ledger.js";
import { parseRepoConfig, type RepoConfig } from "../config/repo-config.js";
import { isDirector } from "../github/permissions.js";
import { readRepoConfig } from "../github/repo-config-reader.js";
import { latestVerdictForPull } from "../governor/verdict-store.js";
import { reviewAndApply } from "../hr/hr-duty.js";
import { releaseDependents } from "../manager/lifecycle.js";
import { canTransition, type TaskState } from "../core/state-machine.js";
import { addNotice, refreshStatusComment } from "../core/status-comment.js";
import { inTransaction, transitionRequirement, transitionTask } from "../core/transitions.js";
import { markDeliveryProcessed } from "../queue/inbox.js";
import type { Services } from "../services.js";
import { PullClosedDelivery, readDelivery, splitRepo } from "./payloads.js";
import { authorSpendOfTask, currentPlanLosses, currentPlanMerges, findAgentTask, lockTask, type AgentTask } from "./store.js";

type Queryable = Pick<pg.PoolClient, "query">;

export type CloseKind = "merged" | "incident" | "rejected";

/** The repo config from the default branch; when it is invalid, the defaults (admins and maintainers still direct). */
export async function directorConfig(services: Services, installationId: number, repoFullName: string): Promise<RepoConfig> {
  const { owner, repo } = splitRepo(repoFullName);
  const result = await readRepoConfig(services, services.github.forInstallation(installationId), { owner, repo });
  return result.ok ? result.config : parseRepoConfig(null);
}

const FailedRule = z.object({ ruleId: z.string().min(1), severity: z.enum(["minor", "major", "critical"]), state: z.string() });

/**
 * Rules this pull request's stored verdict at its head failed (overridden rules are not violations); read
 * defensively. Its own verdict: another pull request at the same commit (a fork's, not governed) says nothing.
 */
async function failedRules(
  client: Queryable,
  at: { installationId: number; repo: string; pullNumber: number; headSha: string },
): Promise<z.infer<typeof FailedRule>[]> {
  const verdict = await latestVerdictForPull(client, at);
  if (!verdict?.governed || !Array.isArray(verdict.rules)) return [];
  return verdict.rules.flatMap((rule: unknown) => {
    const parsed = FailedRule.safeParse(rule);
    return parsed.success && parsed.data.state === "fail" ? [parsed.data] : [];
  });
}

/**
 * What the author's model calls took and cost, from the Employees' spend ledger: each settled call runs from
 * its reservation to its settlement. The Auditor's advisory review is charged to the same task (so the task's
 * budget covers it) but it is the Auditor's spend, not the author's: its call time and its dollars are left out
 * of the author's outcome. Without the ledger, or without a settled author call in it, latency is null and the
 * cost is the one the work loop recorded on the task.
 */
async function authorModelSpend(client: Queryable, taskId: number, recordedUsd: number): Promise<{ latencyMs: number | null; costUsd: number }> {
  const spend = await authorSpendOfTask(client, taskId);
  return { latencyMs: spend?.latencyMs ?? null, costUsd: spend?.usd ?? recordedUsd };
}

/** `in_progress`/`needs_director` → `done` once every task of the current plan is merged (cancelled ones aside). */
async function finishIfAllMerged(client: Queryable & pg.PoolClient, requirementId: number, actor: string): Promise<boolean> {
  const row = await currentPlanMerges(client, requirementId);
  if (!row || row.open > 0 || row.merged === 0) return false;
  if (row.state !== "in_progress" && row.state !== "needs_director") return false;
  await transitionRequirement(client, requirementId, "done", { actor, reason: "every task's pull request was merged by a director" });
  return true;
}

/**
 * `in_progress` → `failed` once no task of the current plan is left open and at least one was rejected or
 * failed: nobody is working on the requirement any more, so it must not keep saying it is in progress. A
 * director's `/aura reassign` or `/aura revise` brings it back.
 */
async function failIfNothingLeft(client: Queryable & pg.PoolClient, requirementId: number, actor: string): Promise<boolean> {
  const row = await currentPlanLosses(client, requirementId);
  if (!row || row.state !== "in_progress" || row.open > 0 || row.lost === 0) return false;
  await transitionRequirement(client, requirementId, "failed", { actor, reason: "every remaining task was rejected or failed" });
  return true;
}

export type PullClosedResult =
  { handled: false; reason: string } | { handled: true; kind: CloseKind; counted: boolean; taskId: number; employeeId: string; strikes: string[] };

/** One close of an agent pull request with an active assignment, as the steps below need it. */
type Close = {
  installationId: number;
  /** `owner/name`. */
  repo: string;
  pull: PullClosedDelivery["pull_request"];
  /** `owner/name#number`. */
  pullRef: string;
  /** Who closed (or merged) it, as the webhook says. */
  sender: string | null;
  task: AgentTask;
  employeeId: string;
  assignedAt: Date;
  kind: CloseKind;
  mergedBy: string | null;
  directorVia: string | null;
  closedAt: Date;
};

export async function handlePullClosed(services: Services, deliveryId: string): Promise<PullClosedResult> {
  const delivery = await readDelivery(services.pool, deliveryId, PullClosedDelivery);
  const installationId = delivery.installation.id;
  const repoFullName = delivery.repository.full_name;
  const pull = delivery.pull_request;
  const task = await findAgentTask(services.pool, { installationId, repo: repoFullName, pullNumber: pull.number, headRef: pull.head.ref });
  if (!task) {
    await markDeliveryProcessed(services.pool, deliveryId);
    return { handled: false, reason: "not an agent pull request" };
  }
  if (!task.employeeId || !task.assignedAt) {
    services.log.warn({ taskId: task.taskId }, "closed agent pull request has no active assignment; nothing to score");
    await markDeliveryProcessed(services.pool, deliveryId);
    return { handled: false, reason: "no active assignment" };
  }
  const decided = await decideCloseKind(services, installationId, repoFullName, pull);
  const close: Close = {
    installationId,
    repo: repoFullName,
    pull,
    pullRef: `${repoFullName}#${pull.number}`,
    sender: delivery.sender?.login ?? null,
    task,
    employeeId: task.employeeId,
    assignedAt: task.assignedAt,
    ...decided,
    closedAt: new Date(pull.closed_at ?? services.now().toISOString()),
  };

  const outcome = await inTransaction(services.pool, (client) => recordClose(services, client, close));

  // Idempotent follow-ups, run again on a retry so a failure after the ledger commit still completes them.
  if (close.kind === "merged") {
    await inTransaction(services.pool, (client) => releaseDependents(services, client, task.requirementId));
  }
  await reviewAndApply(services, installationId, close.employeeId, { requirementIds: [task.requirementId] });
  await refreshStatusComment(services, task.requirementId);
  await markDeliveryProcessed(services.pool, deliveryId);
  return { handled: true, kind: close.kind, counted: outcome.counted, taskId: task.taskId, employeeId: close.employeeId, strikes: outcome.strikes };
}

/** Merged by a director, merged by someone else (an incident), or closed unmerged. */
async function decideCloseKind(
  services: Services,
  installationId: number,
  repoFullName: string,
  pull: PullClosedDelivery["pull_request"],
): Promise<Pick<Close, "kind" | "mergedBy" | "directorVia">> {
  const mergedBy = pull.merged ? (pull.merged_by?.login ?? null) : null;
  if (!pull.merged) return { kind: "rejected", mergedBy, directorVia: null };
  const config = await directorConfig(services, installationId, repoFullName);
  const check = mergedBy ? await isDirector(services, { installationId, ...splitRepo(repoFullName), login: mergedBy, config }) : { director: false, via: null };
  return { kind: check.director ? "merged" : "incident", mergedBy, directorVia: check.via };
}

/** The ledger, strikes, task and requirement states and audit events of one close, in one transaction. */
async function recordClose(services: Services, client: pg.PoolClient, close: Close): Promise<{ counted: boolean; strikes: string[] }> {
  const { task } = close;
  // The task row first, before any other write: the reopen of this PR takes the same lock first, so the two
  // are serialised and the reopen check below sees a reopen that committed while this close waited.
  const locked = await lockTask(client, task.taskId);
  const taskState = locked?.state ?? task.state;
  const counted = await recordCloseOutcome(client, close);
  if (!counted) return { counted, strikes: [] as string[] };
  // A close delivered after the PR's reopen: the row is kept but does not stand, and the task stays open.
  if (await reopenedAfter(client, { installationId: close.installationId, repo: close.repo, prNumber: close.pull.number, closedAt: close.closedAt })) {
    await appendPullClosed(client, close, [], { supersededByReopen: true });
    return { counted, strikes: [] as string[] };
  }

  const strikes = await recordStrikes(client, close);
  await moveTaskForClose(services, client, close, taskState);
  if (close.kind === "merged") await finishIfAllMerged(client, task.requirementId, close.mergedBy ?? "aura/accountant");
  if (close.kind === "rejected") await failIfNothingLeft(client, task.requirementId, close.sender ?? "aura/accountant");
  if (close.kind === "incident") await reportIncident(client, close);
  await appendPullClosed(client, close, strikes);
  return { counted, strikes };
}

/** The author's outcome in the ledger; false when this close was already counted. */
async function recordCloseOutcome(client: pg.PoolClient, close: Close): Promise<boolean> {
  const { task, pull, kind } = close;
  const spend = await authorModelSpend(client, task.taskId, task.costUsd);
  return recordOutcome(client, {
    installationId: close.installationId,
    employeeId: close.employeeId,
    taskClass: task.taskClass,
    taskId: task.taskId,
    requirementId: task.requirementId,
    result: kind === "rejected" ? "rejected" : "merged",
    incident: kind === "incident",
    revisionRounds: task.revisionRounds,
    costUsd: spend.costUsd,
    latencyMs: spend.latencyMs,
    assignedAt: close.assignedAt,
    prOpenedAt: new Date(pull.created_at),
    closedAt: close.closedAt,
    repo: close.repo,
    prNumber: pull.number,
    closedBy: close.mergedBy ?? close.sender ?? null,
    eventKey: pullCloseKey(close.installationId, close.repo, pull.number, pull.closed_at ?? close.closedAt.toISOString()),
  });
}

/** A strike for each rule the head commit failed; returns the rules newly struck. */
async function recordStrikes(client: pg.PoolClient, close: Close): Promise<string[]> {
  const { pull } = close;
  const strikes: string[] = [];
  for (const rule of await failedRules(client, { installationId: close.installationId, repo: close.repo, pullNumber: pull.number, headSha: pull.head.sha })) {
    const recorded = await recordStrike(client, {
      installationId: close.installationId,
      employeeId: close.employeeId,
      pullRequest: close.pullRef,
      ruleId: rule.ruleId,
      severity: rule.severity,
      headSha: pull.head.sha,
      taskId: close.task.taskId,
      recordedAt: close.closedAt,
    });
    if (recorded) strikes.push(rule.ruleId);
  }
  return strikes;
}

/** The task to `merged`, `needs_director` (incident) or `rejected`, when its state allows it. */
async function moveTaskForClose(services: Services, client: pg.PoolClient, close: Close, taskState: TaskState): Promise<void> {
  const { kind, mergedBy, pull, task } = close;
  const target: TaskState = kind === "merged" ? "merged" : kind === "incident" ? "needs_director" : "rejected";
  const reason =
    kind === "merged"
      ? `PR #${pull.number} merged by director @${mergedBy}`
      : kind === "incident"
        ? `PR #${pull.number} merged by @${mergedBy ?? "unknown"}, who is not a director: governance incident`
        : `PR #${pull.number} closed without merge`;
  if (taskState !== target && canTransition("task", taskState, target)) {
    await transitionTask(client, task.taskId, target, { actor: mergedBy ?? "aura/accountant", reason, details: { pullNumber: pull.number } });
  } else if (taskState !== target) {
    services.log.warn({ taskId: task.taskId, from: taskState, to: target }, "task state does not allow the close outcome; ledger recorded anyway");
  }
}

/** A merge by a non-director: a notice for the directors and a governance.incident event. */
async function reportIncident(client: pg.PoolClient, close: Close): Promise<void> {
  const { mergedBy, pull, task } = close;
  await addNotice(client, task.requirementId, {
    kind: "incident",
    body: `Governance incident: PR #${pull.number} (\`${task.taskKey}\`) was merged by @${mergedBy ?? "unknown"}, who is not a director of this repository. It is not counted as a success for \`${close.employeeId}\`. Directors: please review the merge.`,
    key: `incident:${close.pullRef}:${pull.closed_at ?? ""}`,
  });
  await appendEvents(client, [
    {
      actor: mergedBy ?? "unknown",
      action: "governance.incident",
      subject: close.pullRef,
      payload: { installationId: close.installationId, taskId: task.taskId, employeeId: close.employeeId, mergedBy, reason: "merged by a non-director" },
    },
  ]);
}

async function appendPullClosed(client: pg.PoolClient, close: Close, strikes: string[], extra: { supersededByReopen?: true } = {}): Promise<void> {
  const { installationId, task, employeeId, kind, mergedBy, directorVia } = close;
  await appendEvents(client, [
    {
      actor: "aura/accountant",
      action: "pull.closed",
      subject: close.pullRef,
      payload: { installationId, taskId: task.taskId, employeeId, kind, mergedBy, directorVia, strikes, ...extra },
    },
  ]);
}
