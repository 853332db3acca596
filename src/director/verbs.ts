// What each `/aura` verb does once the commenter is known to be a director. Verbs that only touch the
// database run in the command's transaction (so the command record and its effect commit together); verbs
// owned by other roles call those roles' functions (approve and override in their own transactions; revise
// and budget raises in the command's).
import type pg from "pg";
import { appendEvents } from "../audit/append.js";
import { IllegalEmployeeTransition } from "../hr/employee-status.js";
import { acceptTrial, affectedRequirements, changeEmployeeStatus } from "../hr/hr-duty.js";
import { routeTask } from "../manager/assign.js";
import { IllegalTransition } from "../core/state-machine.js";
import { addNotice, refreshStatusComment } from "../core/status-comment.js";
import { transitionRequirement, transitionTask } from "../core/transitions.js";
import type { Services } from "../services.js";
import { approveRequirement, overrideRule } from "./collaborators.js";
import { requestRevision, RevisionNotPossible } from "../employees/revise.js";
import { BudgetRaiseRefused, raiseBudget } from "../models/budgets.js";
import type { Reaction } from "./github-replies.js";
import { renderHelpText } from "./help-text.js";
import type { DirectorCommand } from "./parse-command.js";
import { upsertScoreboard } from "./scoreboard-comment.js";
import { enqueue } from "../queue/enqueue.js";
import {
  budgetStoppedTasks,
  clearHalt,
  ensureInstallation,
  haltableRequirements,
  haltedRequirements,
  lockHaltState,
  markHalted,
  requirementForComment,
  requirementState,
  taskByRef,
  taskForPull,
  withSavepoint,
} from "./store.js";
import { sentence } from "../core/sentence.js";

type Db = pg.PoolClient;

export type CommandContext = {
  services: Services;
  installationId: number;
  /** `owner/name`. */
  repo: string;
  issueNumber: number;
  isPull: boolean;
  login: string;
  commentId: number;
  /** Set when the command came from the console (commentId is then 0): the action's id, for idempotency keys. */
  consoleActionId?: string;
};

export type VerbResult = {
  outcome: "done" | "refused";
  reply: string | null;
  reaction: Reaction | null;
  details: Record<string, unknown>;
  /** GitHub writes that must wait for the commit (status comment refreshes). */
  afterCommit?: () => Promise<void>;
};

const done = (reply: string | null, details: Record<string, unknown> = {}, reaction: Reaction | null = null): VerbResult => ({
  outcome: "done",
  reply,
  reaction,
  details,
});
const refused = (reply: string, details: Record<string, unknown> = {}): VerbResult => ({ outcome: "refused", reply, reaction: "confused", details });

function isRegistered(services: Services, employeeId: string): boolean {
  return services.policies.employees.employees.some((employee) => employee.id === employeeId);
}

function registeredList(services: Services): string {
  return services.policies.employees.employees.map((employee) => `\`${employee.id}\``).join(", ");
}

/** Announces a director's HR move in the affected requirements' status comments (after commit). */
async function announceHr(ctx: CommandContext, client: Db, employeeId: string, body: string): Promise<number[]> {
  const ids = await affectedRequirements(client, ctx.installationId, employeeId);
  const own = await requirementForComment(client, ctx);
  if (own && !ids.includes(own.id)) ids.push(own.id);
  const key = ctx.consoleActionId === undefined ? `director:${ctx.commentId}` : `console:${ctx.consoleActionId}`;
  for (const id of ids) await addNotice(client, id, { kind: "hr", body, key });
  return ids;
}

const refreshAll = (services: Services, requirementIds: readonly number[]) => async () => {
  for (const id of requirementIds) {
    await refreshStatusComment(services, id).catch((error: unknown) =>
      services.log.warn({ requirementId: id, reason: error instanceof Error ? error.message : String(error) }, "status comment refresh failed"),
    );
  }
};

type Verb<K extends DirectorCommand["kind"]> = Extract<DirectorCommand, { kind: K }>;

export async function runVerb(ctx: CommandContext, client: Db, command: DirectorCommand): Promise<VerbResult> {
  switch (command.kind) {
    case "help":
      return done(renderHelpText());
    case "scoreboard":
      return scoreboard(ctx);
    case "approve":
      return approve(ctx, client);
    case "revise":
      return revise(ctx, client, command);
    case "override":
      return override(ctx, command);
    case "reassign":
      return reassign(ctx, client, command);
    case "suspend":
    case "reinstate":
      return suspendOrReinstate(ctx, client, command);
    case "trial":
      return trial(ctx, client, command);
    case "budget":
      return budget(ctx, client, command);
    case "halt":
      return halt(ctx, client, command.note);
    case "resume":
      return resume(ctx, client, command.note);
  }
}

function scoreboard(ctx: CommandContext): VerbResult {
  // Runs after commit: the scoreboard is a GitHub write and reads the committed ledger.
  return {
    ...done(null, {}, "+1"),
    afterCommit: async () => void (await upsertScoreboard(ctx.services, { installationId: ctx.installationId, repo: ctx.repo, issueNumber: ctx.issueNumber })),
  };
}

async function approve(ctx: CommandContext, client: Db): Promise<VerbResult> {
  const requirement = await requirementForComment(client, ctx);
  if (!requirement) return refused("There is no Aura requirement on this issue to approve.");
  const result = await approveRequirement(ctx.services, requirement.id, ctx.login);
  return result.ok
    ? done(`Plan approved by @${ctx.login}; its tasks are being assigned.`, { requirementId: requirement.id })
    : refused(result.message, { requirementId: requirement.id });
}

async function revise(ctx: CommandContext, client: Db, command: Verb<"revise">): Promise<VerbResult> {
  const { services } = ctx;
  const task = ctx.isPull ? await taskForPull(client, ctx) : undefined;
  if (!task) return refused("`/aura revise` works on an agent pull request: write it on the pull request of the task to change.");
  try {
    const revision = await withSavepoint(
      client,
      () => requestRevision(services, client, { taskId: task.id, instructions: command.instructions, by: ctx.login, sourceKey: `comment:${ctx.commentId}` }),
      () => true,
    );
    return {
      ...done(`Task \`${task.key}\` goes back to its employee for revision round ${revision.round}.`, { taskId: task.id, ...revision }),
      afterCommit: refreshAll(services, [task.requirementId]),
    };
  } catch (error) {
    if (error instanceof RevisionNotPossible) return refused(`Cannot revise \`${task.key}\` now: ${error.message}.`, { taskId: task.id });
    throw error;
  }
}

async function override(ctx: CommandContext, command: Verb<"override">): Promise<VerbResult> {
  // `repo-rules` approves the repository's relaxing `rules:`, so it is accepted on any issue as well.
  if (!ctx.isPull && command.ruleId !== "repo-rules") return refused("`/aura override` works on an agent pull request: write it there.");
  const result = await overrideRule(ctx.services, {
    installationId: ctx.installationId,
    repo: ctx.repo,
    pullNumber: ctx.issueNumber,
    onPull: ctx.isPull,
    ruleId: command.ruleId,
    reason: command.reason,
    director: ctx.login,
  });
  return result.ok ? done(result.message, { ruleId: command.ruleId }) : refused(result.message, { ruleId: command.ruleId });
}

async function reassign(ctx: CommandContext, client: Db, command: Verb<"reassign">): Promise<VerbResult> {
  const { services } = ctx;
  const requirement = await requirementForComment(client, ctx);
  if (!requirement) return refused("There is no Aura requirement here: write `/aura reassign` on the requirement issue or one of its pull requests.");
  const task = await taskByRef(client, requirement.id, command.task);
  if (!task) return refused(`This requirement has no task \`${command.task}\`.`);
  if (!isRegistered(services, command.employee))
    return refused(`\`${command.employee}\` is not a registered employee. Employees: ${registeredList(services)}.`);
  try {
    const routed = await withSavepoint(
      client,
      () => routeTask(services, client, task.id, { override: { employeeId: command.employee, director: ctx.login } }),
      (result) => result.employeeId !== null,
    );
    if (routed.employeeId === null) return refused(`Cannot reassign \`${task.key}\`: ${routed.decision.reason}.`, { taskId: task.id });
    // A requirement that failed because its tasks were rejected is worked on again.
    if (requirement.state === "failed") {
      await transitionRequirement(client, requirement.id, "in_progress", { actor: ctx.login, reason: `task \`${task.key}\` reassigned` });
    }
    return {
      ...done(`Task \`${task.key}\` reassigned to \`${routed.employeeId}\` (routing decision ${routed.decisionId}).`, {
        taskId: task.id,
        employeeId: routed.employeeId,
        decisionId: routed.decisionId,
      }),
      afterCommit: refreshAll(services, [requirement.id]),
    };
  } catch (error) {
    if (error instanceof IllegalTransition) return refused(`Cannot reassign \`${task.key}\` now: ${error.detail}.`, { taskId: task.id });
    throw error;
  }
}

async function suspendOrReinstate(ctx: CommandContext, client: Db, command: Verb<"suspend" | "reinstate">): Promise<VerbResult> {
  const { services } = ctx;
  if (!isRegistered(services, command.employee))
    return refused(`\`${command.employee}\` is not a registered employee. Employees: ${registeredList(services)}.`);
  const to = command.kind === "suspend" ? "suspended" : "probation";
  const reason = command.kind === "suspend" ? command.reason : (command.note ?? `reinstated by @${ctx.login}`);
  try {
    const moved = await changeEmployeeStatus(client, {
      installationId: ctx.installationId,
      employeeId: command.employee,
      to,
      by: "director",
      actor: ctx.login,
      reason,
    });
    const body =
      command.kind === "suspend"
        ? `Director @${ctx.login} suspended \`${command.employee}\`: ${sentence(reason)} It gets no new work until a director reinstates it.`
        : `Director @${ctx.login} reinstated \`${command.employee}\`; it is back on probation.`;
    const ids = await announceHr(ctx, client, command.employee, body);
    return { ...done(body, { employeeId: command.employee, from: moved.from, to: moved.to }), afterCommit: refreshAll(services, ids) };
  } catch (error) {
    if (error instanceof IllegalEmployeeTransition) {
      return refused(
        command.kind === "suspend"
          ? `\`${command.employee}\` is already suspended.`
          : `\`${command.employee}\` is not suspended (it is ${error.from}); only a suspended employee can be reinstated.`,
        { employeeId: command.employee },
      );
    }
    throw error;
  }
}

async function trial(ctx: CommandContext, client: Db, command: Verb<"trial">): Promise<VerbResult> {
  if (!isRegistered(ctx.services, command.employee))
    return refused(`\`${command.employee}\` is not a registered employee. Employees: ${registeredList(ctx.services)}.`);
  const outcome = await acceptTrial(client, {
    installationId: ctx.installationId,
    employeeId: command.employee,
    runId: command.runId,
    director: ctx.login,
    note: command.note,
  });
  const details = { employeeId: command.employee, runId: command.runId, ...(outcome.figures ? { figures: outcome.figures } : {}) };
  if (!outcome.accepted) return refused(`Not accepted as a trial: ${outcome.reason} Nothing was changed.`, details);
  const body = `Director @${ctx.login} accepted eval run ${command.runId} as \`${command.employee}\`'s trial (${outcome.figures.resolved}/${outcome.figures.attempts} resolved); it leaves probation and is active.`;
  const ids = await announceHr(ctx, client, command.employee, body);
  return { ...done(body, details), afterCommit: refreshAll(ctx.services, ids) };
}

async function budget(ctx: CommandContext, client: Db, command: Verb<"budget">): Promise<VerbResult> {
  const { services } = ctx;
  const requirement = await requirementForComment(client, ctx);
  if (!requirement) return refused("There is no Aura requirement here whose budget could be raised.");
  let taskId: number | null = null;
  if (command.target.kind === "task") {
    const task = await taskByRef(client, requirement.id, command.target.ref);
    if (!task) return refused(`This requirement has no task \`${command.target.ref}\`.`);
    taskId = task.id;
  }
  try {
    const raised = await raiseBudget(client, {
      installationId: ctx.installationId,
      scope: taskId === null ? "requirement" : "task",
      id: taskId ?? requirement.id,
      amountUsd: command.amountUsd,
      by: ctx.login,
      budgets: services.policies.budgets,
    });
    const resumed = await resumeBudgetStopped(client, ctx, requirement.id, taskId);
    const what = taskId === null ? "the requirement" : `task \`${command.target.kind === "task" ? command.target.ref : ""}\``;
    const capped = raised.capped ? ` (capped by the app's daily limit; $${command.amountUsd.toFixed(2)} was asked)` : "";
    return {
      ...done(
        `Budget of ${what} raised by $${raised.grantedUsd.toFixed(2)}${capped}; its cap is now $${raised.capUsd.toFixed(2)}.${resumed.length > 0 ? ` Work resumes on ${resumed.length} task${resumed.length === 1 ? "" : "s"}.` : ""}`,
        { requirementId: requirement.id, taskId, ...raised, resumed },
      ),
      afterCommit: refreshAll(services, [requirement.id]),
    };
  } catch (error) {
    if (error instanceof BudgetRaiseRefused) return refused(`The budget cannot be raised: ${error.message}.`);
    throw error;
  }
}

/**
 * After a raise, tasks a budget stopped (needs a director, still assigned) go back to work, and a requirement
 * waiting for a director is in progress again.
 */
async function resumeBudgetStopped(client: Db, ctx: CommandContext, requirementId: number, taskId: number | null): Promise<number[]> {
  const ids = await budgetStoppedTasks(client, requirementId, taskId);
  for (const id of ids) {
    await transitionTask(client, id, "working", { actor: ctx.login, by: "director", reason: `budget raised by @${ctx.login}` });
    await enqueue(client, "task.work", { taskId: id });
  }
  const state = await requirementState(client, requirementId);
  if (ids.length > 0 && state === "needs_director") {
    await transitionRequirement(client, requirementId, "in_progress", { actor: ctx.login, reason: `budget raised by @${ctx.login}` });
  }
  return ids;
}

async function halt(ctx: CommandContext, client: Db, note: string | null): Promise<VerbResult> {
  await ensureInstallation(client, ctx.installationId);
  const row = await lockHaltState(client, ctx.installationId);
  if (row?.haltedAt) return done(`Already halted by @${row.haltedBy ?? "a director"} since ${row.haltedAt.toISOString()}.`, { alreadyHalted: true });
  await markHalted(client, ctx.installationId, ctx.login, note);
  const ids = await haltableRequirements(client, ctx.installationId);
  for (const id of ids) {
    await transitionRequirement(client, id, "halted", { actor: ctx.login, by: "director", reason: `/aura halt${note ? `: ${note}` : ""}` });
  }
  await appendEvents(client, [
    {
      actor: ctx.login,
      action: "installation.halted",
      subject: `installation:${ctx.installationId}`,
      payload: { installationId: ctx.installationId, note, requirements: ids },
    },
  ]);
  return {
    ...done(
      `Halted by @${ctx.login}: no new model call, test run or GitHub write starts for this installation until a director writes \`/aura resume\`. ${ids.length} requirement${ids.length === 1 ? "" : "s"} paused.`,
      { requirements: ids },
    ),
    afterCommit: refreshAll(ctx.services, ids),
  };
}

async function resume(ctx: CommandContext, client: Db, note: string | null): Promise<VerbResult> {
  const row = await lockHaltState(client, ctx.installationId);
  if (!row?.haltedAt) return done("Nothing to resume: this installation is not halted.", { notHalted: true });
  await clearHalt(client, ctx.installationId);
  const ids: number[] = [];
  for (const { id, preHaltState } of await haltedRequirements(client, ctx.installationId)) {
    // A halted requirement without a recorded state predates the column; it restarts from intake.
    await transitionRequirement(client, id, preHaltState ?? "received", {
      actor: ctx.login,
      by: "director",
      reason: `/aura resume${note ? `: ${note}` : ""}`,
    });
    ids.push(id);
  }
  await appendEvents(client, [
    {
      actor: ctx.login,
      action: "installation.resumed",
      subject: `installation:${ctx.installationId}`,
      payload: { installationId: ctx.installationId, note, requirements: ids },
    },
  ]);
  return {
    ...done(`Resumed by @${ctx.login}: work continues from where it stopped. ${ids.length} requirement${ids.length === 1 ? "" : "s"} restored.`, {
      requirements: ids,
    }),
    afterCommit: refreshAll(ctx.services, ids),
  };
}
