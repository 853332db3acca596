// Issue routes of the GitHub edge: the one issue the edge holds, its comments (list, write, edit) and
// reactions to them.
import { group, NOT_FOUND, type EdgeContext, type EdgeRequest, type Reply, type Route } from "./context.js";
import { commentJson } from "./json.js";
import { addComment, emit, now, userOf } from "./store.js";

function getIssue(ctx: EdgeContext, { match }: EdgeRequest): Reply {
  const { issue } = ctx.options;
  if (Number(group(match, 1)) !== issue.number) return [404, NOT_FOUND];
  return [200, { number: issue.number, title: issue.title, body: issue.body, state: ctx.store.issueState, user: userOf(ctx.store, issue.user), labels: [] }];
}

function listComments(ctx: EdgeContext, { match }: EdgeRequest): Reply {
  const issue = Number(group(match, 1));
  return [200, ctx.store.comments.filter((comment) => comment.issue === issue).map((comment) => commentJson(ctx, comment))];
}

function writeComment(ctx: EdgeContext, { match, body }: EdgeRequest): Reply {
  if (typeof body?.body !== "string") return [422, { message: 'Invalid request.\n\n"body" wasn\'t supplied.' }];
  return [201, commentJson(ctx, addComment(ctx.store, Number(group(match, 1)), body.body, ctx.bot))];
}

function editComment(ctx: EdgeContext, { match, body }: EdgeRequest): Reply {
  const comment = ctx.store.comments.find((candidate) => candidate.id === Number(group(match, 1)));
  if (!comment) return [404, NOT_FOUND];
  comment.body = String(body?.body);
  comment.updated_at = now();
  emit(ctx.store, { kind: "comment.updated", issue: comment.issue, id: comment.id });
  return [200, commentJson(ctx, comment)];
}

function react(ctx: EdgeContext, { match, body }: EdgeRequest): Reply {
  const { reactions } = ctx.store;
  reactions.push({ commentId: Number(group(match, 1)), content: String(body?.content) });
  return [201, { id: reactions.length, node_id: `REA_${reactions.length}`, user: ctx.bot, content: body?.content, created_at: now() }];
}

export const issueRoutes: Route[] = [
  { method: "GET", path: /^\/issues\/(\d+)$/, handle: getIssue },
  { method: "GET", path: /^\/issues\/(\d+)\/comments$/, handle: listComments },
  { method: "POST", path: /^\/issues\/(\d+)\/comments$/, handle: writeComment },
  { method: "PATCH", path: /^\/issues\/comments\/(\d+)$/, handle: editComment },
  { method: "POST", path: /^\/issues\/comments\/(\d+)\/reactions$/, handle: react },
];
