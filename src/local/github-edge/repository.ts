// Repository routes of the GitHub edge: the repository itself, a collaborator's permission, and the git side
// read at the asked ref (file contents, the README, a recursive tree).
import { group, NOT_FOUND, type EdgeContext, type EdgeRequest, type Reply, type Route } from "./context.js";
import { fileAt, gitOnCommits, objectInfo, resolveCommit } from "./git.js";
import { repositoryJson } from "./json.js";
import { userOf } from "./store.js";

function getRepository(ctx: EdgeContext): Reply {
  return [200, repositoryJson(ctx)];
}

/** The login's role as the options give it; `permission` is the older coarse name GitHub still sends beside it. */
function collaboratorPermission(ctx: EdgeContext, { match }: EdgeRequest): Reply {
  const login = group(match, 1);
  const role = ctx.options.permissions[login] ?? "read";
  const permission = role === "maintain" ? "write" : role === "triage" ? "read" : role;
  return [200, { permission, role_name: role, user: { ...userOf(ctx.store, login), permissions: {} } }];
}

/** A file's contents at `ref` (base64, as GitHub sends them); 404 for a directory, a missing path or ref. */
function contentJson(ctx: EdgeContext, path: string, ref: string): Reply {
  const sha = resolveCommit(ctx.bare, ref);
  if (!sha) return [404, { message: `No commit found for the ref ${ref}`, documentation_url: "https://docs.github.com/rest/repos/contents" }];
  // What a path names in a commit never changes, so these answers are kept (fileAt); a missing path is not.
  const found = fileAt(ctx.bare, sha, path);
  if (found?.content === undefined) return [404, NOT_FOUND];
  const { content } = found;
  const file = { type: "file", encoding: "base64", size: content.length, name: path.split("/").pop(), path, sha: found.sha };
  return [200, { ...file, content: content.toString("base64"), url: `${ctx.api}${ctx.prefix}/contents/${path}?ref=${ref}` }];
}

function getContents(ctx: EdgeContext, { match, query }: EdgeRequest): Reply {
  return contentJson(ctx, group(match, 1), query.get("ref") ?? ctx.defaultBranch);
}

function getReadme(ctx: EdgeContext, { query }: EdgeRequest): Reply {
  return contentJson(ctx, "README.md", query.get("ref") ?? ctx.defaultBranch);
}

/** The whole tree of a commit, recursively, never truncated. */
function getTree(ctx: EdgeContext, { match }: EdgeRequest): Reply {
  const sha = resolveCommit(ctx.bare, group(match, 1));
  if (!sha) return [404, NOT_FOUND];
  const listing = gitOnCommits(ctx.bare, [sha], "ls-tree", "-r", "-t", "-l", sha)
    .trim()
    .split("\n")
    .filter((line) => line !== "");
  const tree = listing.map((line) => {
    const [meta = "", path = ""] = line.split("\t");
    const [mode, type, objectSha, size] = meta.split(/\s+/);
    return { path, mode, type, sha: objectSha, ...(type === "blob" ? { size: Number(size) } : {}) };
  });
  // The commit's tree is known from reading its type (resolveCommit); git is asked only if it is not.
  const root = objectInfo(ctx.bare, sha)?.tree ?? gitOnCommits(ctx.bare, [sha], "rev-parse", `${sha}^{tree}`).trim();
  return [200, { sha: root, url: "", tree, truncated: false }];
}

export const repositoryRoutes: Route[] = [
  { method: "GET", path: /^$/, handle: getRepository },
  { method: "GET", path: /^\/collaborators\/([^/]+)\/permission$/, handle: collaboratorPermission },
  // `s`: a file name may hold a line break (git allows it; the path arrives percent-encoded).
  { method: "GET", path: /^\/contents\/(.+)$/s, handle: getContents },
  { method: "GET", path: /^\/readme$/, handle: getReadme },
  { method: "GET", path: /^\/git\/trees\/(.+)$/, handle: getTree },
];
