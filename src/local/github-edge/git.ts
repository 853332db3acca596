// The git side of the GitHub edge: read-only git commands on the repository the edge serves (refs, blobs,
// trees, diffs and logs), run without hooks or any user or system configuration.
import { execFileSync } from "node:child_process";
import { FULL_SHA, readRef } from "./refs.js";

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

/** The one place the edge starts git: its output as bytes, `input` on its standard input. */
function gitBytes(bare: string, args: readonly string[], input?: string): Buffer {
  processes++;
  return execFileSync("git", args, {
    cwd: bare,
    env: gitEnv,
    ...(input === undefined ? { stdio: ["ignore", "pipe", "pipe"] } : { input }),
    maxBuffer: 64 * 1024 * 1024,
  });
}

export function git(bare: string, ...args: string[]): string {
  return gitBytes(bare, args).toString("utf8");
}

/** Puts `value` in a bounded cache: the oldest entry goes past `limit`. */
function keep<V>(cache: Map<string, V>, key: string, value: V, limit: number): void {
  cache.set(key, value);
  if (cache.size > limit) cache.delete(cache.keys().next().value as string);
}

// Answers of git commands that name only commit SHAs never change, so they are kept: the edge runs git
// synchronously on the app's event loop (local mode serves it in the app's process), and a pull request's JSON
// is read on every request about it and on every check of local mode's watch loop. Bounded, oldest out first.
const FIXED_ANSWERS = 256;
const fixedAnswers = new Map<string, string>();

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
  keep(fixedAnswers, key, answer, FIXED_ANSWERS);
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
  return commitOf(bare, ref, readRef(bare, ref));
}

/** resolveCommit with the ref files' answer for `ref` (readRef's) already read. */
function commitOf(bare: string, ref: string, named: string | null | undefined): string | undefined {
  if (FULL_SHA.test(ref) && objectType(bare, ref) === "commit") return ref;
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

/**
 * One object through `git cat-file --batch` (`spec`: a SHA, or `<commit>:<path>`, on one line): its SHA, type and
 * bytes; undefined when it is missing or the repository cannot be read.
 */
function batchObject(bare: string, spec: string): { sha: string; type: string; bytes: Buffer } | undefined {
  let out: Buffer;
  try {
    out = gitBytes(bare, ["cat-file", "--batch"], `${spec}\n`);
  } catch {
    return undefined;
  }
  const headerEnd = out.indexOf(10);
  const [sha = "", type = "", size = ""] = out.subarray(0, headerEnd).toString("utf8").split(" ");
  // `<spec> missing` (or `ambiguous`) is no object.
  if (!FULL_SHA.test(sha) || !/^\d+$/.test(size)) return undefined;
  return { sha, type, bytes: out.subarray(headerEnd + 1, headerEnd + 1 + Number(size)) };
}

const OBJECTS_KEPT = 256;
const objects = new Map<string, { type: string; tree: string | undefined }>();

/**
 * An object's type, and a commit's tree, by full SHA: one `cat-file --batch` (the commit object is a few hundred
 * bytes), kept (a SHA names fixed content). Undefined for a missing object (not kept: it may arrive with a push)
 * or a SHA that is not a full one.
 */
export function objectInfo(bare: string, sha: string): { type: string; tree: string | undefined } | undefined {
  if (!FULL_SHA.test(sha)) return undefined;
  const key = `${bare}\u0000${sha}`;
  const kept = objects.get(key);
  if (kept) return kept;
  const object = batchObject(bare, sha);
  if (object?.sha !== sha) return undefined;
  const tree = object.type === "commit" ? /^tree ([0-9a-f]{40,64})$/m.exec(object.bytes.subarray(0, 200).toString("utf8"))?.[1] : undefined;
  const info = { type: object.type, tree };
  keep(objects, key, info, OBJECTS_KEPT);
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
  const named = [readRef(bare, refs[0]), readRef(bare, refs[1])] as const;
  if (named.every((answer) => answer !== undefined)) return [commitOf(bare, refs[0], named[0]), commitOf(bare, refs[1], named[1])];
  // Refs git must read: both in one process.
  const both = tryGit(bare, "rev-parse", "--quiet", ...refs.map((ref) => `${ref}^{commit}`))
    ?.trim()
    .split("\n");
  if (both?.length === 2 && both.every((sha) => FULL_SHA.test(sha))) return [both[0], both[1]];
  return [commitOf(bare, refs[0], named[0]), commitOf(bare, refs[1], named[1])];
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
  const object = batchObject(bare, `${commit}:${file}`);
  if (!object) return undefined;
  const answer = { sha: object.sha, type: object.type, content: object.type === "blob" ? object.bytes : undefined };
  if (FULL_SHA.test(commit) && object.bytes.length <= FILE_BYTES_KEPT) keep(files, key, answer, FILES_KEPT);
  return answer;
}

function fileInTwoSteps(bare: string, commit: string, file: string): PathObject | undefined {
  const sha = pathAt(bare, commit, file);
  const type = sha === undefined ? undefined : objectType(bare, sha);
  if (sha === undefined || type === undefined) return undefined;
  return { sha, type, content: type === "blob" ? gitBytes(bare, ["cat-file", "blob", sha]) : undefined };
}
