// The edit format an employee answers in (whole-file writes, search/replace blocks, deletions) and the
// checks every edit passes BEFORE anything is written: a safe path, inside the task's scope, not a protected
// path, and search text that matches exactly once. One refused edit refuses the whole set, so a work tree is
// never left half-edited; the reasons go back to the employee.
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
};

export type EditRefusal = { path: string; reason: string };

/** A checked change: `content` null deletes the file. */
export type PlannedWrite = { path: string; content: string | null };

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
  return { ok: true, writes: [...planned].map(([path, content]) => ({ path, content })) };
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
