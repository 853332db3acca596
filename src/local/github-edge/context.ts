// What every route of the GitHub edge is handed: the edge's options with their defaults filled in, the store,
// and the shape of a route (method, path below the repository, handler) and of its reply.
import { userOf, type EdgeStore, type User } from "./store.js";

export type GitHubEdgeOptions = {
  owner: string;
  name: string;
  /** The repository git reads from (bare or not; only refs and objects are read). */
  bare: string;
  /** The branch pull requests target and the repository reports as its default (default `main`). */
  defaultBranch?: string;
  /** Web base of the links in the JSON (default https://github.com). */
  webUrl?: string;
  /** REST base of the `url` fields (default https://api.github.com). */
  apiUrl?: string;
  /** What the bare repository is reached by in payloads (file:// URL, allowed by AURA_ALLOW_LOCAL_CLONE). */
  cloneUrl: string;
  botLogin: string;
  /** Collaborator permission (role_name) per login; anyone else reads as a non-collaborator ("read"). */
  permissions: Record<string, "admin" | "maintain" | "write" | "triage" | "read">;
  issue: { number: number; title: string; body: string; user: string };
};

export type EdgeContext = {
  options: GitHubEdgeOptions;
  store: EdgeStore;
  bare: string;
  owner: string;
  fullName: string;
  /** `/repos/{owner}/{repo}`: the REST routes match the path below it. */
  prefix: string;
  defaultBranch: string;
  web: string;
  api: string;
  /** The app's own account: the author of everything written through the API. */
  bot: User;
};

/** HTTP status and JSON body, as GitHub's REST API would answer. */
export type Reply = [status: number, json: unknown];

export type EdgeRequest = { method: string; match: RegExpExecArray; query: URLSearchParams; body: Record<string, unknown> | undefined };

/**
 * One REST route: `path` is matched against the path below the repository. `method: "*"` takes every method (the
 * handler answers 404 for a missing resource whatever the method); a handler that returns undefined leaves the
 * request unhandled, as a method GitHub has no route for.
 */
export type Route = { method: "GET" | "POST" | "PATCH" | "PUT" | "*"; path: RegExp; handle: (ctx: EdgeContext, request: EdgeRequest) => Reply | undefined };

export const NOT_FOUND = { message: "Not Found", documentation_url: "https://docs.github.com/rest" };

export function edgeContext(options: GitHubEdgeOptions, store: EdgeStore): EdgeContext {
  const fullName = `${options.owner}/${options.name}`;
  return {
    options,
    store,
    bare: options.bare,
    owner: options.owner,
    fullName,
    prefix: `/repos/${fullName}`,
    defaultBranch: options.defaultBranch ?? "main",
    web: options.webUrl ?? "https://github.com",
    api: options.apiUrl ?? "https://api.github.com",
    // The first account the store numbers, as it always was.
    bot: userOf(store, options.botLogin),
  };
}

/** Group `index` of a route's match (present whenever the route matched). */
export function group(match: RegExpExecArray, index: number): string {
  return match[index] ?? "";
}
