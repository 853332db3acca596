// What local mode needs to know about the user's repository before anything starts, read without changing it:
// that it is a git work tree with a commit on a checked-out branch, whether the working tree has uncommitted
// changes (the run works from the committed HEAD and leaves them alone), and the test command the app will run
// (`.github/aura.yml` at HEAD, else an npm project's test script). Each refusal is a LocalRunInputError.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { realpathSync, statSync } from "node:fs";
import path from "node:path";
import { parseRepoConfig, REPO_CONFIG_PATH, RepoConfigError, type RepoConfig } from "../config/repo-config.js";
import type { PolicySet } from "../config/policy-files.js";

/** Input local mode refuses before changing anything; the message says what to do. */
export class LocalRunInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LocalRunInputError";
  }
}

export type LocalRepository = {
  /** The work tree's top directory (real path). */
  root: string;
  /** The repository's git directory shared by its work trees (real path): local mode's data lives under it. */
  gitDir: string;
  /** The checked-out branch: the base of every pull request of the run. */
  branch: string;
  head: string;
  /** `local/<directory>-<hash of the path>`: the repository's full name on the local edge. */
  owner: string;
  name: string;
  /** Uncommitted changes and untracked files (`git status --porcelain`), left untouched by the run. */
  dirty: string[];
  config: RepoConfig;
  testCommand: string;
};

const gitEnv = { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin", LANG: "C", GIT_CONFIG_NOSYSTEM: "1", HOME: process.env.HOME ?? "/nonexistent" };

function git(cwd: string, ...args: string[]): string | undefined {
  try {
    return execFileSync("git", args, { cwd, env: gitEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 * 1024 * 1024 });
  } catch {
    return undefined;
  }
}

/** The npm test script when package.json at HEAD has one that is not npm init's placeholder. */
function npmTestCommand(root: string): string | undefined {
  const text = git(root, "show", `HEAD:package.json`);
  if (text === undefined) return undefined;
  try {
    const script = (JSON.parse(text) as { scripts?: { test?: unknown } }).scripts?.test;
    if (typeof script !== "string" || script.trim() === "" || /no test specified/.test(script)) return undefined;
    return "npm test";
  } catch {
    return undefined;
  }
}

export function inspectRepository(input: string, policies: PolicySet): LocalRepository {
  const resolved = path.resolve(input);
  let isDirectory = false;
  try {
    isDirectory = statSync(resolved).isDirectory();
  } catch {
    // reported below
  }
  if (!isDirectory) throw new LocalRunInputError(`${resolved} is not a directory. Give the path of a git repository's working tree.`);
  // One git process for the usual case (top level, git dir, HEAD's commit and branch); the steps one by one only
  // to say what is missing.
  const [top, commonDir, commit, symbolic] =
    git(resolved, "rev-parse", "--show-toplevel", "--git-common-dir", "HEAD^{commit}", "--symbolic-full-name", "HEAD")?.split("\n") ?? [];
  if (top && commonDir && commit && symbolic?.startsWith("refs/heads/")) {
    const found = { root: top, gitDir: realpathSync(path.resolve(resolved, commonDir)), head: commit, branch: symbolic.slice("refs/heads/".length) };
    return describeRepository(found, policies);
  }
  const root = git(resolved, "rev-parse", "--show-toplevel")?.trim();
  if (!root) {
    throw new LocalRunInputError(
      `${resolved} is not a git repository (or is a bare one). Give the path of a checkout, or run \`git init\` there and commit your project first.`,
    );
  }
  const gitDir = realpathSync(path.resolve(root, git(root, "rev-parse", "--git-common-dir")?.trim() ?? ".git"));
  const head = git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")?.trim();
  if (!head) throw new LocalRunInputError(`${root} has no commits yet. Commit your project (git add -A && git commit -m "…"), then run again.`);
  const branch = git(root, "symbolic-ref", "--quiet", "--short", "HEAD")?.trim();
  if (!branch) {
    throw new LocalRunInputError(
      `${root} has no branch checked out (detached HEAD at ${head.slice(0, 12)}). Check out the branch the work should be based on, then run again.`,
    );
  }
  return describeRepository({ root, gitDir, head, branch }, policies);
}

/** The rest of the repository's description: its config and test command at HEAD, its uncommitted changes, its name. */
function describeRepository(
  { root, gitDir, head, branch }: { root: string; gitDir: string; head: string; branch: string },
  policies: PolicySet,
): LocalRepository {
  const configText = git(root, "show", `HEAD:${REPO_CONFIG_PATH}`);
  let config: RepoConfig;
  try {
    config = parseRepoConfig(configText, { appBudgets: policies.budgets, registry: policies.employees });
  } catch (error) {
    if (error instanceof RepoConfigError) throw new LocalRunInputError(`${REPO_CONFIG_PATH} at ${branch} is invalid:\n${error.message}`);
    throw error;
  }
  const testCommand = config.test ?? npmTestCommand(root);
  if (!testCommand) {
    throw new LocalRunInputError(
      `${root} has no test command: neither \`test:\` in ${REPO_CONFIG_PATH} nor a \`test\` script in package.json at ${branch}. ` +
        `Add one (e.g. \`test: make test\` in ${REPO_CONFIG_PATH}) and commit it: the Auditor judges the work by running it.`,
    );
  }
  const dirty = (git(root, "status", "--porcelain", "--untracked-files=all") ?? "").split("\n").filter((line) => line.trim() !== "");
  const base =
    path
      .basename(root)
      .replace(/[^A-Za-z0-9._-]/g, "-")
      .replace(/^[.-]+/, "") || "repo";
  const name = `${base.slice(0, 80)}-${createHash("sha256").update(root).digest("hex").slice(0, 8)}`;
  return { root, gitDir, branch, head, owner: "local", name, dirty, config, testCommand };
}
