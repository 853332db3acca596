// The GitHub edge of one repository, as local mode serves it and the whole-company tests fake it: the git side
// is a real local repository (contents, trees and READMEs are read from it at the asked ref; pull requests get
// their head and base SHAs, files and commits from `git`); comments, reactions, statuses, reviews and pull
// requests are kept in memory with the status codes and shapes of GitHub's REST API. Every request is
// recorded, and one nobody routes is recorded as unhandled and answered 404 as GitHub would. `respond` is the
// whole API; src/local/edge-server.ts serves it on a loopback port, the tests put it behind nock.
import { execFileSync } from "node:child_process";
import { changedFilesFromUnifiedDiff } from "../github/local-diff.js";

export type RecordedRequest = { method: string; path: string; query: URLSearchParams; body: Record<string, unknown> | undefined };

type User = { login: string; id: number; type: "User" | "Bot" };
type Comment = { id: number; issue: number; body: string; user: User; created_at: string; updated_at: string };
type Review = { id: number; pull: number; commit_id: string; event: string; state: string; body: string; user: User; comments: unknown[] };
type Status = { sha: string; state: string; description: string; context: string; target_url: string | null; created_at: string };
type Pull = {
  number: number;
  title: string;
  body: string;
  draft: boolean;
  state: "open" | "closed";
  head: string;
  base: string;
  user: User;
  created_at: string;
  closed_at: string | null;
  merged: boolean;
  merged_by: User | null;
};

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

/** What changed on the edge, for whoever plays GitHub's webhooks (local mode) or watches progress. */
export type GitHubEdgeEvent =
  | { kind: "pull.created"; number: number }
  | { kind: "comment.created" | "comment.updated"; issue: number; id: number }
  | { kind: "status.created"; sha: string; state: string; context: string; description: string }
  | { kind: "review.created"; pull: number; id: number };

export type GitHubEdge = {
  requests: RecordedRequest[];
  unhandled: string[];
  comments: Comment[];
  reactions: { commentId: number; content: string }[];
  statuses: Status[];
  reviews: Review[];
  pulls: Map<number, Pull>;
  graphql: { query: string; variables: Record<string, unknown> }[];
  /** The pull request as `GET /repos/{owner}/{repo}/pulls/{n}` returns it. */
  pullJson: (number: number) => Record<string, unknown>;
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

// Only reads: no hooks, no user or system configuration.
const gitEnv = {
  PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
  HOME: "/nonexistent",
  LANG: "C",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

function git(bare: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd: bare, env: gitEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

function tryGit(bare: string, ...args: string[]): string | undefined {
  try {
    return git(bare, ...args);
  } catch {
    return undefined;
  }
}

const NOT_FOUND = { message: "Not Found", documentation_url: "https://docs.github.com/rest" };

export function createGitHubEdge(options: GitHubEdgeOptions): GitHubEdge {
  const { owner, name, bare } = options;
  const defaultBranch = options.defaultBranch ?? "main";
  const web = options.webUrl ?? "https://github.com";
  const api = options.apiUrl ?? "https://api.github.com";
  const listeners: ((event: GitHubEdgeEvent) => void)[] = [];
  const emit = (event: GitHubEdgeEvent) => {
    for (const listener of listeners) listener(event);
  };
  const fullName = `${owner}/${name}`;
  const prefix = `/repos/${owner}/${name}`;
  const requests: RecordedRequest[] = [];
  const unhandled: string[] = [];
  const comments: Comment[] = [];
  const reactions: { commentId: number; content: string }[] = [];
  const statuses: Status[] = [];
  const reviews: Review[] = [];
  const pulls = new Map<number, Pull>();
  const graphql: { query: string; variables: Record<string, unknown> }[] = [];
  let nextComment = 1_200_000_001;
  let nextReview = 2_100_000_001;
  let nextPull = options.issue.number + 1;
  let issueState: "open" | "closed" = "open";
  const userIds = new Map<string, number>();
  const userJson = (login: string): User => {
    if (!userIds.has(login)) userIds.set(login, 5_000_000 + userIds.size);
    return { login, id: userIds.get(login) as number, type: login.endsWith("[bot]") ? "Bot" : "User" };
  };
  const bot = userJson(options.botLogin);

  const repositoryJson = () => ({
    id: 987_654_321,
    node_id: "R_kgDOfakeRepo",
    name,
    full_name: fullName,
    private: false,
    owner: { ...userJson(owner), type: "Organization" },
    html_url: `${web}/${fullName}`,
    url: `${api}/repos/${fullName}`,
    clone_url: options.cloneUrl,
    default_branch: defaultBranch,
    visibility: "public",
  });

  const resolve = (ref: string): string | undefined => tryGit(bare, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`)?.trim();

  const contentJson = (path: string, ref: string): [number, unknown] => {
    const sha = resolve(ref);
    if (!sha) return [404, { message: `No commit found for the ref ${ref}`, documentation_url: "https://docs.github.com/rest/repos/contents" }];
    const blob = tryGit(bare, "rev-parse", "--verify", "--quiet", `${sha}:${path}`)?.trim();
    if (!blob || git(bare, "cat-file", "-t", blob).trim() !== "blob") return [404, NOT_FOUND];
    const content = execFileSync("git", ["cat-file", "blob", blob], { cwd: bare, env: gitEnv });
    return [
      200,
      {
        type: "file",
        encoding: "base64",
        size: content.length,
        name: path.split("/").pop(),
        path,
        sha: blob,
        content: content.toString("base64"),
        url: `${api}${prefix}/contents/${path}?ref=${ref}`,
      },
    ];
  };

  const pullJson = (number: number): Record<string, unknown> => {
    const pull = pulls.get(number);
    if (!pull) throw new Error(`no pull request #${number}`);
    const headSha = resolve(`refs/heads/${pull.head}`) ?? "";
    const baseSha = resolve(`refs/heads/${pull.base}`) ?? "";
    const mergeBase = git(bare, "merge-base", baseSha, headSha).trim();
    const files = changedFilesFromUnifiedDiff(git(bare, "diff", "--no-color", "-M", mergeBase, headSha));
    const commits = Number(git(bare, "rev-list", "--count", `${mergeBase}..${headSha}`).trim());
    const repo = repositoryJson();
    return {
      url: `${api}${prefix}/pulls/${number}`,
      id: 1_800_000_000 + number,
      node_id: `PR_kwDOfake${number}`,
      html_url: `${web}/${fullName}/pull/${number}`,
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
      head: { label: `${owner}:${pull.head}`, ref: pull.head, sha: headSha, user: repo.owner, repo },
      base: { label: `${owner}:${pull.base}`, ref: pull.base, sha: baseSha, user: repo.owner, repo },
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
  };

  const pullFiles = (number: number) => {
    const pull = pullJson(number) as { head: { sha: string }; base: { sha: string } };
    const mergeBase = git(bare, "merge-base", pull.base.sha, pull.head.sha).trim();
    return changedFilesFromUnifiedDiff(git(bare, "diff", "--no-color", "-M", mergeBase, pull.head.sha)).map((file) => ({
      sha: tryGit(bare, "rev-parse", `${pull.head.sha}:${file.filename}`)?.trim() ?? null,
      filename: file.filename,
      status: file.status,
      additions: file.additions,
      deletions: file.deletions,
      changes: file.additions + file.deletions,
      ...(file.patch === undefined ? {} : { patch: file.patch }),
    }));
  };

  const pullCommits = (number: number) => {
    const pull = pullJson(number) as { head: { sha: string }; base: { sha: string } };
    const log = git(bare, "log", "--reverse", "--format=%H%x00%ae%x00%ce%x00%B%x1e", `${pull.base.sha}..${pull.head.sha}`);
    return log
      .split("\x1e")
      .map((entry) => entry.replace(/^\n/, ""))
      .filter((entry) => entry.trim() !== "")
      .map((entry) => {
        const [sha = "", authorEmail = "", committerEmail = "", message = ""] = entry.split("\x00");
        // GitHub links a commit to an account by its email; the app's commits use its noreply address.
        const account = (email: string) => (email.includes(`${options.botLogin}@users.noreply`) ? bot : null);
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
          html_url: `${web}/${fullName}/commit/${sha}`,
        };
      });
  };

  const commentJson = (comment: Comment) => ({
    id: comment.id,
    node_id: `IC_${comment.id}`,
    html_url: `${web}/${fullName}/issues/${comment.issue}#issuecomment-${comment.id}`,
    issue_url: `${api}${prefix}/issues/${comment.issue}`,
    body: comment.body,
    user: comment.user,
    created_at: comment.created_at,
    updated_at: comment.updated_at,
    author_association: "NONE",
  });

  const route = (method: string, url: URL, body: Record<string, unknown> | undefined): [number, unknown] => {
    const p = decodeURIComponent(url.pathname);
    const q = url.searchParams;
    let m: RegExpExecArray | null;
    if (method === "POST" && p === "/graphql") {
      const query = String(body?.query ?? "");
      const variables = (body?.variables ?? {}) as Record<string, unknown>;
      graphql.push({ query, variables });
      if (query.includes("markPullRequestReadyForReview")) {
        const number = Number(/PR_kwDOfake(\d+)/.exec(String(variables.id))?.[1]);
        const pull = pulls.get(number);
        if (!pull)
          return [200, { data: null, errors: [{ type: "NOT_FOUND", message: `Could not resolve to a node with the global id of '${String(variables.id)}'` }] }];
        pull.draft = false;
        return [200, { data: { markPullRequestReadyForReview: { pullRequest: { isDraft: false } } } }];
      }
      return [200, { data: null, errors: [{ message: "fake GitHub: unknown GraphQL operation" }] }];
    }
    if (!p.startsWith(`${prefix}`)) return [-1, undefined];
    const rest = p.slice(prefix.length);
    if (method === "GET" && rest === "") return [200, repositoryJson()];
    if (method === "GET" && (m = /^\/collaborators\/([^/]+)\/permission$/.exec(rest))) {
      const login = m[1] as string;
      const role = options.permissions[login] ?? "read";
      const permission = role === "maintain" ? "write" : role === "triage" ? "read" : role;
      return [200, { permission, role_name: role, user: { ...userJson(login), permissions: {} } }];
    }
    if (method === "GET" && (m = /^\/contents\/(.+)$/.exec(rest))) return contentJson(m[1] as string, q.get("ref") ?? defaultBranch);
    if (method === "GET" && rest === "/readme") return contentJson("README.md", q.get("ref") ?? defaultBranch);
    if (method === "GET" && (m = /^\/git\/trees\/(.+)$/.exec(rest))) {
      const sha = resolve(m[1] as string);
      if (!sha) return [404, NOT_FOUND];
      const listing = git(bare, "ls-tree", "-r", "-t", "-l", sha)
        .trim()
        .split("\n")
        .filter((line) => line !== "");
      const tree = listing.map((line) => {
        const [meta = "", path = ""] = line.split("\t");
        const [mode, type, objectSha, size] = meta.split(/\s+/);
        return { path, mode, type, sha: objectSha, ...(type === "blob" ? { size: Number(size) } : {}) };
      });
      return [200, { sha: git(bare, "rev-parse", `${sha}^{tree}`).trim(), url: "", tree, truncated: false }];
    }
    if (method === "GET" && (m = /^\/issues\/(\d+)$/.exec(rest))) {
      if (Number(m[1]) !== options.issue.number) return [404, NOT_FOUND];
      return [
        200,
        {
          number: options.issue.number,
          title: options.issue.title,
          body: options.issue.body,
          state: issueState,
          user: userJson(options.issue.user),
          labels: [],
        },
      ];
    }
    if (method === "GET" && (m = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      const issue = Number(m[1]);
      return [200, comments.filter((comment) => comment.issue === issue).map(commentJson)];
    }
    if (method === "POST" && (m = /^\/issues\/(\d+)\/comments$/.exec(rest))) {
      if (typeof body?.body !== "string") return [422, { message: 'Invalid request.\n\n"body" wasn\'t supplied.' }];
      const now = new Date().toISOString();
      const comment: Comment = { id: nextComment++, issue: Number(m[1]), body: body.body, user: bot, created_at: now, updated_at: now };
      comments.push(comment);
      emit({ kind: "comment.created", issue: comment.issue, id: comment.id });
      return [201, commentJson(comment)];
    }
    if (method === "PATCH" && (m = /^\/issues\/comments\/(\d+)$/.exec(rest))) {
      const comment = comments.find((candidate) => candidate.id === Number(m?.[1]));
      if (!comment) return [404, NOT_FOUND];
      comment.body = String(body?.body);
      comment.updated_at = new Date().toISOString();
      emit({ kind: "comment.updated", issue: comment.issue, id: comment.id });
      return [200, commentJson(comment)];
    }
    if (method === "POST" && (m = /^\/issues\/comments\/(\d+)\/reactions$/.exec(rest))) {
      reactions.push({ commentId: Number(m[1]), content: String(body?.content) });
      return [201, { id: reactions.length, node_id: `REA_${reactions.length}`, user: bot, content: body?.content, created_at: new Date().toISOString() }];
    }
    if (method === "GET" && rest === "/pulls") {
      const head = q.get("head");
      const state = q.get("state") ?? "open";
      const list = [...pulls.values()].filter(
        (pull) => (state === "all" || pull.state === state) && (head === null || `${owner}:${pull.head}` === head || pull.head === head),
      );
      return [200, list.map((pull) => pullJson(pull.number))];
    }
    if (method === "POST" && rest === "/pulls") {
      const head = String(body?.head ?? "");
      const base = String(body?.base ?? "");
      const errors: { resource: string; field: string; code: string }[] = [];
      if (!resolve(`refs/heads/${head}`)) errors.push({ resource: "PullRequest", field: "head", code: "invalid" });
      if (!resolve(`refs/heads/${base}`)) errors.push({ resource: "PullRequest", field: "base", code: "invalid" });
      if (errors.length > 0)
        return [422, { message: "Validation Failed", errors, documentation_url: "https://docs.github.com/rest/pulls/pulls#create-a-pull-request" }];
      if ([...pulls.values()].some((pull) => pull.state === "open" && pull.head === head)) {
        return [
          422,
          {
            message: "Validation Failed",
            errors: [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for ${owner}:${head}.` }],
          },
        ];
      }
      const number = nextPull++;
      pulls.set(number, {
        number,
        title: String(body?.title),
        body: String(body?.body ?? ""),
        draft: body?.draft === true,
        state: "open",
        head,
        base,
        user: bot,
        created_at: new Date().toISOString(),
        closed_at: null,
        merged: false,
        merged_by: null,
      });
      emit({ kind: "pull.created", number });
      return [201, pullJson(number)];
    }
    if ((m = /^\/pulls\/(\d+)$/.exec(rest))) {
      const pull = pulls.get(Number(m[1]));
      if (!pull) return [404, NOT_FOUND];
      if (method === "GET") return [200, pullJson(pull.number)];
      if (method === "PATCH") {
        if (typeof body?.body === "string") pull.body = body.body;
        if (typeof body?.title === "string") pull.title = body.title;
        return [200, pullJson(pull.number)];
      }
    }
    if (method === "GET" && (m = /^\/pulls\/(\d+)\/files$/.exec(rest))) {
      if (!pulls.has(Number(m[1]))) return [404, NOT_FOUND];
      return [200, pullFiles(Number(m[1]))];
    }
    if (method === "GET" && (m = /^\/pulls\/(\d+)\/commits$/.exec(rest))) {
      if (!pulls.has(Number(m[1]))) return [404, NOT_FOUND];
      return [200, pullCommits(Number(m[1]))];
    }
    if ((m = /^\/pulls\/(\d+)\/reviews$/.exec(rest))) {
      const number = Number(m[1]);
      if (!pulls.has(number)) return [404, NOT_FOUND];
      const json = (review: Review) => ({
        id: review.id,
        node_id: `PRR_${review.id}`,
        user: review.user,
        body: review.body,
        state: review.state,
        commit_id: review.commit_id,
        html_url: `${web}/${fullName}/pull/${number}#pullrequestreview-${review.id}`,
        submitted_at: new Date().toISOString(),
      });
      if (method === "GET") return [200, reviews.filter((review) => review.pull === number).map(json)];
      if (method === "POST") {
        const event = String(body?.event ?? "PENDING");
        const review: Review = {
          id: nextReview++,
          pull: number,
          commit_id: String(body?.commit_id ?? (pullJson(number) as { head: { sha: string } }).head.sha),
          event,
          state: event === "COMMENT" ? "COMMENTED" : event === "REQUEST_CHANGES" ? "CHANGES_REQUESTED" : event === "APPROVE" ? "APPROVED" : "PENDING",
          body: String(body?.body ?? ""),
          user: bot,
          comments: Array.isArray(body?.comments) ? body.comments : [],
        };
        reviews.push(review);
        emit({ kind: "review.created", pull: number, id: review.id });
        return [200, json(review)];
      }
    }
    if (method === "PUT" && (m = /^\/pulls\/(\d+)\/reviews\/(\d+)$/.exec(rest))) {
      const review = reviews.find((candidate) => candidate.id === Number(m?.[2]) && candidate.pull === Number(m?.[1]));
      if (!review) return [404, NOT_FOUND];
      review.body = String(body?.body);
      return [200, { id: review.id, body: review.body, state: review.state, user: review.user }];
    }
    if (method === "POST" && (m = /^\/statuses\/([0-9a-f]{40})$/.exec(rest))) {
      const sha = m[1] as string;
      if (tryGit(bare, "cat-file", "-e", `${sha}^{commit}`) === undefined) {
        return [422, { message: `No commit found for SHA: ${sha}` }];
      }
      const status: Status = {
        sha,
        state: String(body?.state),
        description: String(body?.description ?? ""),
        context: String(body?.context ?? "default"),
        target_url: typeof body?.target_url === "string" ? body.target_url : null,
        created_at: new Date().toISOString(),
      };
      statuses.push(status);
      emit({ kind: "status.created", sha, state: status.state, context: status.context, description: status.description });
      return [
        201,
        { id: statuses.length, state: status.state, description: status.description, context: status.context, target_url: status.target_url, creator: bot },
      ];
    }
    if (method === "GET" && (m = /^\/commits\/([0-9a-f]{40})\/pulls$/.exec(rest))) {
      const sha = m[1];
      return [200, [...pulls.values()].filter((pull) => resolve(`refs/heads/${pull.head}`) === sha).map((pull) => pullJson(pull.number))];
    }
    return [-1, undefined];
  };

  const respond = (method: string, url: URL, body: Record<string, unknown> | undefined): { status: number; json: unknown } => {
    requests.push({ method, path: url.pathname, query: url.searchParams, body });
    const [status, json] = route(method, url, body);
    if (status !== -1) return { status, json };
    unhandled.push(`${method} ${url.pathname}${url.search}`);
    return { status: 404, json: NOT_FOUND };
  };

  return {
    requests,
    unhandled,
    comments,
    reactions,
    statuses,
    reviews,
    pulls,
    graphql,
    pullJson,
    repositoryJson,
    userJson,
    closePull: (number, input) => {
      const pull = pulls.get(number);
      if (!pull) throw new Error(`no pull request #${number}`);
      pull.state = "closed";
      pull.closed_at = new Date().toISOString();
      pull.merged = input.merged;
      pull.merged_by = input.merged ? userJson(input.by) : null;
    },
    count: (method, path) => requests.filter((request) => request.method === method && path.test(request.path)).length,
    addComment: (issue, text, login) => {
      const now = new Date().toISOString();
      const comment: Comment = { id: nextComment++, issue, body: text, user: userJson(login), created_at: now, updated_at: now };
      comments.push(comment);
      emit({ kind: "comment.created", issue, id: comment.id });
      return { id: comment.id };
    },
    closeIssue: () => {
      issueState = "closed";
    },
    respond,
    onEvent: (listener) => void listeners.push(listener),
  };
}
