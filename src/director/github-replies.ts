// The Director's small GitHub writes: a reply comment on the issue or pull request, and a reaction on the
// command comment (GitHub keeps one reaction of a kind per user, so reacting again changes nothing).
import type { InstallationOctokit } from "../github/octokit.js";

export const REACTIONS = ["+1", "-1", "confused", "eyes"] as const;
export type Reaction = (typeof REACTIONS)[number];

export async function postReply(octokit: InstallationOctokit, target: { owner: string; repo: string; issueNumber: number; body: string }): Promise<number> {
  const { data } = await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
    owner: target.owner,
    repo: target.repo,
    issue_number: target.issueNumber,
    body: target.body,
  });
  return Number(data.id);
}

export async function react(octokit: InstallationOctokit, target: { owner: string; repo: string; commentId: number; content: Reaction }): Promise<void> {
  await octokit.request("POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions", {
    owner: target.owner,
    repo: target.repo,
    comment_id: target.commentId,
    content: target.content,
  });
}
