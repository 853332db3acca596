// The git side of the GitHub edge: read-only git commands on the repository the edge serves (refs, blobs,
// trees, diffs and logs), run without hooks or any user or system configuration.
import { execFileSync } from "node:child_process";
import { readRef } from "./refs.js";

const gitEnv = {
  PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
  HOME: "/nonexistent",
  LANG: "C",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

let processes = 0;

/** How many git processes the edge has run in this process (tests check what reads spare them). */
export function edgeGitProcesses(): number {
  return processes;
}

export function git(bare: string, ...args: string[]): string {
  processes++;
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

/**
 * The commit SHA `ref` names, or undefined if it names none. A branch name is read from the ref files when it
 * can be (src/local/github-edge/refs.ts) and its object's type is asked of git once per SHA; a full SHA that names
 * a commit is answered once; anything else is git's `rev-parse`.
 */
export function resolveCommit(bare: string, ref: string): string | undefined {
  if (FULL_SHA.test(ref) && objectType(bare, ref) === "commit") return ref;
  const named = readRef(bare, ref);
  if (named === null) return undefined;
  if (named !== undefined && objectType(bare, named) === "commit") return named;
  try {
    return gitOnCommits(bare, [ref], "rev-parse", "--verify", "--quiet", `${ref}^{commit}`).trim();
  } catch {
    return undefined;
  }
}

/** The type of the object a full SHA names ("commit", "tree", "blob", "tag"), kept; undefined for a missing one. */
export function objectType(bare: string, sha: string): string | undefined {
  return objectInfo(bare, sha)?.type;
}

const OBJECTS_KEPT = 256;
const objects = new Map<string, { type: string; tree: string | undefined }>();

/**
 * An object's type, and a commit's tree, by full SHA: one `cat-file --batch` (the commit object is a few hundred
 * bytes), kept (a SHA names fixed content). Undefined for a missing object or a SHA that is not a full one.
 */
export function objectInfo(bare: string, sha: string): { type: string; tree: string | undefined } | undefined {
  if (!FULL_SHA.test(sha)) return undefined;
  const key = `${bare}\u0000${sha}`;
  const kept = objects.get(key);
  if (kept) return kept;
  processes++;
  let out: Buffer;
  try {
    out = execFileSync("git", ["cat-file", "--batch"], { cwd: bare, env: gitEnv, input: `${sha}\n`, maxBuffer: 64 * 1024 * 1024 });
  } catch {
    return undefined;
  }
  const headerEnd = out.indexOf(10);
  const [found = "", type = ""] = out.subarray(0, headerEnd).toString("utf8").split(" ");
  // `<sha> missing` is not kept: the object may arrive with a push.
  if (found !== sha || !["commit", "tree", "blob", "tag"].includes(type)) return undefined;
  const tree = type === "commit" ? /^tree ([0-9a-f]{40,64})$/m.exec(out.subarray(headerEnd + 1, headerEnd + 1 + 200).toString("utf8"))?.[1] : undefined;
  const info = { type, tree };
  objects.set(key, info);
  if (objects.size > OBJECTS_KEPT) objects.delete(objects.keys().next().value as string);
  return info;
}

/** What `file` names in a commit (a blob or tree SHA), kept: `commit` is a full SHA. Undefined for a missing path. */
export function pathAt(bare: string, commit: string, file: string): string | undefined {
  try {
    return gitOnCommits(bare, [commit], "rev-parse", "--verify", "--quiet", `${commit}:${file}`).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The commits two refs name (a pull request's head and base); undefined for one that names none. */
export function resolveCommits(bare: string, refs: readonly [string, string]): [string | undefined, string | undefined] {
  if (refs.every((ref) => readRef(bare, ref) !== undefined)) return [resolveCommit(bare, refs[0]), resolveCommit(bare, refs[1])];
  // Refs git must read: both in one process.
  const both = tryGit(bare, "rev-parse", "--quiet", ...refs.map((ref) => `${ref}^{commit}`))
    ?.trim()
    .split("\n");
  if (both?.length === 2 && both.every((sha) => FULL_SHA.test(sha))) return [both[0], both[1]];
  return [resolveCommit(bare, refs[0]), resolveCommit(bare, refs[1])];
}

const FILES_KEPT = 256;
const FILE_BYTES_KEPT = 256 * 1024;
const files = new Map<string, PathObject>();

export type PathObject = { sha: string; type: string; content: Buffer | undefined };

/**
 * What `file` names in `commit` (a full SHA): its object's SHA and type, and a blob's bytes unchanged (binary files
 * included), read in one git process (`cat-file --batch`); undefined for a missing path. Small answers are kept:
 * what a path names in a commit never changes.
 */
export function fileAt(bare: string, commit: string, file: string): PathObject | undefined {
  const key = `${bare}\u0000${commit}\u0000${file}`;
  const kept = files.get(key);
  if (kept) return kept;
  // The batch protocol is a line per object (a carriage return ends one too): such a path is asked of git in two steps.
  if (/[\n\r]/.test(file)) return fileInTwoSteps(bare, commit, file);
  processes++;
  let out: Buffer;
  try {
    out = execFileSync("git", ["cat-file", "--batch"], { cwd: bare, env: gitEnv, input: `${commit}:${file}\n`, maxBuffer: 64 * 1024 * 1024 });
  } catch {
    // The repository unreadable (gone): no such file, as before.
    return undefined;
  }
  const headerEnd = out.indexOf(10);
  const [sha = "", type = "", size = ""] = out.subarray(0, headerEnd).toString("utf8").split(" ");
  if (!FULL_SHA.test(sha) || !/^\d+$/.test(size)) return undefined;
  const answer = { sha, type, content: type === "blob" ? out.subarray(headerEnd + 1, headerEnd + 1 + Number(size)) : undefined };
  if (FULL_SHA.test(commit) && Number(size) <= FILE_BYTES_KEPT) {
    files.set(key, answer);
    if (files.size > FILES_KEPT) files.delete(files.keys().next().value as string);
  }
  return answer;
}

function fileInTwoSteps(bare: string, commit: string, file: string): PathObject | undefined {
  const sha = pathAt(bare, commit, file);
  const type = sha === undefined ? undefined : objectType(bare, sha);
  if (sha === undefined || type === undefined) return undefined;
  processes++;
  return { sha, type, content: type === "blob" ? execFileSync("git", ["cat-file", "blob", sha], { cwd: bare, env: gitEnv }) : undefined };
}
