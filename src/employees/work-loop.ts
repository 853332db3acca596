// The `task.work` job: one assigned task becomes a tested branch and a draft pull request. It prepares the
// task's work tree (resuming the branch when it exists), gives the employee a bounded context, checks every
// edit before writing, runs the repository's setup and tests in the sandbox, loops on failures (at most two
// fix rounds), commits as the bot with the Aura trailers, pushes through the one push function, and opens or
// updates the one PR of the task. Budgets are reserved before every model call; a provider failure is
// reported to the Manager, which routes the task to the next employee; paid-for work is never thrown away.
import type { JobHelpers } from "graphile-worker";
import { z } from "zod";
import { appendEvents } from "../audit/append.js";
import { workModeOf, type Employee, type WorkMode } from "../config/policy-files.js";
import { agentLimits, effectiveBudgets, parseRepoConfig, RepoConfig } from "../config/repo-config.js";
import { inertInline, withoutIssueReferences } from "../github/inert-markdown.js";
import type { TaskState } from "../core/state-machine.js";
import { addNotice, PROGRESS_REFRESH_MS, refreshStatusComment, throttledProgress } from "../core/status-comment.js";
import { inTransaction, transitionRequirementFrom, transitionTask } from "../core/transitions.js";
import { enqueue } from "../queue/enqueue.js";
import { deliveredRepository } from "../queue/inbox.js";
import type { Services } from "../services.js";
import {
  commitChanges,
  defaultRepoCommands,
  git,
  listFiles,
  MergeConflictError,
  prepareTaskWorkspace,
  pushAuraBranch,
  removeTaskWorkspace,
  runInSandbox,
  safeDeleteFile,
  safeReadFile,
  safeWriteFile,
  SandboxLimitsUnavailableError,
  SandboxUnavailableError,
  sandboxStatus,
  taskBranchName,
  workspaceTarget,
  type RepoCommands,
  type SandboxOptions,
  type SandboxResult,
  type SandboxRunMode,
  type SandboxStatus,
  type TaskWorkspace,
} from "../workspace/index.js";
import {
  BudgetExhausted,
  budgetedCall,
  budgetUsage,
  capsFor,
  describeScope,
  releaseStaleReservations,
  scopesAtWarning,
  taskSpend,
  utcDay,
  type Amount,
  type SpendHolder,
  type SpendSubject,
} from "../models/budgets.js";
import { applyEdits, EditSet, planEdits, recordChange, refusalMessage, type EditRules, type PlannedWrite } from "./edits.js";
import { ModelCallError, OutputAllowanceTooSmall, type ChatMessage, type StructuredResult } from "../models/model-client.js";
import { defaultPriceFor } from "../models/prices.js";
import { openOrUpdatePull, renderPullBody, type PullOutcome, type PullResult, type RunEvidence } from "./pull-request.js";
import { runClaim } from "./run-claims.js";
import { recordSnapshot, toolVersions, type ExecutionSnapshot } from "./snapshot.js";
import { buildTaskContext, failureMessage, type RevisionBrief, type TaskBrief } from "./task-context.js";
import { enqueueSyncBase } from "./sync-base.js";
import { assertTreeLockHeld, TREE_BUSY_RETRY_MS, tryTaskTreeLock, type TreeLock } from "./tree-lock.js";
import { prepareAgent, recordSingleShot, runAgent, type AgentTask } from "./agent/loop-work.js";
import { loadTrajectorySummary } from "./agent/trajectory.js";
import {
  countOpenAgentPulls,
  loadOpenRevision,
  loadTaskToWork,
  lockTaskState,
  markRevisionHandled,
  recordProviderFailure,
  recordRunClaim,
  recordTaskCommit,
  recordTaskPull,
  startTaskBranch,
  type TaskRow,
} from "./store.js";

export const TaskWorkPayload = z.object({
  taskId: z.coerce.number().int().positive(),
  revisionId: z.coerce.number().int().positive().optional(),
});
export type TaskWorkPayload = z.infer<typeof TaskWorkPayload>;

/** Refused edit sets sent back to the employee before the work stops. */
export const MAX_EDIT_REASKS = 2;
/** Failing test runs sent back to the employee for a fix. */
export const MAX_FIX_ROUNDS = 2;
/** How long a task waits when the repository already has its maximum of open agent PRs. */
export const PR_LIMIT_RECHECK_MS = 60_000;

export type WorkOutcome =
  | { kind: "pr_open" | "needs_director"; pullNumber: number | null; reason?: string }
  | { kind: "failed_over"; from: string }
  | { kind: "waiting" | "skipped"; reason: string };

/** Everything one run of the loop shares. */
type Run = {
  services: Services;
  task: TaskRow;
  taskId: number;
  employee: Employee;
  config: RepoConfig;
  subject: SpendSubject;
  budgets: ReturnType<typeof effectiveBudgets>;
  subjectText: string;
  /** The job attempt running this loop, named in each reservation. */
  holder: SpendHolder | undefined;
  /** Fires when the job is stopped: an agent run stops at its next step and stays on record as interrupted. */
  signal: AbortSignal | undefined;
};

/** One model call under a reservation that bounds it: reserve the worst case, call, settle the real usage, warn near caps. */
async function callEmployee(run: Run, messages: ChatMessage[], purpose: string): Promise<StructuredResult<EditSet>> {
  const { services, employee } = run;
  try {
    return await budgetedCall(
      services.pool,
      {
        subject: run.subject,
        budgets: run.budgets,
        purpose,
        holder: run.holder,
        at: services.now(),
        prompt: { messages, schema: EditSet },
        maxOutputTokens: employee.limits.maxTokensPerCall,
        timeoutMs: employee.limits.timeoutSeconds * 1000,
        price: defaultPriceFor(employee, services.now()),
      },
      (bounds) => services.modelFor(employee).generate({ name: "EditSet", schema: EditSet, messages, ...bounds }),
    );
  } finally {
    await warnNearCaps(run);
  }
}

async function warnNearCaps(run: Run): Promise<void> {
  const { services, subject } = run;
  const caps = await capsFor(services.pool, run.budgets, subject);
  const usage = await budgetUsage(services.pool, subject);
  for (const warning of scopesAtWarning(usage, caps, run.budgets.warnAtFraction)) {
    const key =
      warning.scope === "task"
        ? `budget-warning:task:${subject.taskId}`
        : warning.scope === "requirement"
          ? "budget-warning:requirement"
          : `budget-warning:${warning.scope}:${subject.day}`;
    const percent = Math.min(100, Math.round(warning.share * 100));
    await addNotice(services.pool, subject.requirementId, {
      kind: "warning",
      key,
      body: `Budget: the ${describeScope(warning.scope)} budget${warning.scope === "task" ? ` of \`${run.task.task_key}\`` : ""} is ${percent} % used (${warning.unit}). Work stops at 100 %; a director can raise it with \`/aura budget\`.`,
    });
  }
}

async function runChecks(
  services: Services,
  workspace: TaskWorkspace,
  commands: RepoCommands,
): Promise<{ setup?: SandboxResult; test?: SandboxResult; passed: boolean }> {
  const options: SandboxOptions = { ...services.sandbox };
  let setup: SandboxResult | undefined;
  if (commands.setup) {
    setup = await runInSandbox(options, { command: commands.setup, cwd: workspace.path, phase: "setup" });
    if (setup.exitCode !== 0 || setup.timedOut) return { setup, passed: false };
  }
  if (!commands.test) return { ...(setup ? { setup } : {}), passed: true };
  const test = await runInSandbox(options, { command: commands.test, cwd: workspace.path, phase: "test" });
  return { ...(setup ? { setup } : {}), test, passed: test.exitCode === 0 && !test.timedOut };
}

async function recordCommits(run: Run, shas: { sha: string; kind: "work" | "merge" }[], snapshotId: string): Promise<void> {
  for (const commit of shas) {
    await recordTaskCommit(run.services.pool, { taskId: run.taskId, sha: commit.sha, kind: commit.kind, employeeId: run.employee.id, snapshotId });
  }
}

type Saved = { headSha: string | undefined; pushed: boolean };

/**
 * Commits exactly the planned content of the edited paths (re-written first, so nothing a test run changed in
 * them slips in), pushes through pushAuraBranch (merging a person's commits, never forcing), and records every
 * commit the loop made.
 */
async function saveWork(
  run: Run,
  workspace: TaskWorkspace,
  token: string,
  finalWrites: Map<string, string | null>,
  message: string,
  snapshotId: string,
  evidence: RunEvidence | undefined,
): Promise<Saved> {
  const { services } = run;
  const writes: PlannedWrite[] = [...finalWrites].map(([path, content]) => ({ path, content }));
  if (writes.length > 0) {
    await restoreWrites(workspace, writes);
  }
  const commit = await commitChanges(services.workspace, workspace, {
    message,
    trailers: {
      requirement: `${run.task.repo}#${run.task.issue_number}`,
      task: `${run.taskId} ${run.task.task_key}`,
      employee: run.employee.id,
      snapshot: snapshotId,
    },
    paths: writes.map((write) => write.path),
  });
  if (commit.created) await recordCommits(run, [{ sha: commit.sha, kind: "work" }], snapshotId);
  if (!commit.created && !workspace.resumed) return { headSha: undefined, pushed: false };
  // What the run showed, recorded before the push that starts the Auditor (which reads it, never the PR body).
  const claim = evidence ? runClaim(evidence, commit.created ? commit.sha : undefined) : undefined;
  if (claim) await recordRunClaim(services.pool, run.taskId, commit.created ? commit.sha : null, claim);
  const pushed = await pushAuraBranch(services.workspace, workspace, { token });
  if (pushed.mergedRemoteChanges > 0) {
    const merges = await git(workspaceTarget(workspace, undefined), ["rev-list", "--merges", `${commit.sha}..HEAD`]);
    const shas = merges.stdout.split("\n").filter((line) => /^[0-9a-f]{40}$/.test(line));
    await recordCommits(
      run,
      shas.map((sha) => ({ sha, kind: "merge" as const })),
      snapshotId,
    );
  }
  return { headSha: commit.created ? commit.sha : undefined, pushed: true };
}

async function restoreWrites(workspace: TaskWorkspace, writes: PlannedWrite[]): Promise<void> {
  for (const write of writes) {
    if (write.content !== null) await safeWriteFile(workspace.path, write.path, write.content);
    else if (await fileExists(workspace.path, write.path)) await safeDeleteFile(workspace.path, write.path);
  }
}

async function fileExists(root: string, file: string): Promise<boolean> {
  try {
    await safeReadFile(root, file, { maxBytes: Number.MAX_SAFE_INTEGER });
    return true;
  } catch {
    return false;
  }
}

async function needsDirector(run: Run, reason: string, notice: string): Promise<void> {
  const { services } = run;
  await inTransaction(services.pool, async (client) => {
    const state = await lockTaskState(client, run.taskId);
    if (state === "assigned") await transitionTask(client, run.taskId, "working", { actor: run.employee.id, reason: "work loop started" });
    if (state !== "needs_director") await transitionTask(client, run.taskId, "needs_director", { actor: run.employee.id, reason });
    await escalateRequirement(client, run, reason);
    await addNotice(client, Number(run.task.requirement_id), {
      kind: "incident",
      body: notice,
      key: `task-stopped:${run.taskId}:${run.task.attempt}:${run.task.revision_rounds}`,
    });
  });
}

async function escalateRequirement(client: Parameters<typeof transitionTask>[0], run: Run, reason: string): Promise<void> {
  await transitionRequirementFrom(client, Number(run.task.requirement_id), "in_progress", "needs_director", {
    actor: "aura/employees",
    reason: `task ${run.task.task_key}: ${reason}`,
  });
}

function repoConfigOf(task: TaskRow): RepoConfig {
  return task.repo_config ? RepoConfig.parse(task.repo_config) : parseRepoConfig(null);
}

/**
 * Runs the `task.work` job: checks the task is still this job's to work, then that it may start now (a known
 * employee, a free PR slot, a sandbox, the task's tree), and works it under the tree lock. Returns what happened
 * (the job itself ignores it; tests and the bench read it).
 */
export async function runTaskWork(
  services: Services,
  payload: unknown,
  helpers: { job?: Pick<JobHelpers["job"], "id" | "attempts">; abortSignal?: AbortSignal },
): Promise<WorkOutcome> {
  const { taskId, revisionId } = TaskWorkPayload.parse(payload);
  const task = await loadTaskToWork(services.pool, taskId);
  if (!task) return { kind: "skipped", reason: `task ${taskId} does not exist` };
  const jobPayload = { taskId, ...(revisionId ? { revisionId } : {}) };
  if (task.state !== "assigned" && task.state !== "working") {
    return { kind: "skipped", reason: `task ${taskId} is ${task.state}; nothing to do` };
  }
  if (!task.employee_id) return { kind: "skipped", reason: `task ${taskId} has no active assignment` };
  const registryEmployee = services.policies.employees.employees.find((candidate) => candidate.id === task.employee_id);
  const run = newRun(services, task, { taskId, employeeId: task.employee_id, registryEmployee, job: helpers.job, signal: helpers.abortSignal });
  if (!registryEmployee) return stopForUnknownEmployee(run);

  // Rate-aware: a task that has no PR yet waits while the repository has its maximum of open agent PRs.
  if (
    task.pr_number === null &&
    (await countOpenAgentPulls(services.pool, { installationId: task.installation_id, repo: task.repo, exceptTaskId: task.id })) >= run.config.maxOpenAgentPrs
  ) {
    return waitForPullSlot(run, jobPayload);
  }

  // Fail closed before paying for anything: without a sandbox nothing the model writes can be tested.
  const status = sandboxStatus({ ...services.sandbox });
  const mode = status.mode;
  if (mode === "unavailable") return stopForNoSandbox(run, status);
  // The base sync may be rebuilding this task's tree right now: try again shortly rather than tear it down.
  const treeLock = await tryTaskTreeLock(services.pool, taskId);
  if (!treeLock) {
    await enqueue(services.pool, "task.work", jobPayload, { runAt: new Date(services.now().getTime() + TREE_BUSY_RETRY_MS) });
    return { kind: "waiting", reason: "another job is working in the task's tree" };
  }
  try {
    return await prepareAndWork(run, { revisionId, mode, treeLock });
  } finally {
    await treeLock.release();
  }
}

/**
 * What one run shares: the task, its employee (a placeholder when the assigned one left the registry, so the
 * stop can still be recorded), the repo config, the budgets and the spend subject.
 */
function newRun(
  services: Services,
  task: TaskRow,
  who: {
    taskId: number;
    employeeId: string;
    registryEmployee: Employee | undefined;
    job: Pick<JobHelpers["job"], "id" | "attempts"> | undefined;
    signal: AbortSignal | undefined;
  },
): Run {
  const { taskId, employeeId, registryEmployee, job } = who;
  const config = repoConfigOf(task);
  const day = utcDay(services.now());
  return {
    services,
    task,
    taskId,
    employee: registryEmployee ?? {
      id: employeeId,
      provider: "ollama",
      model: "unknown",
      capabilities: [task.task_class],
      limits: { maxTokensPerCall: 1, timeoutSeconds: 1 },
      dataPolicy: { local: true },
    },
    config,
    budgets: effectiveBudgets(services.policies.budgets, config),
    subject: {
      installationId: Number(task.installation_id),
      repo: task.repo,
      requirementId: Number(task.requirement_id),
      taskId,
      employeeId,
      day,
    },
    subjectText: `${task.repo}#${task.issue_number}/${task.task_key}`,
    holder: job ? { jobId: job.id, attempt: job.attempts } : undefined,
    signal: who.signal,
  };
}

async function stopForUnknownEmployee(run: Run): Promise<WorkOutcome> {
  const { services, task } = run;
  await needsDirector(
    run,
    `employee ${task.employee_id} is not in the registry`,
    `Task \`${task.task_key}\` is assigned to \`${task.employee_id}\`, which is no longer in policies/employees.yml. A director can \`/aura reassign\` it.`,
  );
  await refreshStatusComment(services, run.subject.requirementId);
  return { kind: "needs_director", pullNumber: task.pr_number, reason: "unknown employee" };
}

/** Says why the task waits, and runs the job again after PR_LIMIT_RECHECK_MS. */
async function waitForPullSlot(run: Run, jobPayload: TaskWorkPayload): Promise<WorkOutcome> {
  const { services, task, taskId, config } = run;
  await addNotice(services.pool, run.subject.requirementId, {
    kind: "info",
    key: `pr-limit:${taskId}`,
    body: `Task \`${task.task_key}\` waits: ${task.repo} already has ${config.maxOpenAgentPrs} open agent pull requests (\`maxOpenAgentPrs\`). It starts when one closes.`,
  });
  await enqueue(services.pool, "task.work", jobPayload, { runAt: new Date(services.now().getTime() + PR_LIMIT_RECHECK_MS) });
  await refreshStatusComment(services, run.subject.requirementId);
  return { kind: "waiting", reason: "maxOpenAgentPrs reached" };
}

async function stopForNoSandbox(run: Run, status: SandboxStatus): Promise<WorkOutcome> {
  const { services, task } = run;
  // Name what is actually missing: bubblewrap, the resource limits, or both (each says how to fix it).
  const causes = [
    ...(status.bwrap === "ok" ? [] : [new SandboxUnavailableError(status.bwrap).message]),
    ...(status.missing !== "" ? [new SandboxLimitsUnavailableError(status.missing.split("; ")).message] : []),
  ];
  await needsDirector(run, "no sandbox available", `Task \`${task.task_key}\` was not started. ${causes.join(". ")}.`);
  await refreshStatusComment(services, run.subject.requirementId);
  return { kind: "needs_director", pullNumber: task.pr_number, reason: "sandbox unavailable" };
}

/** Moves the task to working, builds its tree from the remote branch (or the base), works, removes the tree. */
async function prepareAndWork(run: Run, input: { revisionId: number | undefined; mode: SandboxRunMode; treeLock: TreeLock }): Promise<WorkOutcome> {
  const { services, task, taskId } = run;
  const { revisionId, mode } = input;
  const installationId = run.subject.installationId;
  // A retried job, or one that follows a killed worker: reservations of calls that can no longer be running stop counting.
  await releaseStaleReservations(services.pool, { at: services.now(), taskId });
  if (task.state === "assigned") {
    await inTransaction(services.pool, (client) =>
      transitionTask(client, taskId, "working", { actor: run.employee.id, reason: "work loop started", details: { employeeId: run.employee.id } }),
    );
  }

  const revision = revisionId ? await loadOpenRevision(services.pool, taskId, revisionId) : undefined;
  const octokit = services.github.forInstallation(installationId);
  const auth = (await octokit.auth({ type: "installation" })) as { token: string };
  const delivered = await deliveredRepository(services.pool, installationId, task.repo);
  const baseRef = task.default_branch ?? delivered.defaultBranch ?? "main";
  const branch = task.branch ?? taskBranchName(task.issue_number, task.task_key);
  const workspace = await prepareTaskWorkspace(services.workspace, {
    repo: { fullName: task.repo, githubWebUrl: services.config.githubWebUrl, cloneUrl: delivered.cloneUrl },
    branch,
    baseRef,
    token: auth.token,
  });
  // A new run supersedes a base conflict the sync reported; whether the base still conflicts is the next sync's to find.
  await startTaskBranch(services.pool, taskId, branch);
  try {
    return await workInTree(run, workspace, { token: auth.token, baseRef, revision, mode, treeLock: input.treeLock });
  } finally {
    await removeTaskWorkspace(workspace).catch((error: unknown) => services.log.warn({ taskId, reason: String(error) }, "could not remove the work tree"));
  }
}

type Stop = { reason: string; remaining: string };

type TreeInput = { token: string; baseRef: string; revision: (RevisionBrief & { id: number }) | undefined; mode: SandboxRunMode; treeLock: TreeLock };

/** What the employee's edit-and-test rounds produced, and why they ended early if they did. */
type Work = {
  finalWrites: Map<string, string | null>;
  summary: string | undefined;
  evidence: RunEvidence | undefined;
  stop: Stop | undefined;
  providerFailure: ModelCallError | undefined;
  /** The repository guidance files an agent was given (for the PR). */
  guidance?: string[];
  /** The agent's work run (work_runs), when an agent did the work. */
  runId?: number;
};

/**
 * The work in a prepared tree: record the execution snapshot, let the employee edit and test, save and push what
 * was done, then hand over: fail over on a provider failure, stop when nothing was changed, else open or update
 * the task's draft PR and move the task on.
 */
async function workInTree(run: Run, workspace: TaskWorkspace, input: TreeInput): Promise<WorkOutcome> {
  const { services, task } = run;
  const commands = await repoCommands(run, workspace);
  const plan = await planWork(run, workspace, input, commands);
  const snapshot = await executionSnapshot(run, workspace, input, plan.promptSha256, plan.mode);
  const snapshotId = await recordSnapshot(services.pool, snapshot, run.subjectText);
  const work = await plan.work();

  const saved = await saveOrHandOver(run, workspace, input, work, snapshotId);
  if ("kind" in saved) return saved;
  if (work.evidence && saved.headSha) work.evidence.headSha = saved.headSha;

  if (work.providerFailure) return failOver(run, work.providerFailure);

  if (!saved.pushed && task.pr_number === null) {
    const reason = work.stop?.reason ?? "the employee made no change";
    await needsDirector(run, reason, `Task \`${task.task_key}\` stopped before any change was made: ${inertInline(reason)}`);
    await refreshStatusComment(services, run.subject.requirementId);
    return { kind: "needs_director", pullNumber: null, reason };
  }
  return publishWork(run, workspace, input, work, snapshotId);
}

/**
 * How the employee works the task (its registry `tools`): as an agent (native tool calls or the action
 * protocol), or single-shot EditSets (`none`). Either way the first messages are built before the snapshot.
 */
async function planWork(
  run: Run,
  workspace: TaskWorkspace,
  input: TreeInput,
  commands: RepoCommands,
): Promise<{ promptSha256: string; mode: { mode: WorkMode; maxSteps: number | null }; work: () => Promise<Work> }> {
  const { services, task } = run;
  const mode = workModeOf(run.employee);
  if (mode === "none") {
    const context = await buildTaskContext(workspace.path, await listFiles(workspace), taskBrief(task), { revision: input.revision });
    const record = { taskId: run.taskId, attempt: task.attempt, revisionRound: input.revision?.round ?? task.revision_rounds };
    const who = { employeeId: run.employee.id, jobId: run.holder?.jobId ?? null, subject: run.subjectText };
    return {
      promptSha256: context.promptSha256,
      mode: { mode, maxSteps: null },
      work: () => recordSingleShot(services, { ...record, ...who }, () => editAndTest(run, workspace, context.messages, commands)),
    };
  }
  const agent = agentTask(run, workspace, input, commands, mode);
  const start = await prepareAgent(agent);
  return { promptSha256: start.promptSha256, mode: { mode, maxSteps: agent.limits.maxSteps }, work: () => runAgent(agent, start) };
}

function agentTask(run: Run, workspace: TaskWorkspace, input: TreeInput, commands: RepoCommands, protocol: "native" | "actions"): AgentTask {
  const { services, task } = run;
  return {
    services,
    employee: run.employee,
    protocol,
    taskId: run.taskId,
    attempt: task.attempt,
    revisionRound: input.revision?.round ?? task.revision_rounds,
    brief: taskBrief(task),
    subject: run.subject,
    subjectText: run.subjectText,
    budgets: run.budgets,
    holder: run.holder,
    limits: agentLimits(run.config, task.task_class),
    workspace,
    commands,
    rules: editRules(run, new Map()),
    revision: input.revision,
    secrets: [input.token],
    afterTurn: () => warnNearCaps(run),
    onTurn: throttledProgress(
      () =>
        refreshStatusComment(services, run.subject.requirementId).catch((error: unknown) =>
          services.log.warn({ taskId: run.taskId, reason: String(error) }, "could not show the agent's current step in the status comment"),
        ),
      { now: services.now, intervalMs: PROGRESS_REFRESH_MS },
    ),
    checks: async () => {
      const checks = await runChecks(services, workspace, commands);
      return { setup: checks.setup, test: checks.test, headSha: undefined, passed: checks.passed, fixRounds: 0 };
    },
    signal: run.signal,
  };
}

function taskBrief(task: TaskRow): TaskBrief {
  return {
    key: task.task_key,
    title: task.title,
    instructions: task.instructions,
    taskClass: task.task_class,
    scope: task.scope,
    acceptance: task.acceptance,
    issueNumber: task.issue_number,
    requirementTitle: task.requirement_title,
    repo: task.repo,
  };
}

/** Everything a replay needs to know about this run: who worked, with which limits, from which commit, with which tools. */
async function executionSnapshot(
  run: Run,
  workspace: TaskWorkspace,
  input: TreeInput,
  promptSha256: string,
  work: { mode: WorkMode; maxSteps: number | null },
): Promise<ExecutionSnapshot> {
  const { services, task, taskId, employee } = run;
  return {
    taskId,
    attempt: task.attempt,
    revisionRound: input.revision?.round ?? task.revision_rounds,
    employee: { id: employee.id, provider: employee.provider, model: employee.model },
    parameters: {
      temperature: null,
      maxOutputTokens: employee.limits.maxTokensPerCall,
      timeoutMs: employee.limits.timeoutSeconds * 1000,
      maxEditReasks: MAX_EDIT_REASKS,
      maxFixRounds: MAX_FIX_ROUNDS,
    },
    promptSha256,
    baseSha: workspace.baseSha,
    startSha: workspace.startSha,
    branch: workspace.branch,
    tools: await toolVersions(),
    sandbox: input.mode,
    policyRevision: services.policies.revision,
    work,
    createdAt: services.now().toISOString(),
  };
}

/** The repository's configured setup and test commands, or the ones found in the tree when none is configured. */
async function repoCommands(run: Run, workspace: TaskWorkspace): Promise<RepoCommands> {
  const configured: RepoCommands = { setup: run.config.setup ?? undefined, test: run.config.test ?? undefined };
  return configured.setup || configured.test ? configured : await defaultRepoCommands(workspace.path);
}

function editRules(run: Run, change: Map<string, { before: number; after: number }>): EditRules {
  const { services, task } = run;
  return {
    scope: task.scope,
    protectedPaths: services.policies.protectedPaths.protected,
    taskClass: task.task_class,
    limits: { maxFileBytes: services.config.AURA_EDIT_MAX_FILE_BYTES, maxChangeBytes: services.config.AURA_EDIT_MAX_CHANGE_BYTES },
    change,
  };
}

/**
 * The employee's rounds: ask for an EditSet, check it (refused edits go back at most MAX_EDIT_REASKS times), write
 * it, run setup and tests in the sandbox (failures go back at most MAX_FIX_ROUNDS times). Ends when the tests
 * pass, the rounds are used up, or a call or the sandbox stops the work.
 */
async function editAndTest(run: Run, workspace: TaskWorkspace, contextMessages: ChatMessage[], commands: RepoCommands): Promise<Work> {
  const { services, taskId, employee } = run;
  const change = new Map<string, { before: number; after: number }>();
  const rules = editRules(run, change);
  const messages: ChatMessage[] = [...contextMessages];
  const work: Work = { finalWrites: new Map(), summary: undefined, evidence: undefined, stop: undefined, providerFailure: undefined };
  let reasks = 0;
  let fixRounds = 0;

  for (let call = 1; ; call++) {
    let result: StructuredResult<EditSet>;
    try {
      result = await callEmployee(run, messages, fixRounds > 0 ? `fix-round-${fixRounds}` : reasks > 0 ? `edit-reask-${reasks}` : "edits");
    } catch (error) {
      Object.assign(work, callFailure(error, work));
      break;
    }
    messages.push({ role: "assistant", content: JSON.stringify(result.value) });
    const plan = await planEdits(workspace.path, result.value, rules);
    if (!plan.ok) {
      await appendEvents(services.pool, [
        { actor: employee.id, action: "task.edits_refused", subject: run.subjectText, payload: { taskId, call, refusals: plan.refusals } },
      ]);
      if (reasks >= MAX_EDIT_REASKS) {
        work.stop = {
          reason: `The employee's edits were refused ${reasks + 1} times: ${plan.refusals.map((r) => `${r.path}: ${r.reason}`).join("; ")}`,
          remaining: remainingWork(work.evidence, work.finalWrites.size > 0),
        };
        break;
      }
      reasks++;
      messages.push({ role: "user", content: refusalMessage(plan.refusals) });
      continue;
    }
    work.summary = result.value.summary;
    await applyEdits(workspace.path, plan.writes);
    recordChange(change, plan.writes);
    for (const write of plan.writes) work.finalWrites.set(write.path, write.content);
    try {
      const checks = await runChecks(services, workspace, commands);
      work.evidence = { setup: checks.setup, test: checks.test, headSha: undefined, passed: checks.passed, fixRounds };
    } catch (error) {
      if (!(error instanceof SandboxUnavailableError)) throw error;
      work.stop = { reason: error.message, remaining: "Run the tests: the sandbox stopped working during the task." };
      break;
    }
    if (work.evidence.passed || fixRounds >= MAX_FIX_ROUNDS) break;
    fixRounds++;
    const failing = work.evidence.test ?? work.evidence.setup;
    if (failing) messages.push({ role: "user", content: failureMessage(failing, fixRounds, MAX_FIX_ROUNDS) });
  }
  return work;
}

/**
 * What a failed employee call means for the work: a stop (budget spent, output allowance too small, no valid
 * EditSet) or a provider failure to fail over from. Any other error is thrown on.
 */
function callFailure(error: unknown, work: Work): Pick<Work, "stop"> | Pick<Work, "providerFailure"> {
  if (error instanceof BudgetExhausted || error instanceof OutputAllowanceTooSmall) {
    return { stop: { reason: error.message, remaining: remainingWork(work.evidence, work.finalWrites.size > 0) } };
  }
  if (error instanceof ModelCallError && error.isProviderFailure) return { providerFailure: error };
  if (error instanceof ModelCallError) {
    return {
      stop: {
        reason: `The employee gave no valid EditSet: ${error.message.split("\n")[0]}`,
        remaining: remainingWork(work.evidence, work.finalWrites.size > 0),
      },
    };
  }
  throw error;
}

/** Commits and pushes the work; a merge conflict on the push hands the task to a director instead (the outcome returned). */
async function saveOrHandOver(run: Run, workspace: TaskWorkspace, input: TreeInput, work: Work, snapshotId: string): Promise<Saved | WorkOutcome> {
  const { services, task, taskId } = run;
  // Model text: a "fixes #12" in it must not close an issue when the commit lands.
  const commitMessage = withoutIssueReferences(
    `${task.title}\n\n${work.summary ?? (work.stop ? "Partial work, stopped before the task was done." : "Work in progress.")}`,
  );
  try {
    // Never push from a tree another job may have rebuilt: a lost lock fails this job, which runs again.
    assertTreeLockHeld(input.treeLock, taskId);
    return await saveWork(run, workspace, input.token, work.finalWrites, commitMessage, snapshotId, work.evidence);
  } catch (error) {
    if (!(error instanceof MergeConflictError)) throw error;
    await needsDirector(
      run,
      "merge conflict on push",
      `Task \`${task.task_key}\`: ${error.message}. A director can resolve the conflict on \`${workspace.branch}\`.`,
    );
    await refreshStatusComment(services, run.subject.requirementId);
    return { kind: "needs_director", pullNumber: task.pr_number, reason: "merge conflict" };
  }
}

/** Opens or updates the task's draft PR with the evidence, records it, and moves the task to pr_open or needs_director. */
async function publishWork(run: Run, workspace: TaskWorkspace, input: TreeInput, work: Work, snapshotId: string): Promise<WorkOutcome> {
  const { services, task, taskId, employee } = run;
  const cost = await taskSpend(services.pool, taskId);
  const outcome = pullOutcome(work);
  const body = renderPullBody({
    taskId,
    task: { key: task.task_key, title: task.title, instructions: task.instructions, taskClass: task.task_class, scope: task.scope },
    issueNumber: task.issue_number,
    onlyTask: Number(task.task_count) === 1,
    employee: { id: employee.id, provider: employee.provider, model: employee.model },
    summary: work.summary,
    evidence: work.evidence,
    cost,
    snapshotId,
    outcome,
    revisionRounds: task.revision_rounds,
    trajectory: work.runId !== undefined ? await loadTrajectorySummary(services.pool, work.runId) : undefined,
  });
  const [owner, repoName] = task.repo.split("/") as [string, string];
  const pull = await openOrUpdatePull(
    services.github.forInstallation(run.subject.installationId),
    { owner, repo: repoName, branch: workspace.branch, base: input.baseRef },
    {
      title: task.title,
      body,
      knownNumber: task.pr_number,
      // A branch this run created cannot be the head of a PR yet: no lookup needed.
      branchIsNew: !workspace.resumed,
    },
  );

  const next: TaskState = outcome.kind === "passed" ? "pr_open" : "needs_director";
  const reason =
    outcome.kind === "passed"
      ? `draft PR #${pull.number} ${pull.created ? "opened" : "updated"}; sandbox run passed`
      : outcome.kind === "tests-failing"
        ? `${failingTests(work)}; draft PR #${pull.number} keeps the work`
        : `work stopped: ${outcome.reason}`;
  await recordPull(run, workspace, {
    pull,
    outcome,
    next,
    reason,
    cost,
    snapshotId,
    evidence: work.evidence,
    revision: input.revision,
    failing: failingTests(work),
  });
  await refreshStatusComment(services, run.subject.requirementId);
  return { kind: next, pullNumber: pull.number, ...(outcome.kind !== "passed" ? { reason } : {}) };
}

function pullOutcome(work: Work): PullOutcome {
  const { stop, evidence } = work;
  if (stop) return { kind: "stopped", reason: stop.reason, remaining: stop.remaining };
  return evidence === undefined || evidence.passed ? { kind: "passed" } : { kind: "tests-failing" };
}

type PullRecord = {
  pull: PullResult;
  outcome: PullOutcome;
  next: TaskState;
  reason: string;
  cost: Amount;
  snapshotId: string;
  evidence: RunEvidence | undefined;
  revision: { id: number } | undefined;
  /** What failing tests mean for this work (after the fix rounds, or on the agent's submitted work). */
  failing: string;
};

/** How failing tests are reported: the single-shot path had its fix rounds; an agent ran the tests itself before it submitted. */
function failingTests(work: Work): string {
  return work.runId === undefined ? `tests still fail after ${MAX_FIX_ROUNDS} fix rounds` : "tests fail on the work the agent submitted (the app's own run)";
}

/**
 * In one transaction: the PR on the task, the task's transition (only while it is still this run's), the revision
 * handled, a base sync, the `task.pr_opened`/`task.pr_updated` event, and on a stop the escalation and its notice.
 */
async function recordPull(run: Run, workspace: TaskWorkspace, record: PullRecord): Promise<void> {
  const { services, task, taskId, employee } = run;
  const { pull, outcome, next, reason, cost, snapshotId, evidence } = record;
  await inTransaction(services.pool, async (client) => {
    await recordTaskPull(client, taskId, { number: pull.number, costUsd: cost.usd, branch: workspace.branch });
    // The requirement may have been cancelled (or the task reassigned) while the employee worked: the PR is
    // recorded, but the task's state is no longer this run's to change.
    const current = await lockTaskState(client, taskId);
    if (current === "working") {
      await transitionTask(client, taskId, next, { actor: employee.id, reason, details: { pullNumber: pull.number, snapshotId } });
    }
    if (record.revision) await markRevisionHandled(client, record.revision.id);
    // The base may have moved while this run worked (a revision starts from the PR's old branch; a new branch
    // from the base as it was): one sync merges it in, or hands a conflict to a director.
    if (current === "working") await enqueueSyncBase(client, taskId);
    await appendEvents(client, [
      {
        actor: employee.id,
        action: pull.created ? "task.pr_opened" : "task.pr_updated",
        subject: run.subjectText,
        payload: {
          taskId,
          pullNumber: pull.number,
          draft: pull.draft,
          branch: workspace.branch,
          headSha: evidence?.headSha ?? null,
          testsPassed: evidence?.passed ?? null,
          exitCode: evidence?.test?.exitCode ?? null,
          counts: evidence?.test?.testCounts ?? null,
          sandbox: evidence?.test?.sandbox ?? evidence?.setup?.sandbox ?? null,
          costUsd: cost.usd,
          snapshotId,
        },
      },
    ]);
    if (next === "needs_director" && current === "working") {
      await escalateRequirement(client, run, reason);
      await addNotice(client, run.subject.requirementId, {
        kind: "incident",
        key: `task-stopped:${taskId}:${task.attempt}:${task.revision_rounds}`,
        body:
          outcome.kind === "stopped"
            ? `Task \`${task.task_key}\` stopped: ${inertInline(outcome.reason)} Done so far: draft PR #${pull.number}. What is left: ${inertInline(outcome.remaining)}`
            : `Task \`${task.task_key}\`: the ${record.failing}. The work is kept in draft PR #${pull.number}; a director can \`/aura revise\`, \`/aura reassign\` or close it.`,
      });
    }
  });
}

function remainingWork(evidence: RunEvidence | undefined, edited: boolean): string {
  if (!edited) return "All of the task: no edit was applied.";
  if (!evidence) return "Running the tests on the edits and fixing any failures.";
  return evidence.passed ? "Nothing from the test run; review the work." : "Making the failing tests pass.";
}

/**
 * The employee's provider failed: record the failure and ask the Manager to route the task again (`task.reroute`,
 * src/manager/reroute.ts), in one transaction. Who works next is the Manager's decision, never the employee's.
 */
async function failOver(run: Run, failure: ModelCallError): Promise<WorkOutcome> {
  const { services, taskId, employee } = run;
  await inTransaction(services.pool, async (client) => {
    await recordProviderFailure(client, { taskId, employeeId: employee.id, kind: failure.kind, message: failure.message });
    await enqueue(client, "task.reroute", { taskId, from: employee.id, failure: failure.kind });
  });
  return { kind: "failed_over", from: employee.id };
}
