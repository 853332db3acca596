// The Director's small GitHub writes: a reply comment on the issue or pull request, and a reaction on the
// command comment (GitHub keeps one reaction of a kind per user, so reacting again changes nothing). A reply is
// posted once per command: it carries a hidden marker naming the command comment, and it is looked for by that
// marker after a post GitHub answers 5xx (src/github/create-once.ts) and before a re-run posts it.
import { createOnce, NO_BLIND_RETRY } from "../github/create-once.js";
import type { InstallationOctokit } from "../github/octokit.js";
import { findIssueComment } from "../github/sticky-comment.js";

export const REACTIONS = ["+1", "-1", "confused", "eyes"] as const;
export type Reaction = (typeof REACTIONS)[number];

/** The first line of the reply to one command comment (invisible on GitHub). */
export function replyMarker(commandId: number): string {
  return `<!-- aura:reply command=${commandId} -->`;
}

/**
 * Posts the reply to the command comment `commandId`, or finds it posted. `earlierRun`: a run of a command an
 * earlier run recorded, which may have died after posting the reply, so the reply is looked for before posting.
 */
export async function postReply(
  octokit: InstallationOctokit,
  target: { owner: string; repo: string; issueNumber: number; commandId: number; botLogin: string; body: string; earlierRun: boolean },
): Promise<number> {
  const { owner, repo } = target;
  const marker = replyMarker(target.commandId);
  // The marker opens the app's own reply: text a command quotes later in a reply never counts.
  const find = async () =>
    (await findIssueComment(octokit, target, (comment) => comment.user?.login === target.botLogin && comment.body?.startsWith(marker) === true))?.id;
  const earlier = target.earlierRun ? await find() : undefined;
  if (earlier !== undefined) return earlier;
  return createOnce(async () => {
    const { data } = await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner,
      repo,
      issue_number: target.issueNumber,
      body: `${marker}\n${target.body}`,
      ...NO_BLIND_RETRY,
    });
    return Number(data.id);
  }, find);
}

export async function react(octokit: InstallationOctokit, target: { owner: string; repo: string; commentId: number; content: Reaction }): Promise<void> {
  await octokit.request("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", {
    owner: target.owner,
    repo: target.repo,
    comment_id: target.commentId,
    content: target.content,
  });
}
