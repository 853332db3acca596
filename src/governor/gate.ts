// The HNSC gate. HNSC, hybrid neuro-symbolic control, is the governor's idea: models write the code, and rules
// written as code, not a model, decide whether it may merge. The gate builds the PullContext from GitHub and the
// database, evaluates it against the effective pack
// (default pack + the BASE branch's repo rules), and posts commit status `aura/hnsc` on the head SHA: `pending`
// first, then success, failure or error. Anything that stops evaluation ends in `error`, never a pass. Each
// verdict is stored and audited. What is posted is the strictest say over every open pull request at that
// commit (src/governor/commit-status.ts), so a second pull request at an agent PR's head can never turn its
// gate green. Evaluations of one pull request are serialised by an advisory lock, so an older evaluation can
// never overwrite a newer one's status.
import { commitSourceFor, diffFromClone } from "../workspace/commit-checkout.js";
import { loadEvidence } from "../auditor/evidence-store.js";
import type { RepoConfig } from "../config/repo-config.js";
import type { InstallationOctokit } from "../github/octokit.js";
import { isDirector } from "../github/permissions.js";
import { countGateVerdict } from "../observability/metrics.js";
import { readRepoConfig } from "../github/repo-config-reader.js";
import { withSessionLock } from "../db/advisory-lock.js";
import type { Services } from "../services.js";
import { clip, commitStatusOf, EVALUATING_DESCRIPTION, postStatus, restatusCommit, withCommitLock, type CommitStatus } from "./commit-status.js";
import { describeVerdict, type VerdictDescription } from "./describe-verdict.js";
import { effectivePack } from "./effective-pack.js";
import { evaluate } from "./evaluate.js";
import { getPull, isAgentPull, listPullCommits, listPullFiles, splitRepo, type GitHubPull } from "../github/pull.js";
import { findRepoRulesApproval, listOverrides } from "./store.js";
import type { ChangedFile, PullContext } from "./pull-context.js";
import { PolicyRelaxationRefused, withApprovedRelaxations } from "./repo-rules.js";
import { REPO_RULES_COMMAND, repoRulesHash } from "./repo-rules-approval.js";
import { findTaskForPull, type FoundTask } from "./task-record.js";
import type { Conclusion, Verdict } from "./verdict.js";
import { isPullRecordedOpen, readCommitRecords, recordPullClosed, recordPullHead, storeVerdict, type StoredVerdict } from "./verdict-store.js";

export { postStatus, STATUS_CONTEXT } from "./commit-status.js";
export const NOT_GOVERNED = "not governed by Aura";

export type PullRef = { installationId: number; repo: string; pullNumber: number };

/** What one evaluation found; `verdict` is undefined when the PR is not governed or evaluation could not start. */
export type Evaluation = {
  ref: PullRef;
  pull: GitHubPull;
  agent: boolean;
  governed: boolean;
  conclusion: Conclusion;
  description: string;
  verdict: Verdict | undefined;
  described: VerdictDescription | undefined;
  ctx: PullContext | undefined;
  task: FoundTask | undefined;
  targetUrl: string;
  /** What was posted on the head commit: the strictest say of every open pull request there (set once posted). */
  commitStatus?: CommitStatus | undefined;
};

export type GateHooks = {
  /** Runs after evaluation and before the status is posted; may return the evidence URL for `target_url`. */
  beforePublish?: (evaluation: Evaluation) => Promise<string | undefined>;
  /** Runs after the status is posted and stored (e.g. refresh the Auditor's review). */
  afterPublish?: (evaluation: Evaluation) => Promise<void>;
};

/** Holds a session advisory lock for the pull request while `work` runs. */
export async function withPullLock<T>(services: Pick<Services, "pool">, ref: PullRef, work: () => Promise<T>): Promise<T> {
  return withSessionLock(services.pool, "aura:pull", `${ref.installationId}:${ref.repo}#${ref.pullNumber}`, work);
}

/** The changed files, completed from a clone when GitHub lists fewer than changed or leaves patches out. */
async function readFiles(
  services: Services,
  octokit: InstallationOctokit,
  ref: PullRef,
  pull: GitHubPull,
): Promise<{ files: ChangedFile[]; diffSource: "api" | "local" }> {
  const files = await listPullFiles(octokit, ref.repo, ref.pullNumber);
  const truncated = files.length < pull.changed_files;
  const missingPatch = files.some((file) => file.patch === undefined && file.additions + file.deletions > 0);
  if (!truncated && !missingPatch) return { files, diffSource: "api" };
  try {
    const source = await commitSourceFor(
      { options: services.workspace, githubWebUrl: services.config.githubWebUrl, auth: () => octokit.auth({ type: "installation" }) },
      pull,
    );
    const local = await diffFromClone(services.workspace, { ...source, baseSha: pull.base.sha, headSha: pull.head.sha });
    return { files: local, diffSource: "local" };
  } catch (error) {
    // The rules see an incomplete API listing and end in `error`: never a blind pass.
    services.log.warn({ repo: ref.repo, pull: ref.pullNumber, reason: (error as Error).message }, "local diff failed; rules will report the gap");
    return { files, diffSource: "api" };
  }
}

/** Logins whose word counts as a director's here: override authors and authors of unrecorded commits. */
async function findDirectors(services: Services, ref: PullRef, config: RepoConfig, candidates: Iterable<string>): Promise<string[]> {
  const { owner, repo } = splitRepo(ref.repo);
  const directors: string[] = [];
  for (const login of new Set(candidates)) {
    if (login.endsWith("[bot]")) continue;
    const check = await isDirector(services, { installationId: ref.installationId, owner, repo, login, config });
    if (check.director) directors.push(login);
  }
  return directors;
}

async function buildContext(
  services: Services,
  octokit: InstallationOctokit,
  ref: PullRef,
  pull: GitHubPull,
  config: RepoConfig,
  agent: boolean,
): Promise<{ ctx: PullContext; task: FoundTask | undefined }> {
  const { files, diffSource } = await readFiles(services, octokit, ref, pull);
  const commits = await listPullCommits(octokit, ref.repo, ref.pullNumber);
  const task = agent ? await findTaskForPull(services.pool, { ...ref, headRef: pull.head.ref, body: pull.body }) : undefined;
  const evidence = agent ? await loadEvidence(services.pool, { ...ref, headSha: pull.head.sha }) : undefined;
  const overrides = await listOverrides(services.pool, ref);
  const recorded = new Set(task?.record.recordedCommitShas.map((sha) => sha.toLowerCase()) ?? []);
  const unrecordedAuthors = agent
    ? commits.filter((commit) => !recorded.has(commit.sha.toLowerCase())).flatMap((commit) => (commit.authorLogin ? [commit.authorLogin] : []))
    : [];
  const currentOverrides = overrides.filter((override) => override.headSha === pull.head.sha).map((override) => override.by);
  const directors = await findDirectors(services, ref, config, [...currentOverrides, ...unrecordedAuthors]);
  const ctx: PullContext = {
    pullNumber: ref.pullNumber,
    headSha: pull.head.sha,
    baseSha: pull.base.sha,
    headRef: pull.head.ref,
    author: pull.user?.login ?? "ghost",
    isAgentPr: agent,
    labels: pull.labels.map((label) => label.name),
    files,
    totalChangedFiles: pull.changed_files,
    diffSource,
    commits,
    totalCommits: pull.commits,
    task: task?.record,
    evidence,
    directors,
    overrides,
  };
  return { ctx, task };
}

/**
 * What a pull request says about its head: an evaluation is under way (of a pull request governed or not, as
 * far as known yet), or its verdict.
 */
type HeadSay = { kind: "evaluating"; governed: boolean } | { kind: "verdict"; verdict: StoredVerdict };

/**
 * Stores what the pull request says about its head commit, then posts the strictest say of every open pull
 * request at that commit, all under the commit's lock. A commit the pull request has left (a new push) gets its
 * status computed again afterwards, outside this commit's lock, so two commit locks are never held at once.
 */
async function sayAtHead(
  services: Services,
  octokit: InstallationOctokit,
  at: { ref: PullRef; pull: GitHubPull; agent: boolean },
  say: HeadSay,
): Promise<CommitStatus> {
  const commit = { installationId: at.ref.installationId, repo: at.ref.repo, sha: at.pull.head.sha };
  const { posted, left } = await withCommitLock(services, commit, async () => {
    if (say.kind === "verdict") await storeVerdict(services.pool, say.verdict);
    const left = await recordPullHead(services.pool, {
      ...at.ref,
      headSha: commit.sha,
      agent: at.agent,
      governed: say.kind === "evaluating" ? say.governed : say.verdict.governed,
      htmlUrl: at.pull.html_url,
      evaluating: say.kind === "evaluating",
    });
    const { status } = await commitStatusOf(services, commit);
    // This pull request has just said something at the commit, so the records always give a status.
    const posted: CommitStatus = status ?? {
      ...(say.kind === "verdict"
        ? { state: say.verdict.conclusion, description: say.verdict.description, targetUrl: say.verdict.targetUrl }
        : { state: "pending", description: EVALUATING_DESCRIPTION, targetUrl: at.pull.html_url }),
      pullNumber: at.ref.pullNumber,
      pulls: [at.ref.pullNumber],
    };
    await postStatus(octokit, commit.repo, commit.sha, posted);
    return { posted, left };
  });
  if (left) {
    try {
      await restatusCommit(services, octokit, { ...commit, sha: left });
    } catch (error) {
      services.log.warn({ repo: commit.repo, pull: at.ref.pullNumber, sha: left, err: error }, "status of the commit the pull request left was not recomputed");
    }
  }
  return posted;
}

/** Whether the commit is an agent's (the head of an agent PR now or ever, or a commit an agent task recorded). */
async function isAgentCommit(services: Services, ref: PullRef, sha: string): Promise<boolean> {
  const records = await readCommitRecords(services.pool, { installationId: ref.installationId, repo: ref.repo, headSha: sha });
  return records.agentCommit !== undefined;
}

async function publish(services: Services, octokit: InstallationOctokit, evaluation: Evaluation, hooks: GateHooks, onPosted: () => void): Promise<Evaluation> {
  const url = (await hooks.beforePublish?.(evaluation)) ?? evaluation.targetUrl;
  const { ref, pull } = evaluation;
  const commitStatus = await sayAtHead(services, octokit, evaluation, {
    kind: "verdict",
    verdict: {
      ...ref,
      headSha: pull.head.sha,
      packRevision: evaluation.verdict?.packRevision ?? (evaluation.governed ? "unavailable" : "not-governed"),
      conclusion: evaluation.conclusion,
      description: clip(evaluation.description),
      targetUrl: url,
      governed: evaluation.governed,
      agent: evaluation.agent,
      rules: evaluation.verdict?.rules ?? [],
    },
  });
  onPosted();
  countGateVerdict(evaluation.conclusion);
  const published: Evaluation = { ...evaluation, targetUrl: url, commitStatus };
  await services.audit.append({
    actor: "aura/governor",
    action: "governor.verdict",
    subject: `${ref.repo}#${ref.pullNumber}`,
    payload: {
      headSha: pull.head.sha,
      conclusion: published.conclusion,
      description: clip(published.description),
      governed: published.governed,
      packRevision: published.verdict?.packRevision ?? null,
      // The commit's status: stricter than this verdict when another pull request at the commit says so.
      posted: commitStatus.state,
      rules: (published.verdict?.rules ?? []).map((rule) => ({
        ruleId: rule.ruleId,
        state: rule.state,
        ...(rule.override ? { override: rule.override } : {}),
      })),
    },
  });
  if (published.agent && published.conclusion === "success" && published.ctx?.evidence?.state === "passed") {
    if (pull.draft) await markReadyForReview(services, octokit, published);
    else if (pull.title.startsWith(WIP_PREFIX)) await dropWipPrefix(services, octokit, published);
  }
  await hooks.afterPublish?.(published);
  return published;
}

// The guard refuses merge and approve mutations; this one only changes a draft into a normal pull request.
const READY_MUTATION = `mutation ($id: ID!) {
  markPullRequestReadyForReview(input: { pullRequestId: $id }) { pullRequest { isDraft } }
}`;

/** Issue 7 item 16: the app's draft becomes ready for review once its tests pass and the gate is green. */
async function markReadyForReview(services: Services, octokit: InstallationOctokit, evaluation: Evaluation): Promise<void> {
  await octokit.graphql(READY_MUTATION, { id: evaluation.pull.node_id });
  await services.audit.append({
    actor: "aura/governor",
    action: "pull.ready-for-review",
    subject: `${evaluation.ref.repo}#${evaluation.ref.pullNumber}`,
    payload: { headSha: evaluation.pull.head.sha },
  });
}

type EvaluationBase = Omit<Evaluation, "conclusion" | "description" | "verdict" | "described" | "ctx" | "task">;

/** What the Employees put before the title of a PR opened where drafts are unavailable. */
export const WIP_PREFIX = "[WIP] ";

/**
 * The non-draft counterpart of markReadyForReview: the `[WIP] ` prefix goes once the PR is ready. GitHub then
 * reports the new title, so a later evaluation finds no prefix and changes nothing.
 */
async function dropWipPrefix(services: Services, octokit: InstallationOctokit, evaluation: Evaluation): Promise<void> {
  const { ref, pull } = evaluation;
  const title = pull.title.slice(WIP_PREFIX.length).trim() || pull.title;
  await octokit.request("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", { ...splitRepo(ref.repo), pull_number: ref.pullNumber, title });
  await services.audit.append({
    actor: "aura/governor",
    action: "pull.ready-for-review",
    subject: `${ref.repo}#${ref.pullNumber}`,
    payload: { headSha: pull.head.sha, via: "title", from: pull.title, to: title },
  });
}

function failed(base: EvaluationBase, description: string): Evaluation {
  return { ...base, conclusion: "error", description, verdict: undefined, described: undefined, ctx: undefined, task: undefined };
}

/** Under 140 characters, and it tells the director exactly what to write. */
export const RELAXATION_DESCRIPTION = `HNSC could not evaluate: repo rules relax the policy; a director writes ${REPO_RULES_COMMAND}`;

/** `error` for unapproved relaxations; the review lists each one and the command that approves them. */
function relaxationRefused(base: EvaluationBase, error: PolicyRelaxationRefused): Evaluation {
  const summary = [
    "### Aura HNSC verdict: error",
    "",
    "The `rules:` in `.github/aura.yml` on the base branch relax Aura's policy, which needs a director's approval:",
    "",
    ...error.relaxations.map((relaxation) => `- \`${relaxation.ruleId}\`: ${relaxation.change}`),
    "",
    `To approve these exact rules, a director writes \`${REPO_RULES_COMMAND}\` on any issue or pull request of this repository. A later change to the rules needs a new approval. Otherwise undo the relaxations.`,
  ].join("\n");
  return {
    ...failed(base, RELAXATION_DESCRIPTION),
    described: { state: "error", description: RELAXATION_DESCRIPTION, summary, comments: [] },
  };
}

/**
 * Evaluates the pull request's current head and posts `aura/hnsc`. Human PRs are `success` "not governed by
 * Aura" unless the base branch's config sets `governAllPullRequests` (then task-bound rules skip).
 */
export async function evaluatePull(services: Services, ref: PullRef, hooks: GateHooks = {}): Promise<Evaluation> {
  return withPullLock(services, ref, async () => {
    const octokit = services.github.forInstallation(ref.installationId);
    const pull = await getPull(octokit, ref.repo, ref.pullNumber);
    const agent = isAgentPull(pull);
    const base = { ref, pull, agent, governed: agent, targetUrl: pull.html_url };
    const progress = trackProgress(services, octokit, base);
    try {
      return await judgePull(services, octokit, base, hooks, progress);
    } catch (error) {
      return await failClosed(services, octokit, base, progress, error);
    }
  });
}

/** What one evaluation has said at the head so far, so a failure can fail closed without saying it twice. */
type Progress = {
  /** Whether the pull request is governed, as far as the evaluation got. */
  governed: boolean;
  verdictPosted: boolean;
  /** Posts the pending status once (again only when it turns out governed after all). */
  pending: (governed: boolean) => Promise<void>;
};

function trackProgress(services: Services, octokit: InstallationOctokit, base: EvaluationBase): Progress {
  let pendingPosted: "no" | "not governed" | "governed" = "no";
  return {
    governed: base.agent,
    verdictPosted: false,
    pending: async (governed) => {
      if (pendingPosted === "governed" || (pendingPosted === "not governed" && !governed)) return;
      pendingPosted = governed ? "governed" : "not governed";
      await sayAtHead(services, octokit, base, { kind: "evaluating", governed });
    },
  };
}

/** Pending status, the base branch's config, whether governed, the policy pack, the verdict, and its publication. */
async function judgePull(services: Services, octokit: InstallationOctokit, base: EvaluationBase, hooks: GateHooks, progress: Progress): Promise<Evaluation> {
  const { ref, pull, agent } = base;
  const publishing = (evaluation: Evaluation) =>
    publish(services, octokit, evaluation, hooks, () => {
      progress.verdictPosted = true;
    });
  // An agent's commit gets its strict status at once, before anything else is read: whatever stands on it
  // (a green left from an agent PR that has since closed) never shows on this pull request meanwhile.
  if (agent || (await isAgentCommit(services, ref, pull.head.sha))) await progress.pending(agent);
  const { owner, repo } = splitRepo(ref.repo);
  const config = await readRepoConfig(services, octokit, { owner, repo, ref: pull.base.sha });
  if (!config.ok) {
    services.log.warn({ repo: ref.repo, pull: ref.pullNumber, reason: config.message }, "repo config on the base branch is invalid");
    return await publishing(failed(base, "HNSC could not evaluate: .github/aura.yml on the base branch is invalid"));
  }
  const governed = agent || config.config.governAllPullRequests;
  progress.governed = governed;
  if (!governed) {
    return await publishing({
      ...base,
      governed: false,
      conclusion: "success",
      description: NOT_GOVERNED,
      verdict: undefined,
      described: undefined,
      ctx: undefined,
      task: undefined,
    });
  }
  await progress.pending(true);
  const rulesHash = config.config.rules.length > 0 ? repoRulesHash(config.config.rules) : undefined;
  const approval = rulesHash ? await findRepoRulesApproval(services.pool, { installationId: ref.installationId, repo: ref.repo, rulesHash }) : undefined;
  const pack = effectivePack(config.config, { protectedPaths: services.policies.protectedPaths, approval });
  if (!pack.ok) {
    services.log.warn({ repo: ref.repo, pull: ref.pullNumber, reason: pack.error.message }, "policy pack unusable");
    if (pack.error instanceof PolicyRelaxationRefused) return await publishing(relaxationRefused({ ...base, governed }, pack.error));
    return await publishing(failed({ ...base, governed }, "HNSC could not evaluate: the policy is invalid"));
  }
  const { ctx, task } = await buildContext(services, octokit, ref, pull, config.config, agent);
  const verdict = withApprovedRelaxations(await evaluate(pack.pack, ctx), pack.relaxations, pack.approvedBy);
  const described = describeVerdict(verdict);
  return await publishing({
    ...base,
    governed,
    conclusion: verdict.conclusion,
    description: described.description,
    verdict,
    described,
    ctx,
    task,
    targetUrl: ctx.evidence?.url ?? pull.html_url,
  });
}

/** Fail closed: whatever stopped the evaluation, the commit does not keep a pending or older green status. Rethrows. */
async function failClosed(services: Services, octokit: InstallationOctokit, base: EvaluationBase, progress: Progress, error: unknown): Promise<never> {
  const { ref, pull, agent } = base;
  services.log.error({ repo: ref.repo, pull: ref.pullNumber, err: error }, "evaluation failed");
  if (progress.verdictPosted) throw error;
  const description = `HNSC could not evaluate: ${(error as Error).name}`;
  // Stored as this pull request's say, so the commit's status and the forgery defence agree with what is posted.
  const verdict: StoredVerdict = {
    ...ref,
    headSha: pull.head.sha,
    packRevision: "unavailable",
    conclusion: "error",
    description,
    targetUrl: pull.html_url,
    governed: progress.governed,
    agent,
    rules: [],
  };
  await sayAtHead(services, octokit, base, { kind: "verdict", verdict }).catch(() =>
    postStatus(octokit, ref.repo, pull.head.sha, { state: "error", description, targetUrl: pull.html_url }).catch(() => undefined),
  );
  throw error;
}

/**
 * A pull request closed: it no longer has a say at its head, so that commit's status is computed again over the
 * open pull requests still there. An agent PR closed unmerged leaves its commit failing at once (an agent's
 * commit without its open agent PR); one merged keeps its final say there. GitHub delivers in no order, so the
 * close counts only when GitHub still reports the pull request closed.
 */
export async function recordPullClose(services: Services, ref: PullRef): Promise<CommitStatus | undefined> {
  return withPullLock(services, ref, async () => {
    // Never judged here, or already closed: nothing to recompute (and no GitHub read for it).
    if (!(await isPullRecordedOpen(services.pool, ref))) return undefined;
    const octokit = services.github.forInstallation(ref.installationId);
    const pull = await getPull(octokit, ref.repo, ref.pullNumber);
    if (pull.state === "open") return undefined;
    const head = await recordPullClosed(services.pool, { ...ref, merged: pull.merged });
    if (!head) return undefined;
    const status = await restatusCommit(services, octokit, { installationId: ref.installationId, repo: ref.repo, sha: head });
    await services.audit.append({
      actor: "aura/governor",
      action: "governor.pull.closed",
      subject: `${ref.repo}#${ref.pullNumber}`,
      payload: { headSha: head, merged: pull.merged, recomputed: status ? { state: status.state, pulls: status.pulls } : null },
    });
    return status;
  });
}
