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

// Answers of git commands that name only commit SHAs never change, so they are kept: the edge runs git
// synchronously on the app's event loop (local mode serves it in the app's process), and a pull request's JSON
// is read on every request about it and on every check of local mode's watch loop. Bounded, oldest out first.
const FIXED_ANSWERS = 256;
const fixedAnswers = new Map<string, string>();
const FULL_SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/**
 * `git` for a command whose answer depends only on the objects it names (`merge-base A B`, `diff A B`,
 * `rev-list --count A..B`, what a path names in a commit, a tree listing): `commits` must be full SHAs, so the
 * answer is the same every time and is kept. Anything else (a ref, an abbreviation) runs git each time, as `git`
 * does; a failure is never kept.
 */
export function gitOnCommits(bare: string, commits: readonly string[], ...args: string[]): string {
  if (commits.length === 0 || !commits.every((sha) => FULL_SHA.test(sha))) return git(bare, ...args);
  const key = `${bare}\u0000${args.join("\u0000")}`;
  const kept = fixedAnswers.get(key);
  if (kept !== undefined) return kept;
  const answer = git(bare, ...args);
  fixedAnswers.set(key, answer);
  if (fixedAnswers.size > FIXED_ANSWERS) fixedAnswers.delete(fixedAnswers.keys().next().value as string);
  return answer;
}

/** `git` that answers undefined where git fails (an unknown ref or object). */
export function tryGit(bare: string, ...args: string[]): string | undefined {
  try {
    return git(bare, ...args);
  } catch {
    return undefined;
  }
}

/** The commit SHA `ref` names, or undefined if it names none; a full SHA that names a commit is answered once. */
export function resolveCommit(bare: string, ref: string): string | undefined {
  try {
    return gitOnCommits(bare, [ref], "rev-parse", "--verify", "--quiet", `${ref}^{commit}`).trim();
  } catch {
    return undefined;
  }
}

/** The commits two refs name, in one git process (a pull request's head and base); undefined for one that names none. */
export function resolveCommits(bare: string, refs: readonly [string, string]): [string | undefined, string | undefined] {
  const both = tryGit(bare, "rev-parse", "--quiet", ...refs.map((ref) => `${ref}^{commit}`))
    ?.trim()
    .split("\n");
  if (both?.length === 2 && both.every((sha) => FULL_SHA.test(sha))) return [both[0], both[1]];
  return [resolveCommit(bare, refs[0]), resolveCommit(bare, refs[1])];
}

const BLOBS_KEPT = 256;
const BLOB_BYTES_KEPT = 256 * 1024;
const blobs = new Map<string, Buffer>();

/** A blob's bytes, unchanged (binary files included); small blobs are kept (a blob SHA names fixed bytes). */
export function readBlob(bare: string, blob: string): Buffer {
  const key = `${bare}\u0000${blob}`;
  const kept = FULL_SHA.test(blob) ? blobs.get(key) : undefined;
  if (kept) return kept;
  const bytes = execFileSync("git", ["cat-file", "blob", blob], { cwd: bare, env: gitEnv });
  if (FULL_SHA.test(blob) && bytes.length <= BLOB_BYTES_KEPT) {
    blobs.set(key, bytes);
    if (blobs.size > BLOBS_KEPT) blobs.delete(blobs.keys().next().value as string);
  }
  return bytes;
}
