// Exact-commit checkouts for the Auditor and the governor: a bare cache per repository (separate from the task
// work trees), commits fetched by SHA, and a fresh detached work tree per run that is removed afterwards. Built
// only from the workspace's hardened `git` runner, so no hook or fsmonitor of the repository ever runs here.
import { randomBytes, createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { changedFilesFromUnifiedDiff } from "../github/local-diff.js";
import type { ChangedFile } from "../github/pull-types.js";
import { createCache, setOrigin } from "./seed-cache.js";
import {
  GitCommandError,
  git,
  removeWorkTree,
  resolveCloneSource,
  type CloneSource,
  type GitTarget,
  type RepoLocation,
  type WorkspaceOptions,
} from "./index.js";

export type CommitSource = {
  repo: RepoLocation;
  /** Installation token for https remotes; never stored. */
  token?: string | undefined;
  /** Refs to fetch when the server refuses a fetch by SHA, e.g. `refs/pull/12/head`. */
  fallbackRefs?: readonly string[];
};

const SHA = /^[0-9a-f]{40}$/;

// In-process serialisation per cache: git's own locks would fail concurrent fetches rather than wait.
const locks = new Map<string, Promise<unknown>>();

async function withLock<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(work, work);
  const settled = run.catch(() => undefined);
  locks.set(key, settled);
  try {
    return await run;
  } finally {
    if (locks.get(key) === settled) locks.delete(key);
  }
}

function assertSha(sha: string): void {
  if (!SHA.test(sha)) throw new GitCommandError("fetch", `not a full commit SHA: ${JSON.stringify(sha)}`);
}

function cacheFor(options: WorkspaceOptions, source: CloneSource, fullName: string, token: string | undefined): GitTarget {
  const digest = createHash("sha256").update(source.url).digest("hex").slice(0, 10);
  const gitDir = path.join(options.root, "audit-cache", `${fullName.replace(/[^A-Za-z0-9._-]+/g, "_")}-${digest}.git`);
  return { gitDir, protocols: source.protocols, token, remoteUrl: source.url };
}

async function hasCommit(target: GitTarget, sha: string): Promise<boolean> {
  const result = await git(target, ["cat-file", "-e", `${sha}^{commit}`], { okExitCodes: [1, 128] });
  return result.exitCode === 0;
}

/** Makes sure every SHA is in the cache: fetched by SHA, or through the fallback refs when the server refuses. */
async function ensureCommits(options: WorkspaceOptions, input: CommitSource, shas: readonly string[]): Promise<GitTarget> {
  shas.forEach(assertSha);
  const source = resolveCloneSource({ ...input.repo, allowLocalClone: options.allowLocalClone });
  const target = cacheFor(options, source, input.repo.fullName, input.token);
  if (!existsSync(path.join(target.gitDir, "HEAD"))) {
    await mkdir(path.dirname(target.gitDir), { recursive: true });
    await createCache(target, source);
  }
  await setOrigin(target, source.url);
  // Usually every commit is there already (the cache was fetched before): one git process says so for all.
  const all = await git(target, ["rev-parse", ...shas.map((sha) => `${sha}^{commit}`)], { okExitCodes: [1, 128] });
  if (all.exitCode === 0) return target;
  const missing: string[] = [];
  for (const sha of shas) if (!(await hasCommit(target, sha))) missing.push(sha);
  if (missing.length === 0) return target;
  const fetch = ["fetch", "--quiet", "--no-tags", "--no-recurse-submodules", "--filter=blob:none", "origin"];
  const bySha = await git(target, [...fetch, ...missing], { okExitCodes: [1, 128] });
  if (bySha.exitCode !== 0) {
    const refspecs = [
      "+refs/heads/*:refs/remotes/origin/*",
      ...(input.fallbackRefs ?? []).map((ref) => `+${ref}:refs/remotes/origin/extra/${ref.replace(/^refs\//, "")}`),
    ];
    await git(target, [...fetch, ...refspecs], { okExitCodes: [1, 128] });
  }
  for (const sha of missing) {
    if (!(await hasCommit(target, sha))) throw new GitCommandError("fetch", `commit ${sha} could not be fetched from ${input.repo.fullName}`);
  }
  return target;
}

/**
 * The full diff of a pull request from a clone: merge base of `baseSha` and `headSha` to `headSha`, as GitHub
 * shows it, in the REST API's ChangedFile shape (complete: no file limit, binaries without a patch).
 */
export async function diffFromClone(options: WorkspaceOptions, input: CommitSource & { baseSha: string; headSha: string }): Promise<ChangedFile[]> {
  const source = resolveCloneSource({ ...input.repo, allowLocalClone: options.allowLocalClone });
  const key = cacheFor(options, source, input.repo.fullName, undefined).gitDir;
  return withLock(key, async () => {
    const target = await ensureCommits(options, input, [input.baseSha, input.headSha]);
    const result = await git(target, ["diff", "--no-color", "--no-ext-diff", "--no-textconv", "-M", `${input.baseSha}...${input.headSha}`]);
    return changedFilesFromUnifiedDiff(result.stdout);
  });
}

async function makeTraversable(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o711);
}

/**
 * Runs `work` in a fresh detached work tree of exactly `sha`, then removes the tree whatever happened. The
 * tree's `.git` is a pointer file into the cache, which the sandbox hides.
 */
export async function withDetachedCheckout<T>(
  options: WorkspaceOptions,
  input: CommitSource & { sha: string },
  work: (tree: string) => Promise<T>,
): Promise<T> {
  const [result] = await withDetachedCheckouts(options, { ...input, shas: [input.sha] }, (tree) => work(tree));
  return result as T;
}

/**
 * Runs `work` on each of `shas` in turn, in one detached work tree made for the first and then reset to exactly
 * the next (`checkout --force` and `clean -ffdx`: every tracked file as the commit has it, every other file gone,
 * ignored ones included), and removes the tree whatever happened. One checkout of the repository instead of one
 * per commit; what an earlier run left behind can reach a later one only as far as git cannot see it (modes
 * beyond the executable bit, timestamps), so the caller orders the commits from the most trusted. The tree's
 * `.git` is a pointer file into the cache, read before any repository code runs; the resets name that git
 * directory themselves, whatever the tree holds by then.
 */
export async function withDetachedCheckouts<T>(
  options: WorkspaceOptions,
  input: CommitSource & { shas: readonly string[] },
  work: (tree: string, sha: string) => Promise<T>,
): Promise<T[]> {
  const [first, ...rest] = input.shas;
  if (first === undefined) return [];
  const source = resolveCloneSource({ ...input.repo, allowLocalClone: options.allowLocalClone });
  const key = cacheFor(options, source, input.repo.fullName, undefined).gitDir;
  const trees = path.join(options.root, "audit-trees");
  for (const dir of [options.root, trees]) await makeTraversable(dir);
  const tree = path.join(trees, `${first.slice(0, 12)}-${randomBytes(4).toString("hex")}`);
  const target = await withLock(key, async () => {
    const cache = await ensureCommits(options, input, input.shas);
    await git(cache, ["worktree", "add", "--quiet", "--detach", tree, first], { cwd: cache.gitDir });
    return cache;
  });
  try {
    // Read the pointer before any repository code runs in the tree: it must point into this cache.
    const pointer = (await readFile(path.join(tree, ".git"), "utf8")).trim().replace(/^gitdir:\s*/, "");
    const worktreeGitDir = path.resolve(tree, pointer);
    if (path.dirname(worktreeGitDir) !== path.join(target.gitDir, "worktrees")) {
      throw new GitCommandError("worktree add", `unexpected worktree git dir ${pointer}`);
    }
    const results = [await work(tree, first)];
    const inTree: GitTarget = { gitDir: worktreeGitDir, workTree: tree, protocols: target.protocols };
    for (const sha of rest) {
      await git(inTree, ["checkout", "--quiet", "--force", "--detach", sha]);
      await git(inTree, ["clean", "-ffdxq"]);
      results.push(await work(tree, sha));
    }
    return results;
  } finally {
    await withLock(key, () => removeWorkTree(target, tree));
  }
}

/**
 * Where a pull request's commits are fetched from: the base repository (whose `refs/pull/N/head` also holds a
 * fork's head), addressed by the configured host and full name; a payload's local clone URL only when allowed.
 * The installation token is fetched only for a remote source.
 */
export async function commitSourceFor(
  input: { options: WorkspaceOptions; githubWebUrl: string; auth: () => Promise<unknown> },
  pull: { number: number; base: { repo: { full_name: string; clone_url?: string | undefined } } },
): Promise<CommitSource> {
  const repo: RepoLocation = { fullName: pull.base.repo.full_name, githubWebUrl: input.githubWebUrl, cloneUrl: pull.base.repo.clone_url };
  const source = resolveCloneSource({ ...repo, allowLocalClone: input.options.allowLocalClone });
  let token: string | undefined;
  if (source.kind === "remote") {
    const auth = (await input.auth()) as { token?: unknown };
    if (typeof auth.token !== "string") throw new GitCommandError("fetch", "no installation token for the clone");
    token = auth.token;
  }
  return { repo, token, fallbackRefs: [`refs/pull/${pull.number}/head`] };
}
