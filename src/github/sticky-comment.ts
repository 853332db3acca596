// A comment the app keeps exactly one of per issue, found again by a hidden marker and edited in place:
// the requirement status comment, the scoreboard. Known comment ids skip the search (fewer API calls).
import { createOnce, NO_BLIND_RETRY } from "./create-once.js";
import type { InstallationOctokit } from "./octokit.js";

type IssueComment = { id: number; body?: string | null; user?: { login: string; type?: string } | null };

/** The first comment on the issue (or pull request) that `matches`, reading every page. */
export async function findIssueComment(
  octokit: InstallationOctokit,
  where: { owner: string; repo: string; issueNumber: number },
  matches: (comment: IssueComment) => boolean,
): Promise<IssueComment | undefined> {
  const comments = await octokit.paginate("GET /repos/{owner}/{repo}/issues/{issue_number}/comments", {
    owner: where.owner,
    repo: where.repo,
    issue_number: where.issueNumber,
    per_page: 100,
  });
  return comments.find(matches);
}

export async function upsertStickyComment(
  octokit: InstallationOctokit,
  target: { owner: string; repo: string; issueNumber: number; marker: string; body: string; commentId?: number | null },
): Promise<{ commentId: number; created: boolean }> {
  const body = target.body.includes(target.marker) ? target.body : `${target.marker}\n${target.body}`;
  const { owner, repo } = target;
  if (target.commentId) {
    try {
      await octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", {
        owner,
        repo,
        comment_id: target.commentId,
        body,
      });
      return { commentId: target.commentId, created: false };
    } catch (error) {
      // Deleted by someone: fall through to search and re-create.
      if ((error as { status?: number }).status !== 404) throw error;
    }
  }
  const find = () =>
    findIssueComment(octokit, target, (comment) => comment.user?.type === "Bot" && typeof comment.body === "string" && comment.body.includes(target.marker));
  const existing = await find();
  if (existing) {
    await octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", {
      owner,
      repo,
      comment_id: existing.id,
      body,
    });
    return { commentId: existing.id, created: false };
  }
  // Created once: a post GitHub answers 5xx is not repeated blind (it may have been applied), the marker is looked for first.
  const created = await createOnce(
    async () => {
      const { data } = await octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
        owner,
        repo,
        issue_number: target.issueNumber,
        body,
        ...NO_BLIND_RETRY,
      });
      return Number(data.id);
    },
    async () => (await find())?.id,
  );
  return { commentId: created, created: true };
}
