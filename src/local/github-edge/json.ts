// The JSON the GitHub edge answers with, in the shapes of GitHub's REST API: the repository, a pull request
// (its SHAs, size and commit count read from git), a comment and a review.
import { changedFilesFromUnifiedDiff } from "../../github/local-diff.js";
import type { EdgeContext } from "./context.js";
import { gitOnCommits, resolveCommits } from "./git.js";
import { userOf, type Comment, type Pull, type Review } from "./store.js";

/** The repository object as webhook payloads and `GET /repos/{owner}/{repo}` carry it. */
export function repositoryJson(ctx: EdgeContext) {
  return {
    id: 987_654_321,
    node_id: "R_kgDOfakeRepo",
    name: ctx.options.name,
    full_name: ctx.fullName,
    private: false,
    owner: { ...userOf(ctx.store, ctx.owner), type: "Organization" },
    html_url: `${ctx.web}/${ctx.fullName}`,
    url: `${ctx.api}/repos/${ctx.fullName}`,
    clone_url: ctx.options.cloneUrl,
    default_branch: ctx.defaultBranch,
    visibility: "public",
  };
}

/** The stored pull request `number`; throws for one the edge never opened (a caller's mistake, not a request's). */
export function storedPull(ctx: EdgeContext, number: number): Pull {
  const pull = ctx.store.pulls.get(number);
  if (!pull) throw new Error(`no pull request #${number}`);
  return pull;
}

/** Head and base SHAs of a pull request as its branches stand now, and where they forked. */
export function pullShas(ctx: EdgeContext, pull: Pull): { head: string; base: string; mergeBase: string } {
  const [head = "", base = ""] = resolveCommits(ctx.bare, [`refs/heads/${pull.head}`, `refs/heads/${pull.base}`]);
  return { head, base, mergeBase: gitOnCommits(ctx.bare, [base, head], "merge-base", base, head).trim() };
}

/** The files a pull request changes, from the merge base to its head (GitHub's three-dot diff). */
export function pullDiffFiles(ctx: EdgeContext, shas: { head: string; mergeBase: string }) {
  return changedFilesFromUnifiedDiff(gitOnCommits(ctx.bare, [shas.mergeBase, shas.head], "diff", "--no-color", "-M", shas.mergeBase, shas.head));
}

/** The pull request as `GET /repos/{owner}/{repo}/pulls/{n}` returns it. */
export function pullJson(ctx: EdgeContext, number: number): Record<string, unknown> {
  const pull = storedPull(ctx, number);
  const shas = pullShas(ctx, pull);
  const files = pullDiffFiles(ctx, shas);
  const commits = Number(gitOnCommits(ctx.bare, [shas.mergeBase, shas.head], "rev-list", "--count", `${shas.mergeBase}..${shas.head}`).trim());
  const repo = repositoryJson(ctx);
  return {
    url: `${ctx.api}${ctx.prefix}/pulls/${number}`,
    id: 1_800_000_000 + number,
    node_id: `PR_kwDOfake${number}`,
    html_url: `${ctx.web}/${ctx.fullName}/pull/${number}`,
    number,
    state: pull.state,
    locked: false,
    title: pull.title,
    user: pull.user,
    body: pull.body,
    labels: [],
    created_at: pull.created_at,
    updated_at: pull.closed_at ?? pull.created_at,
    closed_at: pull.closed_at,
    merged_at: pull.merged ? pull.closed_at : null,
    merge_commit_sha: null,
    draft: pull.draft,
    head: { label: `${ctx.owner}:${pull.head}`, ref: pull.head, sha: shas.head, user: repo.owner, repo },
    base: { label: `${ctx.owner}:${pull.base}`, ref: pull.base, sha: shas.base, user: repo.owner, repo },
    author_association: "NONE",
    merged: pull.merged,
    mergeable: null,
    merged_by: pull.merged_by,
    comments: 0,
    review_comments: 0,
    commits,
    additions: files.reduce((sum, file) => sum + file.additions, 0),
    deletions: files.reduce((sum, file) => sum + file.deletions, 0),
    changed_files: files.length,
  };
}

export function commentJson(ctx: EdgeContext, comment: Comment) {
  return {
    id: comment.id,
    node_id: `IC_${comment.id}`,
    html_url: `${ctx.web}/${ctx.fullName}/issues/${comment.issue}#issuecomment-${comment.id}`,
    issue_url: `${ctx.api}${ctx.prefix}/issues/${comment.issue}`,
    body: comment.body,
    user: comment.user,
    created_at: comment.created_at,
    updated_at: comment.updated_at,
    author_association: "NONE",
  };
}

export function reviewJson(ctx: EdgeContext, review: Review) {
  return {
    id: review.id,
    node_id: `PRR_${review.id}`,
    user: review.user,
    body: review.body,
    state: review.state,
    commit_id: review.commit_id,
    html_url: `${ctx.web}/${ctx.fullName}/pull/${review.pull}#pullrequestreview-${review.id}`,
    submitted_at: new Date().toISOString(),
  };
}
