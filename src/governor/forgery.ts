// Forgery defence: anyone with write access can set a commit status, so every `status` event for `aura/hnsc`
// that the app did not create is answered by re-posting the commit's true status: the same strictest say over
// every open pull request at the commit that the gate posts (src/governor/commit-status.ts), evaluating again
// when the gate has no record of the commit. Then an audit event, and one comment per SHA on the pull request
// telling the directors.
import { z } from "zod";
import { createOnce, NO_BLIND_RETRY } from "../github/create-once.js";
import type { InstallationOctokit } from "../github/octokit.js";
import { readRepoConfig } from "../github/repo-config-reader.js";
import { findIssueComment } from "../github/sticky-comment.js";
import { withSessionLock } from "../db/advisory-lock.js";
import type { Services } from "../services.js";
import { commitStatusOf, postStatus, STATUS_CONTEXT, withCommitLock, type CommitAt } from "./commit-status.js";
import { evaluatePull, type GateHooks } from "./gate.js";
import { pullsForCommit, splitRepo } from "../github/pull.js";
import { latestVerdictForSha } from "./verdict-store.js";
import { countForgery, recordForgeryComment } from "./store.js";

export const StatusEvent = z.object({
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  context: z.string(),
  state: z.string(),
  description: z.string().nullable().optional(),
  sender: z.object({ login: z.string() }),
  creator: z.object({ login: z.string() }).nullable().optional(),
  repository: z.object({ full_name: z.string() }),
  installation: z.object({ id: z.number() }),
});
export type StatusEvent = z.infer<typeof StatusEvent>;

function forgeryMarker(sha: string): string {
  return `<!-- aura:forgery sha=${sha} -->`;
}

/** Who set the status: the creator when the payload names one, else the sender. */
export function statusAuthor(event: Pick<StatusEvent, "sender" | "creator">): string {
  return event.creator?.login ?? event.sender.login;
}

async function notifyDirectors(services: Services, event: StatusEvent, pullNumber: number, author: string): Promise<void> {
  const repo = event.repository.full_name;
  const installationId = event.installation.id;
  const at = { installationId, repo, headSha: event.sha };
  if (await countForgery(services.pool, { ...at, pullNumber })) return;
  const octokit = services.github.forInstallation(installationId);
  const { owner, repo: name } = splitRepo(repo);
  const marker = forgeryMarker(event.sha);
  const find = async () =>
    (
      await findIssueComment(
        octokit,
        { owner, repo: name, issueNumber: pullNumber },
        (comment) => comment.user?.login === services.config.botLogin && comment.body?.includes(marker) === true,
      )
    )?.id;
  // Look before writing: a comment posted by an attempt that failed before recording it must not be repeated.
  let commentId = await find();
  if (commentId === undefined) {
    const config = await readRepoConfig(services, octokit, { owner, repo: name });
    const directors = config.ok && config.config.directors.length > 0 ? `${config.config.directors.map((login) => `@${login}`).join(" ")}: ` : "Directors: ";
    const body = [
      marker,
      `⚠️ ${directors}the \`${STATUS_CONTEXT}\` status on \`${event.sha.slice(0, 7)}\` was set to \`${event.state}\` by @${author}, not by Aura.`,
      "",
      "Aura has re-posted its own verdict. Only the Aura app may set this check: in the branch protection rule or ruleset, require `aura/hnsc` with the Aura app as its expected source.",
    ].join("\n");
    // Created once: a post GitHub answers 5xx may have been applied, so it is looked for before posting again.
    commentId = await createOnce(async () => {
      const { data } = await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
        owner,
        repo: name,
        issue_number: pullNumber,
        body,
        ...NO_BLIND_RETRY,
      });
      return Number(data.id);
    }, find);
  }
  await recordForgeryComment(services.pool, at, commentId);
}

/**
 * Re-posts what the gate's records say about the commit, under the commit's lock: the strictest say of the open
 * pull requests at it (an agent's commit never "not governed"), else the latest verdict stored for it. Undefined
 * when the gate has no record of the commit.
 */
async function restoreFromRecords(
  services: Services,
  octokit: InstallationOctokit,
  at: CommitAt,
): Promise<{ state: string; pullNumber: number | undefined } | undefined> {
  return withCommitLock(services, at, async () => {
    const { records, status } = await commitStatusOf(services, at);
    if (status) {
      await postStatus(octokit, at.repo, at.sha, status);
      return { state: status.state, pullNumber: status.pullNumber ?? records.pulls[0]?.pullNumber };
    }
    const stored = await latestVerdictForSha(services.pool, { installationId: at.installationId, repo: at.repo, headSha: at.sha });
    if (!stored) return undefined;
    await postStatus(octokit, at.repo, at.sha, { state: stored.conclusion, description: stored.description, targetUrl: stored.targetUrl });
    return { state: stored.conclusion, pullNumber: stored.pullNumber };
  });
}

/** Handles one `status` delivery: ignores the app's own statuses and other contexts; corrects anything else. */
export async function handleStatusEvent(services: Services, payload: unknown, hooks: GateHooks = {}): Promise<"ignored" | "corrected"> {
  const event = StatusEvent.parse(payload);
  if (event.context !== STATUS_CONTEXT) return "ignored";
  const author = statusAuthor(event);
  if (author === services.config.botLogin) return "ignored";
  const installationId = event.installation.id;
  const repo = event.repository.full_name;
  const octokit = services.github.forInstallation(installationId);

  const at = { installationId, repo, sha: event.sha };
  let restoredFrom = await restoreFromRecords(services, octokit, at);
  let pullNumber = restoredFrom?.pullNumber;
  let restored: string;
  if (restoredFrom) {
    restored = restoredFrom.state;
  } else {
    // The gate has no record of this commit: judge every open pull request GitHub has at it.
    const pulls = await pullsForCommit(octokit, repo, event.sha);
    pullNumber = pulls[0];
    restored = "error";
    for (const number of pulls) {
      const evaluation = await evaluatePull(services, { installationId, repo, pullNumber: number }, hooks);
      if (evaluation.pull.head.sha === event.sha && evaluation.commitStatus) {
        restoredFrom = evaluation.commitStatus;
        restored = evaluation.commitStatus.state;
      }
    }
    pullNumber = restoredFrom?.pullNumber ?? pullNumber;
    if (!restoredFrom) {
      // No pull request to judge (or none has this head any more): the forged status must not stand as a pass.
      const why = pulls.length === 0 ? "no pull request to judge" : "this commit is no longer the head";
      await postStatus(octokit, repo, event.sha, { state: "error", description: `HNSC: ${STATUS_CONTEXT} was set by @${author}, not Aura; ${why}` });
    }
  }
  await services.audit.append({
    actor: author,
    action: "governor.status.forged",
    subject: `${repo}@${event.sha}`,
    payload: { forgedState: event.state, forgedDescription: event.description ?? null, restored, pullNumber: pullNumber ?? null },
  });
  if (pullNumber !== undefined) {
    const key = `${installationId}:${repo}@${event.sha}`;
    await withSessionLock(services.pool, "aura:forgery", key, () => notifyDirectors(services, event, pullNumber, author));
  }
  return "corrected";
}
