// The GitHub edge of one repository, as local mode serves it and the whole-company tests fake it: the git side
// is a real local repository (contents, trees and READMEs are read from it at the asked ref; pull requests get
// their head and base SHAs, files and commits from `git`); comments, reactions, statuses, reviews and pull
// requests are kept in memory with the status codes and shapes of GitHub's REST API. Every request is
// recorded, and one nobody routes is recorded as unhandled and answered 404 as GitHub would. `respond` is the
// whole API; src/local/edge-server.ts serves it on a loopback port, the tests put it behind nock.
//
// The parts live in github-edge/: store.ts (the state), git.ts (reads from the repository), json.ts (GitHub's
// shapes), one file of routes per resource (repository, issues, pulls, reviews, statuses, graphql) and
// dispatch.ts (the route table). This module only puts them together.
import { edgeContext, type GitHubEdgeOptions } from "./github-edge/context.js";
import { respond } from "./github-edge/dispatch.js";
import { resolveCommit } from "./github-edge/git.js";
import { pullJson, repositoryJson, storedPull } from "./github-edge/json.js";
import { closePull } from "./github-edge/pulls.js";
import { addComment, createEdgeStore, userOf, type EdgeStore, type GitHubEdgeEvent, type User } from "./github-edge/store.js";

export type { GitHubEdgeOptions } from "./github-edge/context.js";
export type { GitHubEdgeEvent, RecordedRequest } from "./github-edge/store.js";

/** What the edge has been asked and holds (the store's own lists), and the hands that work it. */
export type GitHubEdge = Pick<EdgeStore, "requests" | "unhandled" | "comments" | "reactions" | "statuses" | "reviews" | "pulls" | "graphql"> & {
  /** The pull request as `GET /repos/{owner}/{repo}/pulls/{n}` returns it. */
  pullJson: (number: number) => Record<string, unknown>;
  /** The commit a pull request's head branch names now (one git read; pullJson also reads the base and the diff). */
  pullHeadSha: (number: number) => string;
  /** The repository object as webhook payloads and `GET /repos/{owner}/{repo}` carry it. */
  repositoryJson: () => Record<string, unknown>;
  userJson: (login: string) => User;
  /** GitHub's side of a close (the director's button press): state, merge flag, who and when. */
  closePull: (number: number, input: { merged: boolean; by: string }) => void;
  count: (method: string, path: RegExp) => number;
  /** A comment by a person (not the app), as they would write it on the issue. */
  addComment: (issue: number, body: string, login: string) => { id: number };
  /** The person closes the issue. */
  closeIssue: () => void;
  /** Answers one REST or GraphQL request (path without the API prefix); records it. */
  respond: (method: string, url: URL, body: Record<string, unknown> | undefined) => { status: number; json: unknown };
  /** Calls `listener` after every change a webhook would announce. */
  onEvent: (listener: (event: GitHubEdgeEvent) => void) => void;
};

export function createGitHubEdge(options: GitHubEdgeOptions): GitHubEdge {
  const store = createEdgeStore(options.issue.number + 1);
  const ctx = edgeContext(options, store);
  // The store's own lists, so what a test or the report reads is what the routes wrote.
  const { requests, unhandled, comments, reactions, statuses, reviews, pulls, graphql } = store;
  return {
    requests,
    unhandled,
    comments,
    reactions,
    statuses,
    reviews,
    pulls,
    graphql,
    pullJson: (number) => pullJson(ctx, number),
    pullHeadSha: (number) => resolveCommit(ctx.bare, `refs/heads/${storedPull(ctx, number).head}`) ?? "",
    repositoryJson: () => repositoryJson(ctx),
    userJson: (login) => userOf(store, login),
    closePull: (number, input) => closePull(ctx, number, input),
    count: (method, path) => requests.filter((request) => request.method === method && path.test(request.path)).length,
    addComment: (issue, text, login) => ({ id: addComment(store, issue, text, userOf(store, login)).id }),
    closeIssue: () => void (store.issueState = "closed"),
    respond: (method, url, body) => respond(ctx, method, url, body),
    onEvent: (listener) => void store.listeners.push(listener),
  };
}
