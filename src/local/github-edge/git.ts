// The git side of the GitHub edge: read-only git commands on the repository the edge serves (refs, blobs,
// trees, diffs and logs), run without hooks or any user or system configuration.
import { execFileSync } from "node:child_process";

const gitEnv = {
  PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
  HOME: "/nonexistent",
  LANG: "C",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

export function git(bare: string, ...args: string[]): string {
  return execFileSync("git", args, { cwd: bare, env: gitEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

/** `git` that answers undefined where git fails (an unknown ref or object). */
export function tryGit(bare: string, ...args: string[]): string | undefined {
  try {
    return git(bare, ...args);
  } catch {
    return undefined;
  }
}

/** The commit SHA `ref` names, or undefined if it names none. */
export function resolveCommit(bare: string, ref: string): string | undefined {
  return tryGit(bare, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`)?.trim();
}

/** A blob's bytes, unchanged (binary files included). */
export function readBlob(bare: string, blob: string): Buffer {
  return execFileSync("git", ["cat-file", "blob", blob], { cwd: bare, env: gitEnv });
}
