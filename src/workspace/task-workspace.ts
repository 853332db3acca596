// One cached bare clone per repository (partial where the remote allows it, reused across tasks, refreshed
// by fetch) and one git worktree per task on its `aura/<issue>-<task>` branch. Preparing is idempotent: when
// the branch already exists on the remote, the work tree continues from its tip, so a retried job or a
// restarted process resumes instead of starting over. Pushing and merging never rewrite history.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readdir, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { resolveCloneSource, type CloneSource } from "./clone-source.js";
import { createCache, setOrigin } from "./seed-cache.js";
import { GitCommandError, MergeConflictError, RefNotAllowedError } from "./errors.js";
import { git, runGit, type GitIdentity, type GitTarget } from "./git.js";
import { assertAuraRef } from "./refs.js";
import { checkRelativePath } from "./safe-path.js";

export type WorkspaceOptions = {
  /** Directory holding the caches and work trees, e.g. `<AURA_DATA_DIR>/workspaces`. */
  root: string;
  /** The app's bot identity: author and committer of every commit the app makes. */
  identity: GitIdentity;
  /** AURA_ALLOW_LOCAL_CLONE: honour a local path or file:// clone source (tests, development). */
  allowLocalClone: boolean;
};

export type RepoLocation = {
  /** `owner/name`. */
  fullName: string;
  /** Configured web base URL (AppConfig.githubWebUrl). */
  githubWebUrl: string;
  /** The payload's clone_url; only used when it is local and local clones are allowed. */
  cloneUrl?: string | undefined;
};

export type PrepareTaskInput = {
  repo: RepoLocation;
  /** Branch name without refs/heads/, e.g. from `taskBranchName(issue, taskTitle)`. Must start with aura/. */
  branch: string;
  /** The base branch name (the repository's default branch, or the requirement's base). */
  baseRef: string;
  /** Installation token; used for this process's git commands only and never stored. */
  token?: string | undefined;
};

export type TaskWorkspace = {
  repoFullName: string;
  branch: string;
  /** `refs/heads/<branch>`. */
  ref: string;
  /** Absolute path of the work tree (what the sandbox binds and edits are written into). */
  path: string;
  /** The worktree's private git dir inside the cache; never visible to the sandbox. */
  gitDir: string;
  cacheDir: string;
  baseRef: string;
  /** Tip of the base branch when the workspace was prepared. */
  baseSha: string;
  /** Commit the work tree starts from: the remote aura branch when resuming, else the base. */
  startSha: string;
  /** True when the branch already existed on the remote and work continues from its tip. */
  resumed: boolean;
  source: CloneSource;
};

export type CommitTrailers = {
  requirement: string;
  task: string;
  employee: string;
  snapshot: string;
};

export type CommitInput = {
  message: string;
  trailers: CommitTrailers;
  /** Stage only these repository paths (edits and deletions); default: every change in the tree. */
  paths?: string[];
};

export type CommitResult = { created: boolean; sha: string };

export type PushResult = {
  sha: string;
  /** Merge commits made because a person had pushed to the branch meanwhile. */
  mergedRemoteChanges: number;
  /** False when the remote already had this commit. */
  updated: boolean;
};

export type MergeBaseResult = { merged: boolean; sha: string; baseSha: string };

// In-process serialisation of operations on one cache (fetch, worktree add/remove, branch deletion).
const cacheLocks = new Map<string, Promise<unknown>>();

async function withCacheLock<T>(cacheDir: string, work: () => Promise<T>): Promise<T> {
  const previous = cacheLocks.get(cacheDir) ?? Promise.resolve();
  const run = previous.then(work, work);
  const settled = run.catch(() => undefined);
  cacheLocks.set(cacheDir, settled);
  try {
    return await run;
  } finally {
    if (cacheLocks.get(cacheDir) === settled) cacheLocks.delete(cacheDir);
  }
}

function safeName(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]+/g, "_");
}

function cacheDirFor(options: WorkspaceOptions, fullName: string, source: CloneSource): string {
  const digest = createHash("sha256").update(source.url).digest("hex").slice(0, 10);
  return path.join(options.root, "cache", `${safeName(fullName)}-${digest}.git`);
}

function treeDirFor(options: WorkspaceOptions, cacheDir: string, branch: string): string {
  return path.join(options.root, "trees", path.basename(cacheDir, ".git"), safeName(branch));
}

function cacheTarget(cacheDir: string, source: CloneSource, token: string | undefined): GitTarget {
  return { gitDir: cacheDir, protocols: source.protocols, token, remoteUrl: source.url };
}

/** Git target for host-side commands in a task's work tree. */
export function workspaceTarget(workspace: TaskWorkspace, token: string | undefined, identity?: GitIdentity): GitTarget {
  return {
    gitDir: workspace.gitDir,
    workTree: workspace.path,
    protocols: workspace.source.protocols,
    token,
    remoteUrl: workspace.source.url,
    ...(identity ? { identity } : {}),
  };
}

// Directories the sandbox user must be able to traverse (but not list) to reach a bound work tree.
async function makeTraversable(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o711);
}

async function ensureCache(cacheDir: string, source: CloneSource, token: string | undefined): Promise<void> {
  const target = cacheTarget(cacheDir, source, token);
  if (!existsSync(path.join(cacheDir, "HEAD"))) {
    await mkdir(path.dirname(cacheDir), { recursive: true });
    await createCache(target, source);
    await git(target, ["config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*"]);
  }
  await setOrigin(target, source.url);
}

async function fetchRefs(cacheDir: string, source: CloneSource, token: string | undefined, refspecs: string[]): Promise<void> {
  // --filter makes a partial clone when the server supports it; git ignores it (with a warning) otherwise.
  await git(cacheTarget(cacheDir, source, token), [
    "fetch",
    "--quiet",
    "--no-tags",
    "--prune",
    "--no-recurse-submodules",
    "--filter=blob:none",
    "origin",
    ...refspecs,
  ]);
}

async function revParse(target: GitTarget, rev: string): Promise<string | undefined> {
  const result = await git(target, ["rev-parse", "--verify", "--quiet", `${rev}^{commit}`], { okExitCodes: [1, 128] });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

function assertBranchName(branch: string): void {
  assertAuraRef(`refs/heads/${branch}`);
}

function assertBaseRef(baseRef: string): void {
  const ok = /^[A-Za-z0-9._\-/]+$/.test(baseRef) && !baseRef.includes("..") && !baseRef.startsWith("-") && !baseRef.endsWith(".lock");
  if (!ok) throw new GitCommandError("fetch", `invalid base branch name ${JSON.stringify(baseRef)}`);
}

/**
 * Under the cache lock: the cache brought up to date with the base and the `aura/*` branches, their tips, and
 * whether the task's local branch is left from an earlier attempt (all three refs read by one git process).
 */
async function fetchTaskRefs(
  cacheDir: string,
  source: CloneSource,
  input: PrepareTaskInput,
): Promise<{ target: GitTarget; baseSha: string; remoteTip: string | undefined; localBranch: boolean }> {
  const target = cacheTarget(cacheDir, source, input.token);
  await ensureCache(cacheDir, source, input.token);
  await fetchRefs(cacheDir, source, input.token, [
    `+refs/heads/${input.baseRef}:refs/remotes/origin/${input.baseRef}`,
    "+refs/heads/aura/*:refs/remotes/origin/aura/*",
  ]);
  const baseRef = `refs/remotes/origin/${input.baseRef}`;
  const tipRef = `refs/remotes/origin/${input.branch}`;
  const localRef = `refs/heads/${input.branch}`;
  const listed = await git(target, ["for-each-ref", "--format=%(refname)%00%(objectname)%00%(objecttype)", baseRef, tipRef, localRef]);
  const refs = new Map<string, { sha: string; type: string }>();
  for (const line of listed.stdout.split("\n")) {
    const [name, sha, type] = line.split("\0");
    if (name !== undefined && sha !== undefined && type !== undefined) refs.set(name, { sha, type });
  }
  // A branch names a commit; anything else (a tag object pushed as a branch) is peeled by rev-parse as before.
  const commitOf = async (ref: string) => {
    const found = refs.get(ref);
    if (found === undefined) return undefined;
    return found.type === "commit" ? found.sha : revParse(target, ref);
  };
  const baseSha = await commitOf(baseRef);
  if (baseSha === undefined) throw new GitCommandError("fetch", `base branch ${input.baseRef} not found on the remote`);
  return { target, baseSha, remoteTip: await commitOf(tipRef), localBranch: refs.has(localRef) };
}

/**
 * Whether a work tree is in the way at `treeDir` (the directory, or a registration of it in the cache), and
 * whether any registration is stale (its work tree gone, which `worktree prune` clears). Read from the cache's
 * `worktrees/<id>/gitdir` files, which name each work tree's `.git`.
 */
async function leftoverTrees(cacheDir: string, treeDir: string): Promise<{ tree: boolean; stale: boolean }> {
  let tree = existsSync(treeDir);
  let stale = false;
  const admin = path.join(cacheDir, "worktrees");
  const names = await readdir(admin).catch(() => [] as string[]);
  for (const name of names) {
    const pointer = await readFile(path.join(admin, name, "gitdir"), "utf8").catch(() => undefined);
    // An entry without its pointer is what an interrupted `worktree add` leaves: prune decides.
    if (pointer === undefined) {
      stale = true;
      continue;
    }
    const dotGit = path.resolve(admin, name, pointer.trim());
    if (path.dirname(dotGit) === treeDir) tree = true;
    if (!existsSync(dotGit)) stale = true;
  }
  return { tree, stale };
}

/**
 * Makes a fresh work tree for the task at the tip of `aura/...` on the remote if it exists (resume), else
 * at the base branch. A left-over local work tree or unpushed local branch from an earlier attempt is
 * discarded: the remote is the record of what was done.
 */
export async function prepareTaskWorkspace(options: WorkspaceOptions, input: PrepareTaskInput): Promise<TaskWorkspace> {
  assertBranchName(input.branch);
  assertBaseRef(input.baseRef);
  const source = resolveCloneSource({ ...input.repo, allowLocalClone: options.allowLocalClone });
  const cacheDir = cacheDirFor(options, input.repo.fullName, source);
  const treeDir = treeDirFor(options, cacheDir, input.branch);
  for (const dir of [options.root, path.join(options.root, "trees"), path.dirname(treeDir)]) {
    await makeTraversable(dir);
  }

  return withCacheLock(cacheDir, async () => {
    const { target, baseSha, remoteTip, localBranch } = await fetchTaskRefs(cacheDir, source, input);

    // What an earlier attempt left goes: its work tree, stale registrations, its local branch. Each git command
    // only when there is something for it (usually nothing: three processes saved per task).
    const left = await leftoverTrees(cacheDir, treeDir);
    if (left.tree) {
      await git(target, ["worktree", "remove", "--force", treeDir], { okExitCodes: [128] });
      await rm(treeDir, { recursive: true, force: true });
    }
    if (left.tree || left.stale) await git(target, ["worktree", "prune"]);
    if (localBranch) await git(target, ["branch", "--quiet", "-D", input.branch], { okExitCodes: [1] });

    const startSha = remoteTip ?? baseSha;
    await git(target, ["worktree", "add", "--quiet", "--no-track", "-b", input.branch, treeDir, startSha], {
      cwd: cacheDir,
    });
    // Read the pointer now, before any repository code has run in the tree.
    const pointer = (await readFile(path.join(treeDir, ".git"), "utf8")).trim().replace(/^gitdir:\s*/, "");
    const gitDir = path.resolve(treeDir, pointer);
    if (path.dirname(gitDir) !== path.join(cacheDir, "worktrees")) {
      throw new GitCommandError("worktree add", `unexpected worktree git dir ${gitDir}`);
    }
    return {
      repoFullName: input.repo.fullName,
      branch: input.branch,
      ref: `refs/heads/${input.branch}`,
      path: treeDir,
      gitDir,
      cacheDir,
      baseRef: input.baseRef,
      baseSha,
      startSha,
      resumed: remoteTip !== undefined,
      source,
    };
  });
}

export type BranchBase = { state: "contains" | "behind"; baseSha: string; tipSha: string } | { state: "missing"; baseSha: string };

/**
 * Whether the task's branch on the remote already contains the tip of its base, asked of the cache alone: one
 * fetch of the base and the `aura/*` branches and one ancestry check, no work tree. `missing` when the branch is
 * not on the remote. A sync uses it to leave a branch that is up to date without checking out the repository.
 */
export async function remoteBranchBase(options: WorkspaceOptions, input: PrepareTaskInput): Promise<BranchBase> {
  assertBranchName(input.branch);
  assertBaseRef(input.baseRef);
  const source = resolveCloneSource({ ...input.repo, allowLocalClone: options.allowLocalClone });
  const cacheDir = cacheDirFor(options, input.repo.fullName, source);
  await makeTraversable(options.root);
  return withCacheLock(cacheDir, async () => {
    const { target, baseSha, remoteTip: tipSha } = await fetchTaskRefs(cacheDir, source, input);
    if (tipSha === undefined) return { state: "missing", baseSha };
    const contained = await git(target, ["merge-base", "--is-ancestor", baseSha, tipSha], { okExitCodes: [1] });
    return { state: contained.exitCode === 0 ? "contains" : "behind", baseSha, tipSha };
  });
}

/**
 * Removes a work tree of the repository `target` (its directory and git's registration of it). Only a removal
 * git refused (the tree not registered, or half gone) can leave a stale registration, so only then is it pruned.
 */
export async function removeWorkTree(target: GitTarget, tree: string, options: { cwd?: string } = {}): Promise<void> {
  const removed = await git(target, ["worktree", "remove", "--force", tree], { ...options, okExitCodes: [128] });
  await rm(tree, { recursive: true, force: true });
  if (removed.exitCode !== 0) await git(target, ["worktree", "prune"], options);
}

/** Removes the task's work tree and its local branch (the remote branch stays). */
export async function removeTaskWorkspace(workspace: TaskWorkspace): Promise<void> {
  await withCacheLock(workspace.cacheDir, async () => {
    const target = cacheTarget(workspace.cacheDir, workspace.source, undefined);
    await removeWorkTree(target, workspace.path);
    await git(target, ["branch", "--quiet", "-D", workspace.branch], { okExitCodes: [1] });
  });
}

function splitZ(output: string): string[] {
  return output.split("\0").filter((entry) => entry !== "");
}

/** Tracked files of the work tree (repository-relative, sorted), for the model's view of the repo. */
export async function listFiles(workspace: TaskWorkspace): Promise<string[]> {
  const result = await git(workspaceTarget(workspace, undefined), ["ls-files", "-z", "--cached"]);
  return splitZ(result.stdout).sort();
}

/** Paths changed in the work tree relative to HEAD, including untracked files that are not ignored. */
export async function changedFiles(workspace: TaskWorkspace): Promise<string[]> {
  const result = await git(workspaceTarget(workspace, undefined), ["status", "--porcelain=v1", "-z", "--untracked-files=all"]);
  const entries = splitZ(result.stdout);
  const files: string[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i] ?? "";
    files.push(entry.slice(3));
    // Renames and copies are followed by their source path.
    if (entry[0] === "R" || entry[0] === "C") i++;
  }
  return files.sort();
}

/** The current commit of the work tree. */
export async function headSha(workspace: TaskWorkspace): Promise<string> {
  const sha = await revParse(workspaceTarget(workspace, undefined), "HEAD");
  if (sha === undefined) throw new GitCommandError("rev-parse", "the work tree has no HEAD commit");
  return sha;
}

const TRAILER_KEYS: Record<keyof CommitTrailers, string> = {
  requirement: "Aura-Requirement",
  task: "Aura-Task",
  employee: "Aura-Employee",
  snapshot: "Aura-Snapshot",
};

/** The commit message with Aura trailers in git's trailer block. */
export function commitMessage(message: string, trailers: CommitTrailers): string {
  const lines = (Object.keys(TRAILER_KEYS) as (keyof CommitTrailers)[]).map((key) => {
    const value = trailers[key].trim();
    if (value === "" || /[\r\n]/.test(value)) throw new RangeError(`trailer ${TRAILER_KEYS[key]} must be one non-empty line`);
    return `${TRAILER_KEYS[key]}: ${value}`;
  });
  return `${message.trim()}\n\n${lines.join("\n")}\n`;
}

/**
 * Stages the task's changes and commits them as the bot with the Aura trailers. Returns created=false (and
 * the current HEAD) when there is nothing to commit.
 */
export async function commitChanges(options: WorkspaceOptions, workspace: TaskWorkspace, input: CommitInput): Promise<CommitResult> {
  const target = workspaceTarget(workspace, undefined, options.identity);
  const text = commitMessage(input.message, input.trailers);
  if (input.paths === undefined) {
    await git(target, ["add", "--all"]);
  } else if (input.paths.length > 0) {
    for (const file of input.paths) checkRelativePath(file);
    await git(target, ["add", "--all", "--", ...input.paths.map((file) => `:(literal)${file}`)]);
  }
  const staged = await git(target, ["diff", "--cached", "--quiet"], { okExitCodes: [1] });
  if (staged.exitCode === 0) return { created: false, sha: await headSha(workspace) };
  await git(target, ["commit", "--quiet", "--no-verify", "--no-gpg-sign", "--cleanup=whitespace", "-m", text]);
  return { created: true, sha: await headSha(workspace) };
}

async function conflictedFiles(target: GitTarget): Promise<string[]> {
  const result = await git(target, ["diff", "--name-only", "-z", "--diff-filter=U"]);
  return splitZ(result.stdout).sort();
}

/** Merges `rev` into the work tree's branch with a merge commit; aborts and throws on conflicts. */
async function mergeInto(
  options: WorkspaceOptions,
  workspace: TaskWorkspace,
  rev: string,
  label: string,
  token: string | undefined,
  trailers?: CommitTrailers,
): Promise<void> {
  const target = workspaceTarget(workspace, token, options.identity);
  const subject = `Merge ${label} into ${workspace.branch}`;
  const message = trailers ? commitMessage(subject, trailers) : subject;
  const result = await git(target, ["merge", "--no-ff", "--no-edit", "--no-verify", "--no-gpg-sign", "--cleanup=whitespace", "-m", message, rev], {
    okExitCodes: [1],
  });
  if (result.exitCode === 0) return;
  const files = await conflictedFiles(target);
  await git(target, ["merge", "--abort"], { okExitCodes: [128] });
  throw new MergeConflictError(workspace.branch, label, files);
}

type PushOutcome = "ok" | "up-to-date" | "behind" | "refused";

function parsePorcelainPush(output: string, ref: string): PushOutcome | undefined {
  for (const line of output.split("\n")) {
    const [flag, refs, summary = ""] = line.split("\t");
    if (refs === undefined || !refs.endsWith(`:${ref}`)) continue;
    if (flag === "=") return "up-to-date";
    if (flag !== "!") return "ok";
    // Only "the remote has commits we lack" is repaired by merging; a server refusal is reported as is.
    return /^\[rejected\] \((non-fast-forward|fetch first)\)/.test(summary) ? "behind" : "refused";
  }
  return undefined;
}

/**
 * THE push: the only function in the app that writes a ref on a remote. It pushes the task's branch to the
 * same name on origin, accepts only `refs/heads/aura/*`, and never forces. When a person has added commits
 * to the branch meanwhile, their work is fetched and merged (never rebased), then pushed again; a conflict
 * throws MergeConflictError.
 */
export async function pushAuraBranch(
  options: WorkspaceOptions,
  workspace: TaskWorkspace,
  auth: { token?: string | undefined },
  maxAttempts = 3,
): Promise<PushResult> {
  assertAuraRef(workspace.ref);
  if (workspace.ref !== `refs/heads/${workspace.branch}`) throw new RefNotAllowedError(workspace.ref);
  const target = workspaceTarget(workspace, auth.token, options.identity);
  let merged = 0;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const refspec = `${workspace.ref}:${workspace.ref}`;
    const result = await runGit(target, ["push", "--porcelain", "--no-verify", "--no-recurse-submodules", "origin", refspec], {
      okExitCodes: [1],
    });
    const outcome = parsePorcelainPush(result.stdout, workspace.ref);
    if (outcome === "ok" || outcome === "up-to-date") {
      return { sha: await headSha(workspace), mergedRemoteChanges: merged, updated: outcome === "ok" };
    }
    if (outcome === undefined || outcome === "refused") throw new GitCommandError("push origin", result.stdout);
    await withCacheLock(workspace.cacheDir, () =>
      fetchRefs(workspace.cacheDir, workspace.source, auth.token, [`+${workspace.ref}:refs/remotes/origin/${workspace.branch}`]),
    );
    await mergeInto(options, workspace, `refs/remotes/origin/${workspace.branch}`, `origin/${workspace.branch}`, auth.token);
    merged++;
  }
  throw new GitCommandError("push origin", `the remote branch kept moving; gave up after ${maxAttempts} attempts`);
}

/**
 * Brings the base branch's new commits into the task branch with a merge commit (issue 7 item 12), so a
 * branch that conflicts with a moved base is repaired without a force-push. A branch that already contains the
 * base is left as it is (merged=false). The merge commit is the bot's, with the Aura trailers when given. Push
 * afterwards with pushAuraBranch. Throws MergeConflictError when the merge conflicts (the merge is aborted,
 * the branch unchanged).
 */
export async function mergeBase(
  options: WorkspaceOptions,
  workspace: TaskWorkspace,
  input: { baseRef?: string; token?: string | undefined; trailers?: CommitTrailers } = {},
): Promise<MergeBaseResult> {
  const baseRef = input.baseRef ?? workspace.baseRef;
  assertBaseRef(baseRef);
  await withCacheLock(workspace.cacheDir, () =>
    fetchRefs(workspace.cacheDir, workspace.source, input.token, [`+refs/heads/${baseRef}:refs/remotes/origin/${baseRef}`]),
  );
  const target = workspaceTarget(workspace, input.token, options.identity);
  const baseSha = await revParse(target, `refs/remotes/origin/${baseRef}`);
  if (baseSha === undefined) throw new GitCommandError("fetch", `base branch ${baseRef} not found on the remote`);
  const contained = await git(target, ["merge-base", "--is-ancestor", baseSha, "HEAD"], { okExitCodes: [1] });
  if (contained.exitCode === 0) return { merged: false, sha: await headSha(workspace), baseSha };
  await mergeInto(options, workspace, baseSha, baseRef, input.token, input.trailers);
  return { merged: true, sha: await headSha(workspace), baseSha };
}
