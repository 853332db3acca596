// The `aura/hnsc` status of a commit. A commit status belongs to a commit, not to a pull request, so every open
// pull request whose head the commit is has a say, and so does the fact that an Aura agent wrote it. In order:
// 1. The says: each open pull request at the commit (`pending` while an evaluation of it runs, else its latest
//    verdict there); each agent pull request merged by a director with the commit as its head (its final
//    verdict); and, for an agent's commit (the head of an agent pull request now or ever, or a commit an agent
//    task recorded) where no such agent pull request speaks, the agent-commit failure: an agent's commit passes
//    only as the head of its own open agent pull request, so one whose agent PR closed unmerged or moved on fails.
// 2. At an agent's commit, the says of pull requests that are not governed (an outsider's fork, a person's branch
//    without `governAllPullRequests`) are set aside: they can only say "not governed" success, or error or
//    pending about their own evaluation, and none of that is a finding about the agent's commit. Setting them
//    aside can never make the commit greener than the agent's own say, which stays among the says; it stops an
//    outsider from turning an agent PR's green commit to error (a broken `.github/aura.yml` on a base branch
//    they target) or to pending. Governed pull requests keep their say.
// 3. The strictest remaining say is posted, in the order error > failure > pending > success (an evaluation that
//    could not complete vouches for nothing; a failure is a finding; pending is a verdict still to come); among
//    equals an agent pull request's say, then a governed one, then the most recent.
// So a commit an agent wrote never gets "not governed" success. Every post happens under the commit's advisory
// lock, after the pull request's own say is stored, so two pull requests at one commit can never leave the weaker
// verdict standing.
import type { InstallationOctokit } from "../github/octokit.js";
import { withSessionLock } from "../db/advisory-lock.js";
import type { Services } from "../services.js";
import { MAX_DESCRIPTION_LENGTH } from "./describe-verdict.js";
import { splitRepo } from "../github/pull.js";
import type { Conclusion } from "./verdict.js";
import { readCommitRecords, type CommitRecords, type PullAtCommit } from "./verdict-store.js";

export const STATUS_CONTEXT = "aura/hnsc";

/** How strict each state is: the highest one said about a commit is the one posted. */
export const STRICTNESS = { success: 0, pending: 1, failure: 2, error: 3 } as const satisfies Record<Conclusion, number>;

export const EVALUATING_DESCRIPTION = "HNSC is evaluating this commit";

export type CommitAt = { installationId: number; repo: string; sha: string };

/** What is posted on a commit, and whose say it is. */
export type CommitStatus = {
  state: Conclusion;
  description: string;
  targetUrl: string | undefined;
  /** The pull request whose say decided it (for an agent commit without its open PR: that PR, when known). */
  pullNumber: number | undefined;
  /** Every open pull request that has the commit as its head. */
  pulls: number[];
};

type Say = {
  pullNumber: number | undefined;
  agent: boolean;
  governed: boolean;
  state: Conclusion;
  description: string;
  targetUrl: string | undefined;
  recency: number;
  /** False when the description already names the pull request. */
  name: boolean;
};

export function clip(text: string, limit = MAX_DESCRIPTION_LENGTH): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/** Under 140 characters: why an agent's commit is not green outside its own open pull request. */
export function agentCommitDescription(pullNumber: number | undefined): string {
  if (pullNumber === undefined) return "HNSC failed: written by an Aura agent; it passes only as the head of its own open agent pull request";
  return `HNSC failed: written by an Aura agent for #${pullNumber}; it passes only while #${pullNumber} is open with this commit as head`;
}

function sayOf(pull: PullAtCommit, pullUrl: (pull: number) => string): Say | undefined {
  if (pull.evaluating) {
    const targetUrl = pull.htmlUrl ?? pullUrl(pull.pullNumber);
    const governed = pull.agent || pull.governed;
    return {
      pullNumber: pull.pullNumber,
      agent: pull.agent,
      governed,
      state: "pending",
      description: EVALUATING_DESCRIPTION,
      targetUrl,
      recency: Number.MAX_SAFE_INTEGER,
      name: true,
    };
  }
  const { verdict } = pull;
  if (!verdict) return undefined;
  const governed = pull.agent || verdict.governed;
  return {
    pullNumber: pull.pullNumber,
    agent: pull.agent,
    governed,
    state: verdict.conclusion,
    description: verdict.description,
    targetUrl: verdict.targetUrl,
    recency: verdict.id,
    name: true,
  };
}

/** Steps 1 and 2 of the order above: every say, and the says that are ranked. */
function saysOf(records: CommitRecords, pullUrl: (pull: number) => string): { all: Say[]; ranked: Say[] } {
  const merged = records.merged.filter((pull) => pull.agent && !pull.evaluating);
  const all = [...records.pulls, ...merged].flatMap((pull) => sayOf(pull, pullUrl) ?? []);
  const agentSpeaks = all.some((say) => say.agent);
  if (records.agentCommit && !agentSpeaks) {
    const pullNumber = records.agentCommit.pullNumber;
    const targetUrl = pullNumber === undefined ? undefined : pullUrl(pullNumber);
    all.push({
      pullNumber,
      agent: true,
      governed: true,
      state: "failure",
      description: agentCommitDescription(pullNumber),
      targetUrl,
      recency: 0,
      name: false,
    });
  }
  const agentsCommit = all.some((say) => say.agent);
  return { all, ranked: agentsCommit ? all.filter((say) => say.governed) : all };
}

/** Stricter first; among equals an agent PR's say, then a governed one, then the most recent. */
function compareSays(a: Say, b: Say): number {
  return STRICTNESS[b.state] - STRICTNESS[a.state] || Number(b.agent) - Number(a.agent) || Number(b.governed) - Number(a.governed) || b.recency - a.recency;
}

/**
 * The status a commit's records give: the strictest say, or undefined when nothing has a say (no open pull
 * request with a verdict or an evaluation under way, and not an agent commit). When several pull requests have
 * the commit as head, the description names the one whose verdict it is.
 */
export function strictestStatus(records: CommitRecords, pullUrl: (pull: number) => string): CommitStatus | undefined {
  const { all, ranked } = saysOf(records, pullUrl);
  const top = ranked.sort(compareSays)[0];
  if (!top) return undefined;
  const pulls = records.pulls.map((pull) => pull.pullNumber);
  // Named whenever several pull requests speak, set aside or not: the status shows on each of their pages.
  const speakers = new Set(all.map((say) => say.pullNumber));
  const suffix = top.name && top.pullNumber !== undefined && speakers.size > 1 ? ` (#${top.pullNumber})` : "";
  const description = `${clip(top.description, MAX_DESCRIPTION_LENGTH - suffix.length)}${suffix}`;
  return { state: top.state, description, targetUrl: top.targetUrl, pullNumber: top.pullNumber, pulls };
}

/** Serialises everything that decides and posts one commit's status, across all workers and processes. */
export async function withCommitLock<T>(services: Pick<Services, "pool">, at: CommitAt, work: () => Promise<T>): Promise<T> {
  return withSessionLock(services.pool, "aura:commit", `${at.installationId}:${at.repo}@${at.sha}`, work);
}

export async function postStatus(
  octokit: InstallationOctokit,
  repo: string,
  sha: string,
  status: { state: Conclusion; description: string; targetUrl?: string | undefined },
): Promise<void> {
  await octokit.request("POST /repos/{owner}/{repo}/statuses/{sha}", {
    ...splitRepo(repo),
    sha,
    state: status.state,
    context: STATUS_CONTEXT,
    description: clip(status.description),
    ...(status.targetUrl ? { target_url: status.targetUrl } : {}),
  });
}

/** The commit's records and the status they give (call under the commit's lock). */
export async function commitStatusOf(
  services: Pick<Services, "pool" | "config">,
  at: CommitAt,
): Promise<{ records: CommitRecords; status: CommitStatus | undefined }> {
  const records = await readCommitRecords(services.pool, { installationId: at.installationId, repo: at.repo, headSha: at.sha });
  const status = strictestStatus(records, (pull) => `${services.config.githubWebUrl}/${at.repo}/pull/${pull}`);
  return { records, status };
}

/**
 * Computes a commit's status again and posts it after a pull request closed or moved on, when the records still
 * give one: an open pull request is still there, an agent PR merged there, or it is an agent's commit (then at
 * once the agent-commit failure, when no open agent PR has it as its head any more). Returns what was posted.
 */
export async function restatusCommit(
  services: Pick<Services, "pool" | "config">,
  octokit: InstallationOctokit,
  at: CommitAt,
): Promise<CommitStatus | undefined> {
  return withCommitLock(services, at, async () => {
    const { status } = await commitStatusOf(services, at);
    if (!status) return undefined;
    await postStatus(octokit, at.repo, at.sha, status);
    return status;
  });
}
