// The repository `aura eval mine` reads: found from a path (a work tree, a linked worktree or a bare
// repository), read only through the hardened git runner, and never written. Its test command comes from
// `.github/aura.yml` at HEAD (as the app reads it), else the npm default when package.json has a test script.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseRepoConfig, REPO_CONFIG_PATH, RepoConfigError } from "../config/repo-config.js";
import { git, type GitTarget } from "../workspace/index.js";
import { EvalInputError } from "./errors.js";

export type MinedRepository = { root: string; name: string; target: GitTarget; head: string };

/** npm's placeholder from `npm init`: a test script that only fails. */
const NPM_PLACEHOLDER = /no test specified/;

function gitDirOf(root: string): string | undefined {
  const dotGit = path.join(root, ".git");
  if (existsSync(dotGit)) {
    if (statSync(dotGit).isDirectory()) return dotGit;
    const pointer = readFileSync(dotGit, "utf8").match(/^gitdir:\s*(.+)$/m)?.[1];
    return pointer === undefined ? undefined : path.resolve(root, pointer.trim());
  }
  return existsSync(path.join(root, "HEAD")) && existsSync(path.join(root, "objects")) ? root : undefined;
}

/** The repository at `repoPath`, or EvalInputError saying why it cannot be mined. */
export async function openRepository(repoPath: string): Promise<MinedRepository> {
  const root = path.resolve(repoPath);
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new EvalInputError(`${repoPath} is not a directory. Give the path of a git repository.`);
  const gitDir = gitDirOf(root);
  const notRepo = `${repoPath} is not a git repository (no .git found there). Give the path of a repository's top folder.`;
  if (gitDir === undefined) throw new EvalInputError(notRepo);
  const target: GitTarget = { gitDir, protocols: [] };
  const verified = await git(target, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], { okExitCodes: [1, 128] }).catch(() => undefined);
  if (verified === undefined) throw new EvalInputError(notRepo);
  if (verified.exitCode !== 0) throw new EvalInputError(`${repoPath} has no commits yet: there is no history to mine.`);
  return { root, name: path.basename(root).replace(/\.git$/, ""), target, head: verified.stdout.trim() };
}

async function fileAtHead(repo: MinedRepository, file: string): Promise<string | undefined> {
  const result = await git(repo.target, ["show", `HEAD:${file}`], { okExitCodes: [128] });
  return result.exitCode === 0 ? result.stdout : undefined;
}

/** From `.github/aura.yml`, or npm's defaults, taken from each checked-out tree as the app does (defaultRepoCommands). */
export type TestCommands = { source: typeof REPO_CONFIG_PATH; setup: string | undefined; test: string } | { source: "package.json" };

/** The setup and test commands mining runs, or EvalInputError when the repository names no test command. */
export async function testCommandsOf(repo: MinedRepository): Promise<TestCommands> {
  const yamlText = await fileAtHead(repo, REPO_CONFIG_PATH);
  if (yamlText !== undefined) {
    let config;
    try {
      config = parseRepoConfig(yamlText);
    } catch (error) {
      if (error instanceof RepoConfigError) throw new EvalInputError(`At HEAD, ${error.message}`);
      throw error;
    }
    if (config.test !== null) return { source: REPO_CONFIG_PATH, setup: config.setup ?? undefined, test: config.test };
  }
  const manifest = await fileAtHead(repo, "package.json");
  const script = manifest === undefined ? undefined : testScriptOf(manifest);
  if (script !== undefined && !NPM_PLACEHOLDER.test(script)) {
    return { source: "package.json" };
  }
  throw new EvalInputError(
    `${repo.root} has no test command at HEAD: set \`test:\` in ${REPO_CONFIG_PATH} (and \`setup:\` if the tests need one), or add a "test" script to package.json. Nothing was run.`,
  );
}

function testScriptOf(manifest: string): string | undefined {
  try {
    const parsed = JSON.parse(manifest) as { scripts?: { test?: unknown } };
    return typeof parsed.scripts?.test === "string" ? parsed.scripts.test : undefined;
  } catch {
    return undefined;
  }
}
