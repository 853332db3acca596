// Every file the app reads from a work tree (context for a model) or writes into it (a model's edits) goes
// through here. Paths come from models and repositories, so they are treated as hostile: absolute paths,
// `..`, anything under a `.git` directory and symlinks are refused, and the resolved location must stay
// inside the real root.
import { constants as fsConstants } from "node:fs";
import { lstat, mkdir, open, realpath, unlink } from "node:fs/promises";
import path from "node:path";
import { UnsafePathError } from "./errors.js";

function refuse(relPath: string, reason: UnsafePathError["reason"], detail: string): never {
  throw new UnsafePathError(relPath, reason, detail);
}

/** Splits a repository-relative path into checked segments without touching the disk. */
export function checkRelativePath(relPath: string): string[] {
  if (typeof relPath !== "string" || relPath.trim() === "") refuse(String(relPath), "empty", "the path is empty");
  if (relPath.includes("\0")) refuse(relPath, "invalid-character", "the path contains a NUL byte");
  // A backslash is a legal file name character here, but a model using it most likely means a separator.
  if (relPath.includes("\\")) refuse(relPath, "invalid-character", "use forward slashes in repository paths");
  if (path.posix.isAbsolute(relPath) || /^[A-Za-z]:/.test(relPath)) {
    refuse(relPath, "absolute", "paths must be relative to the repository root");
  }
  const segments = relPath.split("/").filter((segment) => segment !== "" && segment !== ".");
  if (segments.length === 0) refuse(relPath, "empty", "the path names the repository root, not a file");
  if (segments.includes("..")) refuse(relPath, "parent-segment", "`..` segments are not allowed");
  if (segments.some((segment) => segment.toLowerCase() === ".git")) {
    refuse(relPath, "git-dir", "git metadata (.git) is never read or written");
  }
  return segments;
}

async function lstatOrUndefined(target: string) {
  try {
    return await lstat(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Resolves `relPath` inside `root` and returns the absolute path. Every existing component is lstat-ed (a
 * symlink anywhere is refused) and the deepest existing ancestor's realpath must lie inside the real root.
 * Components that do not exist yet are allowed, so the result can be used to create a file.
 */
export async function resolveInside(root: string, relPath: string): Promise<string> {
  const segments = checkRelativePath(relPath);
  const realRoot = await realpath(root);
  let current = realRoot;
  for (const [index, segment] of segments.entries()) {
    const next = path.join(current, segment);
    const stats = await lstatOrUndefined(next);
    if (stats === undefined) {
      return path.join(current, ...segments.slice(index));
    }
    if (stats.isSymbolicLink()) {
      refuse(relPath, "symlink", `${segments.slice(0, index + 1).join("/")} is a symbolic link`);
    }
    if (index < segments.length - 1 && !stats.isDirectory()) {
      refuse(relPath, "not-a-directory", `${segments.slice(0, index + 1).join("/")} is not a directory`);
    }
    current = next;
  }
  const resolved = await realpath(current);
  if (resolved !== realRoot && !resolved.startsWith(realRoot + path.sep)) {
    refuse(relPath, "outside-root", "the path resolves outside the work tree");
  }
  return resolved;
}

export type SafeReadOptions = { maxBytes?: number };

/** Reads a regular file inside root as UTF-8. Refuses FIFOs, devices and directories (a FIFO would block). */
export async function safeReadFile(root: string, relPath: string, options: SafeReadOptions = {}): Promise<string> {
  const target = await resolveInside(root, relPath);
  const stats = await lstat(target);
  if (!stats.isFile()) refuse(relPath, "not-a-file", "only regular files can be read");
  const maxBytes = options.maxBytes ?? 1024 * 1024;
  if (stats.size > maxBytes) refuse(relPath, "too-large", `the file has ${stats.size} bytes, the limit is ${maxBytes}`);
  const handle = await open(target, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW | fsConstants.O_NONBLOCK);
  try {
    const opened = await handle.stat();
    if (!opened.isFile() || opened.ino !== stats.ino) refuse(relPath, "not-a-file", "the file changed while it was opened");
    return await handle.readFile({ encoding: "utf8" });
  } finally {
    await handle.close();
  }
}

/** Creates or replaces a regular file inside root, creating missing parent directories. */
export async function safeWriteFile(root: string, relPath: string, content: string | Uint8Array): Promise<void> {
  const target = await resolveInside(root, relPath);
  const existing = await lstatOrUndefined(target);
  if (existing !== undefined && !existing.isFile()) refuse(relPath, "not-a-file", "only regular files can be written");
  await mkdir(path.dirname(target), { recursive: true });
  // Re-check after creating parents, then refuse to follow a link at the last component.
  await resolveInside(root, relPath);
  const handle = await open(target, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_TRUNC | fsConstants.O_NOFOLLOW, 0o644);
  try {
    await handle.writeFile(content);
  } finally {
    await handle.close();
  }
}

/** Deletes a regular file inside root. Missing files are an error: an edit that deletes nothing is wrong. */
export async function safeDeleteFile(root: string, relPath: string): Promise<void> {
  const target = await resolveInside(root, relPath);
  const stats = await lstatOrUndefined(target);
  if (stats === undefined) refuse(relPath, "not-a-file", "the file does not exist");
  if (!stats.isFile()) refuse(relPath, "not-a-file", "only regular files can be deleted");
  await unlink(target);
}
