// Pull request routes of the GitHub edge: list, open (with GitHub's validation errors), read, edit, their files
// and commits from git, the pulls a commit heads; and GitHub's side of a close, which no REST route reaches here
// (the director presses the button on GitHub).
import { restFileJson } from "../../github/local-diff.js";
import { group, NOT_FOUND, type EdgeContext, type EdgeRequest, type Reply, type Route } from "./context.js";
import { gitOnCommits, pathAt, resolveCommit } from "./git.js";
import { pullDiffFiles, pullJson, pullShas, storedPull } from "./json.js";
import { emit, now, userOf, type Pull } from "./store.js";

function listPulls(ctx: EdgeContext, { query }: EdgeRequest): Reply {
  const head = query.get("head");
  const state = query.get("state") ?? "open";
  const list = [...ctx.store.pulls.values()].filter(
    (pull) => (state === "all" || pull.state === state) && (head === null || `${ctx.owner}:${pull.head}` === head || pull.head === head),
  );
  return [200, list.map((pull) => pullJson(ctx, pull.number))];
}

/** GitHub's 422 for a pull request it will not open: a branch that does not exist, or one already open for the head. */
function refusedPull(ctx: EdgeContext, head: string, base: string): Reply | undefined {
  const errors: { resource: string; field: string; code: string }[] = [];
  if (!resolveCommit(ctx.bare, `refs/heads/${head}`)) errors.push({ resource: "PullRequest", field: "head", code: "invalid" });
  if (!resolveCommit(ctx.bare, `refs/heads/${base}`)) errors.push({ resource: "PullRequest", field: "base", code: "invalid" });
  if (errors.length > 0)
    return [422, { message: "Validation Failed", errors, documentation_url: "https://docs.github.com/rest/pulls/pulls#create-a-pull-request" }];
  if (![...ctx.store.pulls.values()].some((pull) => pull.state === "open" && pull.head === head)) return undefined;
  const exists = { resource: "PullRequest", code: "custom", message: `A pull request already exists for ${ctx.owner}:${head}.` };
  return [422, { message: "Validation Failed", errors: [exists] }];
}

function openPull(ctx: EdgeContext, { body }: EdgeRequest): Reply {
  const head = String(body?.head ?? "");
  const base = String(body?.base ?? "");
  const refused = refusedPull(ctx, head, base);
  if (refused) return refused;
  const number = ctx.store.next.pull++;
  const pull: Pull = {
    number,
    title: String(body?.title),
    body: String(body?.body ?? ""),
    draft: body?.draft === true,
    state: "open",
    head,
    base,
    user: ctx.bot,
    created_at: now(),
    closed_at: null,
    merged: false,
    merged_by: null,
  };
  ctx.store.pulls.set(number, pull);
  emit(ctx.store, { kind: "pull.created", number });
  return [201, pullJson(ctx, number)];
}

/** GET and PATCH (title, body); a missing pull request is 404 whatever the method, as before. */
function onePull(ctx: EdgeContext, { method, match, body }: EdgeRequest): Reply | undefined {
  const pull = ctx.store.pulls.get(Number(group(match, 1)));
  if (!pull) return [404, NOT_FOUND];
  if (method === "GET") return [200, pullJson(ctx, pull.number)];
  if (method !== "PATCH") return undefined;
  if (typeof body?.body === "string") pull.body = body.body;
  if (typeof body?.title === "string") pull.title = body.title;
  return [200, pullJson(ctx, pull.number)];
}

function pullFiles(ctx: EdgeContext, { match }: EdgeRequest): Reply {
  const pull = ctx.store.pulls.get(Number(group(match, 1)));
  if (!pull) return [404, NOT_FOUND];
  const shas = pullShas(ctx, pull);
  const files = pullDiffFiles(ctx, shas).map((file) => ({
    sha: pathAt(ctx.bare, shas.head, file.filename) ?? null,
    ...restFileJson(file),
  }));
  return [200, files];
}

function pullCommits(ctx: EdgeContext, { match }: EdgeRequest): Reply {
  const pull = ctx.store.pulls.get(Number(group(match, 1)));
  if (!pull) return [404, NOT_FOUND];
  const shas = pullShas(ctx, pull);
  const log = gitOnCommits(ctx.bare, [shas.base, shas.head], "log", "--reverse", "--format=%H%x00%ae%x00%ce%x00%B%x1e", `${shas.base}..${shas.head}`);
  const entries = log
    .split("\x1e")
    .map((entry) => entry.replace(/^\n/, ""))
    .filter((entry) => entry.trim() !== "");
  return [200, entries.map((entry) => commitJson(ctx, entry))];
}

/** One `git log` entry (SHA, author and committer email, message, NUL-separated) as GitHub lists a pull's commit. */
function commitJson(ctx: EdgeContext, entry: string) {
  const [sha = "", authorEmail = "", committerEmail = "", message = ""] = entry.split("\x00");
  // GitHub links a commit to an account by its email; the app's commits use its noreply address.
  const account = (email: string) => (email.includes(`${ctx.options.botLogin}@users.noreply`) ? ctx.bot : null);
  return {
    sha,
    node_id: `C_${sha.slice(0, 12)}`,
    commit: {
      message: message.trimEnd(),
      author: { email: authorEmail },
      committer: { email: committerEmail },
      verification: { verified: false, reason: "unsigned" },
    },
    author: account(authorEmail),
    committer: account(committerEmail),
    html_url: `${ctx.web}/${ctx.fullName}/commit/${sha}`,
  };
}

function pullsOfCommit(ctx: EdgeContext, { match }: EdgeRequest): Reply {
  const sha = group(match, 1);
  const heads = [...ctx.store.pulls.values()].filter((pull) => resolveCommit(ctx.bare, `refs/heads/${pull.head}`) === sha);
  return [200, heads.map((pull) => pullJson(ctx, pull.number))];
}

export const pullRoutes: Route[] = [
  { method: "GET", path: /^\/pulls$/, handle: listPulls },
  { method: "POST", path: /^\/pulls$/, handle: openPull },
  { method: "*", path: /^\/pulls\/(\d+)$/, handle: onePull },
  { method: "GET", path: /^\/pulls\/(\d+)\/files$/, handle: pullFiles },
  { method: "GET", path: /^\/pulls\/(\d+)\/commits$/, handle: pullCommits },
  { method: "GET", path: /^\/commits\/([0-9a-f]{40})\/pulls$/, handle: pullsOfCommit },
];

/** GitHub's side of a close (the director's button press): state, merge flag, who and when. */
export function closePull(ctx: EdgeContext, number: number, input: { merged: boolean; by: string }): void {
  const pull = storedPull(ctx, number);
  pull.state = "closed";
  pull.closed_at = now();
  pull.merged = input.merged;
  pull.merged_by = input.merged ? userOf(ctx.store, input.by) : null;
}
