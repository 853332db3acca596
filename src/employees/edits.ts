// The edit format an employee answers in (whole-file writes, search/replace blocks, deletions) and the
// checks every edit passes BEFORE anything is written: a safe path, inside the task's scope, not a protected
// path, search text that matches exactly once, and size limits per file and per change. One refused edit
// refuses the whole set, so a work tree is never left half-edited; the reasons go back to the employee.
import { lstat } from "node:fs/promises";
import picomatch from "picomatch";
import { z } from "zod";
import type { ProtectedPath, TaskClass } from "../config/policy-files.js";
import { checkRelativePath, resolveInside, safeDeleteFile, safeReadFile, safeWriteFile, UnsafePathError } from "../workspace/index.js";

export const ReplaceBlock = z.object({
  search: z.string().min(1).describe("Exact text of the current file, including whitespace; must occur exactly once"),
  replace: z.string().describe("The text that takes its place"),
});
export type ReplaceBlock = z.infer<typeof ReplaceBlock>;

// One object shape for every kind of edit (no unions): strict structured-output modes accept it everywhere.
export const FileEdit = z.object({
  path: z.string().min(1).describe("Repository-relative path with forward slashes, e.g. src/math.js"),
  kind: z.enum(["write", "replace", "delete"]).describe("write: whole new content; replace: search/replace blocks; delete: remove the file"),
  content: z.string().nullable().describe("For write: the complete new file content. Otherwise null"),
  blocks: z.array(ReplaceBlock).nullable().describe("For replace: the blocks, applied in order. Otherwise null"),
});
export type FileEdit = z.infer<typeof FileEdit>;

export const EditSet = z.object({
  summary: z.string().min(1).max(2000).describe("What you changed and why, in a few sentences"),
  edits: z.array(FileEdit).max(100),
});
export type EditSet = z.infer<typeof EditSet>;

export type EditRules = {
  /** The task's scope globs: every edited path must match one. */
  scope: readonly string[];
  protectedPaths: readonly ProtectedPath[];
  taskClass: TaskClass;
  /** How much an employee may write; no limit when absent. */
  limits?: WriteLimits;
  /** The files earlier edit sets of the same change wrote, with their sizes (see recordChange). */
  change?: ChangeSizes;
};

/** Bytes a model may write: per file (its new content) and per change (what the whole change adds). */
export type WriteLimits = { maxFileBytes: number; maxChangeBytes: number };

/** Each file the change has written: its size in bytes before the change's first edit, and now. */
export type ChangeSizes = ReadonlyMap<string, { before: number; after: number }>;

export type EditRefusal = { path: string; reason: string };

/** A checked change: `content` null deletes the file. `before` is the file's size before the change touched it. */
export type PlannedWrite = { path: string; content: string | null; before?: number };

export type EditPlan = { ok: true; writes: PlannedWrite[] } | { ok: false; refusals: EditRefusal[] };

/** Why a path may not be edited under these rules, or undefined when it may. */
export function pathRefusal(file: string, rules: EditRules): string | undefined {
  let normalised: string;
  try {
    normalised = checkRelativePath(file).join("/");
  } catch (error) {
    if (error instanceof UnsafePathError) return error.message;
    throw error;
  }
  const inScope = rules.scope.some((glob) => picomatch.isMatch(normalised, glob, { dot: true }));
  if (!inScope) return `${normalised} is outside the task's scope (${rules.scope.join(", ")}); edit only files the task covers`;
  const blocked = rules.protectedPaths.find(
    (entry) => !entry.allowTaskClasses.includes(rules.taskClass) && picomatch.isMatch(normalised, entry.glob, { dot: true }),
  );
  if (blocked) return `${normalised} is a protected path (${blocked.glob}: ${blocked.reason}); ${rules.taskClass} tasks may not change it`;
  return undefined;
}

function occurrences(text: string, search: string): number {
  let count = 0;
  for (let at = text.indexOf(search); at !== -1; at = text.indexOf(search, at + 1)) count++;
  return count;
}

/** The current content of a file in the plan: planned state first, then the disk (undefined: no such file). */
async function currentContent(root: string, file: string, planned: Map<string, string | null>): Promise<string | undefined> {
  if (planned.has(file)) return planned.get(file) ?? undefined;
  try {
    return await safeReadFile(root, file, { maxBytes: 4 * 1024 * 1024 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

async function checkOne(root: string, edit: FileEdit, rules: EditRules, planned: Map<string, string | null>): Promise<string | undefined> {
  const refusal = pathRefusal(edit.path, rules);
  if (refusal) return refusal;
  const file = checkRelativePath(edit.path).join("/");
  let existing: string | undefined;
  try {
    // Resolving also refuses symlinks anywhere on the way and anything that escapes the tree.
    await resolveInside(root, file);
    existing = await currentContent(root, file, planned);
  } catch (error) {
    if (error instanceof UnsafePathError) return error.message;
    throw error;
  }
  if (edit.kind === "write") {
    if (edit.content === null) return `${file}: a write needs the complete new content in "content"`;
    planned.set(file, edit.content);
    return undefined;
  }
  if (edit.kind === "delete") {
    if (existing === undefined) return `${file} does not exist, so it cannot be deleted`;
    planned.set(file, null);
    return undefined;
  }
  if (existing === undefined) return `${file} does not exist; use kind "write" with the whole content to create it`;
  if (!edit.blocks || edit.blocks.length === 0) return `${file}: a replace needs at least one search/replace block in "blocks"`;
  let text = existing;
  for (const [index, block] of edit.blocks.entries()) {
    const found = occurrences(text, block.search);
    if (found !== 1) {
      const excerpt = JSON.stringify(block.search.length > 80 ? `${block.search.slice(0, 80)}…` : block.search);
      return found === 0
        ? `${file}: block ${index + 1}'s search text ${excerpt} does not occur in the file; copy it exactly from the current content`
        : `${file}: block ${index + 1}'s search text ${excerpt} occurs ${found} times; include more surrounding lines so it matches exactly once`;
    }
    const at = text.indexOf(block.search);
    text = text.slice(0, at) + block.replace + text.slice(at + block.search.length);
  }
  planned.set(file, text);
  return undefined;
}

/** Checks every edit against the rules and the current files without writing anything. */
export async function planEdits(root: string, editSet: EditSet, rules: EditRules): Promise<EditPlan> {
  if (editSet.edits.length === 0) {
    return { ok: false, refusals: [{ path: "(none)", reason: "the reply contains no edits; the task needs at least one change" }] };
  }
  const planned = new Map<string, string | null>();
  const refusals: EditRefusal[] = [];
  for (const edit of editSet.edits) {
    const reason = await checkOne(root, edit, rules, planned);
    if (reason) refusals.push({ path: edit.path, reason });
  }
  if (refusals.length > 0) return { ok: false, refusals };
  const writes: PlannedWrite[] = [];
  for (const [path, content] of planned) writes.push({ path, content, before: rules.change?.get(path)?.before ?? (await sizeOnDisk(root, path)) });
  const tooLarge = rules.limits ? sizeRefusals(writes, rules.limits, rules.change ?? new Map()) : [];
  if (tooLarge.length > 0) return { ok: false, refusals: tooLarge };
  return { ok: true, writes };
}

async function sizeOnDisk(root: string, file: string): Promise<number> {
  try {
    return (await lstat(await resolveInside(root, file))).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw error;
  }
}

function bytesOf(content: string | null): number {
  return content === null ? 0 : Buffer.byteLength(content, "utf8");
}

/** "1.5 MiB", "512 KiB", "300 bytes". */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Number((bytes / (1024 * 1024)).toFixed(1))} MiB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KiB`;
  return `${bytes} bytes`;
}

/**
 * A file may not end up larger than maxFileBytes unless it already was (editing a large file that exists is
 * allowed as long as it does not grow), and the whole change (this set on top of the earlier ones) may not add
 * more than maxChangeBytes: the sum over its files of how much each grew since the change began.
 */
function sizeRefusals(writes: readonly PlannedWrite[], limits: WriteLimits, change: ChangeSizes): EditRefusal[] {
  const refusals: EditRefusal[] = [];
  const merged = new Map(change);
  for (const write of writes) {
    const after = bytesOf(write.content);
    const before = write.before ?? 0;
    merged.set(write.path, { before, after });
    if (after > limits.maxFileBytes && after > before) {
      refusals.push({
        path: write.path,
        reason: `the new content is ${formatBytes(after)}, over the ${formatBytes(limits.maxFileBytes)} one file may have (AURA_EDIT_MAX_FILE_BYTES); keep large generated or binary data out of the repository, or have a script or test produce it`,
      });
    }
  }
  const added = [...merged.values()].reduce((sum, size) => sum + Math.max(0, size.after - size.before), 0);
  if (refusals.length === 0 && added > limits.maxChangeBytes) {
    refusals.push({
      path: "(the whole change)",
      reason: `together the edits add ${formatBytes(added)}, over the ${formatBytes(limits.maxChangeBytes)} one task's change may add (AURA_EDIT_MAX_CHANGE_BYTES); make a smaller change`,
    });
  }
  return refusals;
}

/** The change's sizes after a checked set was written: each file keeps the size it had before its first edit. */
export function recordChange(change: Map<string, { before: number; after: number }>, writes: readonly PlannedWrite[]): void {
  for (const write of writes) {
    change.set(write.path, { before: change.get(write.path)?.before ?? write.before ?? 0, after: bytesOf(write.content) });
  }
}

/** Writes a checked plan into the tree; returns the paths changed. */
export async function applyEdits(root: string, writes: readonly PlannedWrite[]): Promise<string[]> {
  for (const write of writes) {
    if (write.content === null) await safeDeleteFile(root, write.path);
    else await safeWriteFile(root, write.path, write.content);
  }
  return writes.map((write) => write.path);
}

/** The message telling the employee which edits were refused and why (a re-ask). */
export function refusalMessage(refusals: readonly EditRefusal[]): string {
  return [
    "None of your edits were applied, because these were refused:",
    ...refusals.map((refusal) => `- ${refusal.path}: ${refusal.reason}`),
    "Reply with a corrected EditSet containing all the edits you intend (nothing from the refused reply was kept).",
  ].join("\n");
}
