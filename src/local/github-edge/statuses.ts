// Commit status routes of the GitHub edge: a status is set on a commit that exists in the repository.
import { group, type EdgeContext, type EdgeRequest, type Reply, type Route } from "./context.js";
import { resolveCommit } from "./git.js";
import { emit, now, type Status } from "./store.js";

function setStatus(ctx: EdgeContext, { match, body }: EdgeRequest): Reply {
  const sha = group(match, 1);
  // The route takes full SHAs only, so the answer is kept: a status on the same commit asks git once.
  if (resolveCommit(ctx.bare, sha) === undefined) return [422, { message: `No commit found for SHA: ${sha}` }];
  const status: Status = {
    sha,
    state: String(body?.state),
    description: String(body?.description ?? ""),
    context: String(body?.context ?? "default"),
    target_url: typeof body?.target_url === "string" ? body.target_url : null,
    created_at: now(),
  };
  ctx.store.statuses.push(status);
  emit(ctx.store, { kind: "status.created", sha, state: status.state, context: status.context, description: status.description });
  const { state, description, context, target_url } = status;
  return [201, { id: ctx.store.statuses.length, state, description, context, target_url, creator: ctx.bot }];
}

export const statusRoutes: Route[] = [{ method: "POST", path: /^\/statuses\/([0-9a-f]{40})$/, handle: setStatus }];
