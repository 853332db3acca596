// Reading a ref the way git does, without a git process: the edge resolves a pull request's branches on every
// request about it, on the app's event loop, and each `git rev-parse` there cost ~5 ms of a blocked loop (most
// of it the fork of the app's large process). Only the plain files backend is read (a loose ref file, else
// packed-refs, symbolic refs followed); anything else (a reftable repository, a linked work tree's `.git` file,
// a name that could be an abbreviated SHA or that git would reject, a ref file with unexpected content) answers
// `undefined` and the caller asks git, so this never answers differently from git, only sooner.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";

/** A full object name: SHA-1, or SHA-256. */
export const FULL_SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
/** A name git could also read as an object name (either case): git decides those. */
const HEXISH = /^[0-9a-f]{4,64}$/i;
/** Names the edge reads itself: git's ref-name rules, narrowed (no `@{`, no `..`, no control or special characters). */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const MAX_SYMREF_DEPTH = 5;

/** "Not decided here": the caller asks git. */
const ASK_GIT = undefined;
/** "No such ref" in the files backend. */
const NO_REF = null;

type Answer = string | typeof NO_REF | typeof ASK_GIT;

const gitDirs = new Map<string, string | undefined>();

/** The git dir of `repo` (a bare repository, or a work tree with a `.git` directory), if its refs are plain files. */
function filesGitDir(repo: string): string | undefined {
  if (gitDirs.has(repo)) return gitDirs.get(repo);
  const isDir = (file: string) => statSync(file, { throwIfNoEntry: false })?.isDirectory() === true;
  const dotGit = path.join(repo, ".git");
  const dir = isDir(dotGit) ? dotGit : isDir(path.join(repo, "refs")) && isDir(path.join(repo, "objects")) ? repo : undefined;
  // A reftable repository keeps no ref files (git 2.45+); its `refs/heads` is a stub git ignores.
  const answer = dir !== undefined && !isDir(path.join(dir, "reftable")) ? dir : undefined;
  gitDirs.set(repo, answer);
  return answer;
}

function validName(name: string): boolean {
  if (!PLAIN_NAME.test(name) || name.includes("..") || name.includes("//") || name.endsWith("/") || name.endsWith(".")) return false;
  return name.split("/").every((part) => part !== "" && !part.startsWith(".") && !part.endsWith(".lock"));
}

/** packed-refs as name → SHA, re-read whenever the file changes (git rewrites it by rename). */
let packedCache: { file: string; mtimeMs: number; size: number; ino: number; refs: Map<string, string> } | undefined;

function packedRefs(gitDir: string): Map<string, string> | undefined {
  const file = path.join(gitDir, "packed-refs");
  const stats = statSync(file, { throwIfNoEntry: false });
  if (!stats) return new Map();
  const cached = packedCache;
  if (cached?.file === file && cached.mtimeMs === stats.mtimeMs && cached.size === stats.size && cached.ino === stats.ino) return cached.refs;
  const refs = new Map<string, string>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (line === "" || line.startsWith("#") || line.startsWith("^")) continue;
    const [sha, name, extra] = line.split(" ");
    if (sha === undefined || name === undefined || extra !== undefined || !FULL_SHA.test(sha)) return ASK_GIT;
    refs.set(name, sha);
  }
  packedCache = { file, mtimeMs: stats.mtimeMs, size: stats.size, ino: stats.ino, refs };
  return refs;
}

/** One full ref name in the files backend: its SHA, NO_REF, or ASK_GIT. */
function readFullRef(gitDir: string, name: string, depth: number): Answer {
  if (depth > MAX_SYMREF_DEPTH) return ASK_GIT;
  let text: string | undefined;
  try {
    text = readFileSync(path.join(gitDir, name), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A directory of that name (refs/heads/aura when refs/heads/aura/1-fix exists) is no loose ref either.
    if (code !== "ENOENT" && code !== "EISDIR" && code !== "ENOTDIR") return ASK_GIT;
  }
  if (text === undefined) {
    const packed = packedRefs(gitDir);
    return packed === ASK_GIT ? ASK_GIT : (packed.get(name) ?? NO_REF);
  }
  const line = text.trimEnd();
  if (FULL_SHA.test(line)) return line;
  const target = /^ref: (\S+)$/.exec(line)?.[1];
  if (target !== undefined && validName(target)) return readFullRef(gitDir, target, depth + 1);
  return ASK_GIT;
}

/**
 * The object `ref` names in `repo`'s ref files, by git's rules for a name (`x`, `refs/x`, `refs/tags/x`,
 * `refs/heads/x`, `refs/remotes/x`, `refs/remotes/x/HEAD`, the first that exists): a SHA, `null` when no ref
 * under `refs/` of that name exists, `undefined` when git must decide (see the top of this file; a short name
 * that names no ref is one). The SHA is not checked here:
 * it may name a tag or a missing object.
 */
export function readRef(repo: string, ref: string): string | null | undefined {
  if (FULL_SHA.test(ref) || HEXISH.test(ref) || !validName(ref)) return ASK_GIT;
  const gitDir = filesGitDir(repo);
  if (gitDir === undefined) return ASK_GIT;
  for (const name of [ref, `refs/${ref}`, `refs/tags/${ref}`, `refs/heads/${ref}`, `refs/remotes/${ref}`, `refs/remotes/${ref}/HEAD`]) {
    // git reads a name outside refs/ only when it is all capitals (HEAD, FETCH_HEAD), at the git dir's root.
    if (!name.startsWith("refs/") && !/^[A-Z_]+$/.test(name)) continue;
    const answer = readFullRef(gitDir, name, 0);
    if (answer !== NO_REF) return answer;
  }
  // No ref of that name. Under refs/ that is git's answer too; a short name git may still read otherwise (the
  // output of `git describe`, `HEAD@{…}`-like forms it accepts), so git decides.
  return ref.startsWith("refs/") ? NO_REF : ASK_GIT;
}
