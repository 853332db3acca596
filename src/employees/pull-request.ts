// The task's pull request: its body (the task, the requirement link, the employee, and only what the sandbox
// run showed, plus a hidden task marker for the Governor) and the one idempotent way to open or update it. A
// retried job finds the PR it opened before (by the recorded number, else by the head branch), so a task never
// gets a second PR. Where drafts are unavailable the PR opens as a normal one titled [WIP]. Model-written text
// (the plan's title, instructions and scope, the employee's summary) is rendered inert (src/github/inert-markdown.ts):
// it cannot hide markers, show images, link, mention or close issues. What the Auditor compares its own run
// with is not in the body at all: the work loop records it (src/employees/run-claims.ts).
import { inertCode, inertInline, inertMarkdown } from "../github/inert-markdown.js";
import type { InstallationOctokit } from "../github/octokit.js";
import type { SandboxResult } from "../workspace/index.js";

export const taskMarker = (taskId: number) => `<!-- aura:task id=${taskId} -->`;

export type RunEvidence = {
  setup: SandboxResult | undefined;
  test: SandboxResult | undefined;
  /** The commit whose tree the run tested. */
  headSha: string | undefined;
  passed: boolean;
  fixRounds: number;
};

export type PullOutcome = { kind: "passed" } | { kind: "tests-failing" } | { kind: "stopped"; reason: string; remaining: string };

export type PullBodyInput = {
  taskId: number;
  task: { key: string; title: string; instructions: string; taskClass: string; scope: readonly string[] };
  issueNumber: number;
  onlyTask: boolean;
  employee: { id: string; provider: string; model: string };
  summary: string | undefined;
  evidence: RunEvidence | undefined;
  cost: { usd: number; tokens: number };
  snapshotId: string;
  outcome: PullOutcome;
  revisionRounds: number;
  /** The agent's run behind this body (absent for single-shot work, which has its fix rounds instead). */
  trajectory?: TrajectorySummary | undefined;
};

/** What an agent's run did, for the PR body: read from its trajectory (src/employees/agent/trajectory.ts). */
export type TrajectorySummary = {
  /** Model turns taken, and the step cap they counted against. */
  turns: number;
  maxSteps: number | null;
  toolCalls: number;
  /** The commands the agent ran (run_command), in order. */
  commands: string[];
  /** Exit codes of the agent's own test runs (run_tests), in order; -1 when a run had none. */
  testRuns: number[];
  filesRead: string[];
  filesChanged: string[];
  /** The repository guidance files the agent was given. */
  guidance: string[];
  /** Paths the rule layer granted beyond the planned scope, and requests it refused with the reason. */
  granted: string[];
  refused: { path: string; reason: string }[];
  /** Why the run ended (submitted, or the limit that stopped it). */
  endReason: string | null;
};

/** Entries of each list the PR body shows before "and N more". */
export const SUMMARY_LIST_CAP = 8;
/** Characters of one command shown in the PR body. */
export const SUMMARY_COMMAND_CHARS = 100;

function runLine(run: SandboxResult): string {
  const exit = run.timedOut ? `timed out after ${Math.round(run.limits.timeoutMs / 1000)} s` : `exit code ${run.exitCode ?? `signal ${run.signal ?? "?"}`}`;
  return `\`${run.command.replace(/`/g, "'")}\` (${run.phase}): ${exit}, ${(run.durationMs / 1000).toFixed(1)} s, log sha256 \`${run.logSha256.slice(0, 16)}\``;
}

function countsLine(run: SandboxResult): string {
  const counts = run.testCounts;
  if (!counts) return "The test output had no summary line the app could read, so no counts are claimed.";
  const unit = counts.unit === "packages" ? "packages" : "tests";
  return `${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped, ${counts.total} ${unit} in total (${counts.runner} summary).`;
}

export function renderPullBody(input: PullBodyInput): string {
  const lines: string[] = [
    taskMarker(input.taskId),
    `${input.onlyTask ? "Closes" : "Part of"} #${input.issueNumber}`,
    "",
    `**Task \`${input.task.key}\`** (${input.task.taskClass}): ${inertInline(input.task.title)}`,
    "",
    inertMarkdown(input.task.instructions, { prefix: "> " }),
    "",
    `Scope: ${input.task.scope.map((glob) => inertCode(glob)).join(", ")}`,
    `Employee: \`${input.employee.id}\` (${input.employee.provider} \`${input.employee.model}\`)`,
  ];
  if (input.summary) lines.push("", "#### What the employee says it changed", "", inertMarkdown(input.summary, { prefix: "> " }));

  lines.push("", "#### Evidence (the app's own sandbox run)", "");
  lines.push(...evidenceLines(input.evidence, input.trajectory === undefined));
  lines.push(`- Cost: $${input.cost.usd.toFixed(4)} (${input.cost.tokens} tokens)`);
  if (input.revisionRounds > 0) lines.push(`- Revision rounds: ${input.revisionRounds}`);
  if (input.trajectory) lines.push("", "#### What the agent did (its trajectory)", "", ...trajectoryLines(input.trajectory));

  lines.push("", statusLine(input.outcome, input.trajectory !== undefined));
  lines.push("", `<sub>Execution snapshot \`${input.snapshotId}\` (Aura-Snapshot trailer). Aura never merges; a director does.</sub>`);
  return lines.join("\n");
}

/** Only what the app's own sandbox run showed: warnings about the sandbox, the setup and test runs, and the limits. */
function evidenceLines(evidence: RunEvidence | undefined, hadFixRounds: boolean): string[] {
  const run = evidence?.test ?? evidence?.setup;
  if (!evidence || !run) return ["No setup or test command ran, so nothing about tests is claimed."];
  const lines = sandboxWarnings(run);
  if (evidence.setup) lines.push(...setupLines(evidence.setup));
  if (evidence.test) {
    lines.push(`- Tests: ${runLine(evidence.test)}`, `- Counts: ${countsLine(evidence.test)}`);
  } else {
    lines.push("- Tests: no test command is configured (`test` in `.github/aura.yml`) and none was detected, so no tests ran.");
  }
  const mode =
    run.sandbox === "bwrap"
      ? `\`${run.mode}\` (bubblewrap: no network for tests, read-only system, scrubbed environment)`
      : run.sandbox === "kubernetes"
        ? `\`${run.mode}\` (Kubernetes Job: no network, read-only system, scrubbed environment)`
        : `**\`${run.mode}\` (unsandboxed)**`;
  lines.push(`- Sandbox: ${mode}`);
  if (run.limits.held.length > 0) lines.push(`- Limits that held: ${run.limits.held.join(", ")}`);
  if (evidence.headSha) lines.push(`- Tested commit: ${evidence.headSha}`);
  if (hadFixRounds) lines.push(`- Fix rounds used: ${evidence.fixRounds}`);
  return lines;
}

const END_TEXT: Record<string, string> = {
  submitted: "the agent submitted its work",
  "step-cap": "**stopped by the step cap**",
  budget: "**stopped by the token or cost budget**",
  "wall-clock": "**stopped by the wall-clock limit**",
  idle: "**stopped after turns in a row without progress (idle limit)**",
  repetition: "**stopped for repeating the same call (repetition limit)**",
  "scope-refused": "**stopped: a scope request was refused**",
  "provider-failure": "**stopped: the model provider failed**",
  sandbox: "**stopped: the sandbox failed**",
  interrupted: "**interrupted: the job stopped mid-run**",
};

/** The run in a few capped lines: steps, commands, test runs, files, guidance, scope grants and how it ended. */
function trajectoryLines(run: TrajectorySummary): string[] {
  const paths = (list: readonly string[]) => capped(list.map((path) => inertCode(path)));
  const cap = run.maxSteps === null ? "" : ` of at most ${run.maxSteps}`;
  const ended = END_TEXT[run.endReason ?? ""] ?? inertInline(run.endReason ?? "not recorded");
  const lines = [`- Steps: ${run.turns} model turns${cap}, ${run.toolCalls} tool calls; ended: ${ended}`];
  lines.push(`- Commands run: ${run.commands.length === 0 ? "none" : capped(run.commands.map((command) => inertCode(shortCommand(command))))}`);
  const exits = run.testRuns.map((code) => (code === -1 ? "no exit code" : `exit ${code}`));
  lines.push(`- Test runs by the agent: ${run.testRuns.length === 0 ? "none" : `${run.testRuns.length} (${capped(exits)})`}`);
  lines.push(`- Files read: ${run.filesRead.length === 0 ? "none" : paths(run.filesRead)}`);
  lines.push(`- Files changed: ${run.filesChanged.length === 0 ? "none" : paths(run.filesChanged)}`);
  lines.push(`- Repository guidance read: ${run.guidance.length === 0 ? "none found" : paths(run.guidance)}`);
  if (run.granted.length > 0) lines.push(`- Scope granted beyond the plan: ${paths(run.granted)}`);
  if (run.refused.length > 0) lines.push(`- Scope refused: ${capped(run.refused.map((entry) => `${inertCode(entry.path)} (${inertInline(entry.reason)})`))}`);
  lines.push("", "The agent's own test runs are not evidence; the app's run above is. `aura trajectory` prints every step.");
  return lines;
}

/** A list joined with commas, cut after SUMMARY_LIST_CAP entries with "and N more". */
function capped(items: readonly string[]): string {
  const shown = items.slice(0, SUMMARY_LIST_CAP).join(", ");
  return items.length > SUMMARY_LIST_CAP ? `${shown} and ${items.length - SUMMARY_LIST_CAP} more` : shown;
}

function shortCommand(command: string): string {
  const line = command.replace(/\s+/g, " ").trim();
  return line.length > SUMMARY_COMMAND_CHARS ? `${line.slice(0, SUMMARY_COMMAND_CHARS - 1)}…` : line;
}

/** A warning for an unsandboxed run, and for each kind of missing limit the run went without. */
function sandboxWarnings(run: SandboxResult): string[] {
  const lines: string[] = [];
  if (run.sandbox === "none") {
    lines.push(
      "> [!WARNING]",
      "> **UNSANDBOXED RUN.** bubblewrap was not available and the operator set `AURA_ALLOW_UNSANDBOXED=true`: the commands below ran as plain processes on the app's host.",
      "",
    );
  }
  // Missing limits the operator accepted by name, and any others that ran only because of AURA_ALLOW_UNSANDBOXED.
  const accepted = run.limits.accepted;
  const allowed = run.limits.missing.filter((limit) => !accepted.includes(limit));
  if (accepted.length > 0) {
    lines.push(
      "> [!WARNING]",
      `> **LIMITS INCOMPLETE.** Not every sandbox limit works on the app's host and the operator accepted running without these in \`AURA_SANDBOX_ACCEPT_MISSING\`: the commands below ran in bubblewrap without ${accepted.join("; ")}.`,
      "",
    );
  }
  if (allowed.length > 0) {
    lines.push(
      "> [!WARNING]",
      `> **LIMITS INCOMPLETE.** Not every sandbox limit works on the app's host and the operator set \`AURA_ALLOW_UNSANDBOXED=true\`: the commands below ran without ${allowed.join("; ")}.`,
      "",
    );
  }
  return lines;
}

/** The setup run, the registries it could reach, and what to do when it failed without network. */
function setupLines(setup: SandboxResult): string[] {
  const lines = [`- Setup: ${runLine(setup)}`];
  const egress = setup.egress;
  if (egress.kind === "registry-proxy") {
    const hosts = (targets: readonly string[]) => targets.map((target) => `\`${target}\``).join(", ");
    lines.push(`  Setup could reach only: ${hosts(egress.allowed)}; refused: ${egress.refused.length > 0 ? hosts(egress.refused) : "none"}.`);
  }
  if ((setup.exitCode !== 0 || setup.timedOut) && !setup.network) {
    lines.push(
      "  Setup ran without network; if it needs the package registry, the operator can set `AURA_SETUP_NETWORK=true`, which lets setup reach the registry hosts in `AURA_SETUP_REGISTRY_HOSTS` through the allow-list proxy.",
    );
  }
  return lines;
}

function statusLine(outcome: PullOutcome, agent: boolean): string {
  if (outcome.kind === "passed") return "**Status:** the sandbox run passed. The Governor and the Auditor check this PR next; a director decides.";
  if (outcome.kind === "tests-failing") {
    const when = agent ? "in the app's own run on the work the agent submitted" : "after the fix rounds";
    return `**Status: the tests still fail** ${when}. The work is kept here as a draft; a director decides what happens next.`;
  }
  // The reason can quote the employee (refused paths, its invalid reply): inert like the rest of its text.
  return [`**Status: work stopped.** ${inertInline(outcome.reason)}`, "", `What is left: ${inertInline(outcome.remaining)}`].join("\n");
}

export type PullTarget = { owner: string; repo: string; branch: string; base: string };

export type PullResult = { number: number; created: boolean; draft: boolean; title: string };

function isDraftUnsupported(error: unknown): boolean {
  const failure = error as { status?: number; message?: string; response?: { data?: unknown } };
  if (failure.status !== 422) return false;
  const text = `${failure.message ?? ""} ${JSON.stringify(failure.response?.data ?? "")}`;
  return /draft/i.test(text);
}

type PullSummary = { number: number; draft?: boolean; title: string };

/** GitHub's answer to a second PR from the same head: 422 "A pull request already exists for owner:branch". */
function isAlreadyOpen(error: unknown): boolean {
  const failure = error as { status?: number; message?: string; response?: { data?: unknown } };
  if (failure.status !== 422) return false;
  return /already exists/i.test(`${failure.message ?? ""} ${JSON.stringify(failure.response?.data ?? "")}`);
}

async function findOpenPull(octokit: InstallationOctokit, target: PullTarget): Promise<PullSummary | undefined> {
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/pulls", {
    owner: target.owner,
    repo: target.repo,
    head: `${target.owner}:${target.branch}`,
    state: "open",
    per_page: 10,
  });
  return (data as PullSummary[])[0];
}

async function updatePull(octokit: InstallationOctokit, target: PullTarget, existing: PullSummary, body: string): Promise<PullResult> {
  const { data } = await octokit.request("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", {
    owner: target.owner,
    repo: target.repo,
    pull_number: existing.number,
    body,
  });
  const pull = data as PullSummary;
  return { number: existing.number, created: false, draft: pull.draft ?? false, title: pull.title ?? existing.title };
}

async function createPull(octokit: InstallationOctokit, target: PullTarget, input: { title: string; body: string; draft: boolean }): Promise<PullResult> {
  const { data } = await octokit.request("POST /repos/{owner}/{repo}/pulls", {
    owner: target.owner,
    repo: target.repo,
    title: input.title,
    head: target.branch,
    base: target.base,
    body: input.body,
    ...(input.draft ? { draft: true } : {}),
  });
  return { number: Number((data as PullSummary).number), created: true, draft: input.draft, title: input.title };
}

/**
 * Opens the task's draft PR, or updates the body of the one it already has: the recorded PR number first,
 * then an open PR from the same head branch, and only then a new PR. `branchIsNew` (the head branch did not
 * exist on the remote before this run pushed it, so no PR can have it as head) skips the lookup; should GitHub
 * still answer that a PR for the head exists, that PR is found and updated.
 */
export async function openOrUpdatePull(
  octokit: InstallationOctokit,
  target: PullTarget,
  input: { title: string; body: string; knownNumber: number | null; branchIsNew?: boolean },
): Promise<PullResult> {
  const known = input.knownNumber !== null ? { number: input.knownNumber, title: input.title } : undefined;
  const existing = known ?? (input.branchIsNew ? undefined : await findOpenPull(octokit, target));
  if (existing) return updatePull(octokit, target, existing, input.body);
  const fallBack = async (error: unknown): Promise<PullResult> => {
    const found = isAlreadyOpen(error) ? await findOpenPull(octokit, target) : undefined;
    if (!found) throw error;
    return updatePull(octokit, target, found, input.body);
  };
  try {
    return await createPull(octokit, target, { title: input.title, body: input.body, draft: true });
  } catch (error) {
    if (!isDraftUnsupported(error) || isAlreadyOpen(error)) return fallBack(error);
  }
  // Drafts are not available (plan or repository type): a normal PR marked work-in-progress in its title.
  try {
    return await createPull(octokit, target, { title: `[WIP] ${input.title}`, body: input.body, draft: false });
  } catch (error) {
    return fallBack(error);
  }
}
