// Review routes of the GitHub edge: list and submit a pull request's reviews, and edit a review's body.
import { group, NOT_FOUND, type EdgeContext, type EdgeRequest, type Reply, type Route } from "./context.js";
import { pullJson, reviewJson } from "./json.js";
import { emit, type Review } from "./store.js";

const STATE_OF_EVENT = new Map([
  ["COMMENT", "COMMENTED"],
  ["REQUEST_CHANGES", "CHANGES_REQUESTED"],
  ["APPROVE", "APPROVED"],
]);

/** GET lists, POST submits; a missing pull request is 404 whatever the method, as before. */
function pullReviews(ctx: EdgeContext, request: EdgeRequest): Reply | undefined {
  const number = Number(group(request.match, 1));
  if (!ctx.store.pulls.has(number)) return [404, NOT_FOUND];
  if (request.method === "GET") return [200, ctx.store.reviews.filter((review) => review.pull === number).map((review) => reviewJson(ctx, review))];
  if (request.method === "POST") return submitReview(ctx, number, request.body);
  return undefined;
}

function submitReview(ctx: EdgeContext, number: number, body: Record<string, unknown> | undefined): Reply {
  const event = String(body?.event ?? "PENDING");
  const review: Review = {
    id: ctx.store.next.review++,
    pull: number,
    commit_id: String(body?.commit_id ?? (pullJson(ctx, number) as { head: { sha: string } }).head.sha),
    event,
    state: STATE_OF_EVENT.get(event) ?? "PENDING",
    body: String(body?.body ?? ""),
    user: ctx.bot,
    comments: Array.isArray(body?.comments) ? body.comments : [],
  };
  ctx.store.reviews.push(review);
  emit(ctx.store, { kind: "review.created", pull: number, id: review.id });
  return [200, reviewJson(ctx, review)];
}

function editReview(ctx: EdgeContext, { match, body }: EdgeRequest): Reply {
  const review = ctx.store.reviews.find((candidate) => candidate.id === Number(group(match, 2)) && candidate.pull === Number(group(match, 1)));
  if (!review) return [404, NOT_FOUND];
  review.body = String(body?.body);
  return [200, { id: review.id, body: review.body, state: review.state, user: review.user }];
}

export const reviewRoutes: Route[] = [
  { method: "*", path: /^\/pulls\/(\d+)\/reviews$/, handle: pullReviews },
  { method: "PUT", path: /^\/pulls\/(\d+)\/reviews\/(\d+)$/, handle: editReview },
];
