// One request to the GitHub edge: recorded, then answered by GraphQL or by the first REST route (in the table
// of routes grouped by resource) whose method and path below the repository match. A request no route takes is
// recorded as unhandled and answered 404, as GitHub answers a path it does not have.
import { NOT_FOUND, type EdgeContext, type Reply, type Route } from "./context.js";
import { answerGraphql } from "./graphql.js";
import { issueRoutes } from "./issues.js";
import { pullRoutes } from "./pulls.js";
import { repositoryRoutes } from "./repository.js";
import { reviewRoutes } from "./reviews.js";
import { statusRoutes } from "./statuses.js";

const ROUTES: Route[] = [...repositoryRoutes, ...issueRoutes, ...pullRoutes, ...reviewRoutes, ...statusRoutes];

export function respond(ctx: EdgeContext, method: string, url: URL, body: Record<string, unknown> | undefined): { status: number; json: unknown } {
  ctx.store.requests.push({ method, path: url.pathname, query: url.searchParams, body });
  const reply = route(ctx, method, url, body);
  if (reply) return { status: reply[0], json: reply[1] };
  ctx.store.unhandled.push(`${method} ${url.pathname}${url.search}`);
  return { status: 404, json: NOT_FOUND };
}

function route(ctx: EdgeContext, method: string, url: URL, body: Record<string, unknown> | undefined): Reply | undefined {
  const path = decodeURIComponent(url.pathname);
  if (method === "POST" && path === "/graphql") return answerGraphql(ctx, body);
  if (!path.startsWith(ctx.prefix)) return undefined;
  const rest = path.slice(ctx.prefix.length);
  for (const candidate of ROUTES) {
    if (candidate.method !== "*" && candidate.method !== method) continue;
    const match = candidate.path.exec(rest);
    if (match) return candidate.handle(ctx, { method, match, query: url.searchParams, body });
  }
  return undefined;
}
