// The "no merge, ever" guard: an Octokit request hook that refuses every call that would merge, approve,
// enable auto-merge, or move a ref other than refs/heads/aura/*. Agents never merge; the Director does.
// Every refusal is counted so the test suite can assert the guard never had to fire.

export class ForbiddenGitHubCall extends Error {
  override name = "ForbiddenGitHubCall";
}

let refusals: string[] = [];

/** Refusals since the process started (or since the last reset): the suite asserts this stays empty. */
export function guardRefusals(): readonly string[] {
  return refusals;
}

export function resetGuardRefusals(): void {
  refusals = [];
}

type RequestOptions = { method?: string; url?: string; [key: string]: unknown };

const AURA_REF = /^(refs\/)?heads\/aura\//;
const GRAPHQL_FORBIDDEN =
  /\b(mergePullRequest|enablePullRequestAutoMerge|approve|mergeBranch|updateRef|updateRefs|createRef|deleteRef|addPullRequestReview|submitPullRequestReview|createCommitOnBranch|updatePullRequestBranch)\b/;

/** Why a request is forbidden, or undefined when it may go out. */
export function forbiddenReason(options: RequestOptions): string | undefined {
  const method = (options.method ?? "GET").toUpperCase();
  const url = String(options.url ?? "");
  if (method === "PUT" && /\/pulls\/\{?[\w]+\}?\/merge$/.test(url)) return "merging a pull request";
  if (method === "POST" && /\/repos\/[^/]+\/[^/]+\/merges$|\/repos\/\{owner\}\/\{repo\}\/merges$/.test(url)) return "merging branches";
  if (/\/pulls\/\{?\w+\}?\/reviews/.test(url) && ["POST", "PUT"].includes(method)) {
    const event = String(options.event ?? "").toUpperCase();
    if (event !== "" && event !== "COMMENT") return `submitting a review with event ${event}`;
  }
  if (method === "POST" && url.endsWith("/merge-upstream")) return "syncing a branch with its upstream";
  if (method === "PUT" && /\/pulls\/\{?\w+\}?\/update-branch$/.test(url)) return "updating a pull request's branch";
  if (/\/contents\//.test(url) && ["PUT", "DELETE"].includes(method)) {
    const branch = String(options.branch ?? "");
    if (!/^(refs\/)?(heads\/)?aura\//.test(branch)) return `committing through the contents API to ${branch || "the default branch"}`;
  }
  if (/\/git\/refs/.test(url) && ["POST", "PATCH", "DELETE"].includes(method)) {
    const ref = String(options.ref ?? decodeURIComponent(url.split("/git/refs/")[1] ?? ""));
    if (!AURA_REF.test(ref)) return `moving ref ${ref || "(unknown)"}`;
  }
  if (method === "POST" && url.endsWith("/graphql")) {
    const query = String(options.query ?? "");
    const mutation = /\bmutation\b/.test(query) ? GRAPHQL_FORBIDDEN.exec(query)?.[1] : undefined;
    if (mutation) return `GraphQL mutation ${mutation}`;
  }
  return undefined;
}

/** Installs the guard on an Octokit instance (anything with `hook.before("request", …)`). */
export function installGuard(octokit: { hook: { before: (name: "request", fn: (options: RequestOptions) => void) => void } }): void {
  octokit.hook.before("request", (options) => {
    const reason = forbiddenReason(options);
    if (!reason) return;
    refusals.push(`${options.method} ${options.url}: ${reason}`);
    throw new ForbiddenGitHubCall(`Aura never does this: ${reason}. Merging and approving are the Director's decisions.`);
  });
}
