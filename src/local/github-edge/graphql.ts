// The GraphQL endpoint of the GitHub edge: every query is recorded; the one mutation the app sends
// (markPullRequestReadyForReview) is answered, anything else gets a GraphQL error.
import type { EdgeContext, Reply } from "./context.js";

export function answerGraphql(ctx: EdgeContext, body: Record<string, unknown> | undefined): Reply {
  const query = String(body?.query ?? "");
  const variables = (body?.variables ?? {}) as Record<string, unknown>;
  ctx.store.graphql.push({ query, variables });
  if (query.includes("markPullRequestReadyForReview")) return markReadyForReview(ctx, variables);
  return [200, { data: null, errors: [{ message: "fake GitHub: unknown GraphQL operation" }] }];
}

/** The pull request's node id (`PR_kwDOfake{n}`, as the edge writes it) names the one to take out of draft. */
function markReadyForReview(ctx: EdgeContext, variables: Record<string, unknown>): Reply {
  const number = Number(/PR_kwDOfake(\d+)/.exec(String(variables.id))?.[1]);
  const pull = ctx.store.pulls.get(number);
  if (!pull)
    return [200, { data: null, errors: [{ type: "NOT_FOUND", message: `Could not resolve to a node with the global id of '${String(variables.id)}'` }] }];
  pull.draft = false;
  return [200, { data: { markPullRequestReadyForReview: { pullRequest: { isDraft: false } } } }];
}
