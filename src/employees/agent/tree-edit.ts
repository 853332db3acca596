// The agent's writing tools: exact-once search/replace, create (or replace) a file, delete a file. Each one is
// one EditSet through planEdits/applyEdits, so the same checks hold as for the single-shot employee: a safe
// path, inside the task's scope, not protected, search text found exactly once, size limits. A path outside
// the scope is refused with the reason and a pointer to request_scope; a search that does not match once is
// an error that says how often it matched and where.
import { applyEdits, formatBytes, pathRefusal, planEdits, recordChange, type EditRules, type FileEdit } from "../edits.js";
import { checkRelativePath, resolveInside, safeReadFile } from "../../workspace/index.js";
import { cutLine } from "./observation.js";
import { unsafePathObservation, type Step } from "./tree-read.js";

/** What the toolbox has written so far: each path's final content (null: deleted) and the change's sizes. */
export type WrittenState = {
  writes: Map<string, string | null>;
  sizes: Map<string, { before: number; after: number }>;
};

export type EditRequest =
  { kind: "replace"; path: string; search: string; replace: string } | { kind: "write"; path: string; content: string } | { kind: "delete"; path: string };

/** Checks one edit against the rules, writes it when it passes, and says what happened. */
export async function editTool(root: string, request: EditRequest, rules: EditRules, state: WrittenState): Promise<Step> {
  const outside = pathRefusal(request.path, rules);
  if (outside !== undefined) return refusal(outside);
  let file: string;
  let existing: string | undefined;
  try {
    file = checkRelativePath(request.path).join("/");
    await resolveInside(root, file);
    existing = await readIfPresent(root, file);
  } catch (error) {
    const unsafe = unsafePathObservation(error);
    if (unsafe) return unsafe;
    throw error;
  }
  const edit: FileEdit = {
    path: file,
    kind: request.kind,
    content: request.kind === "write" ? request.content : null,
    blocks: request.kind === "replace" ? [{ search: request.search, replace: request.replace }] : null,
  };
  const plan = await planEdits(root, { summary: `${request.kind} ${file}`, edits: [edit] }, { ...rules, change: state.sizes });
  if (!plan.ok) {
    const reasons = plan.refusals.map((entry) => entry.reason);
    // Size limits are the rules saying no; a search that does not match or a missing file is the model's mistake.
    const bySize = reasons.some((reason) => /AURA_EDIT_MAX_/.test(reason));
    const detail = request.kind === "replace" && existing !== undefined ? matchLines(existing, request.search) : "";
    return { status: bySize ? "refused" : "error", observation: `Not applied: ${reasons.join("; ")}${detail}` };
  }
  await applyEdits(root, plan.writes);
  recordChange(state.sizes, plan.writes);
  for (const write of plan.writes) state.writes.set(write.path, write.content);
  return { status: "ok", observation: describeEdit(request, file, existing, plan.writes[0]?.content ?? null), changed: [file] };
}

function refusal(reason: string): Step {
  const hint = /outside the task's scope/.test(reason)
    ? " If the task really needs this file, call request_scope with the path and the reason; otherwise change files inside the scope."
    : "";
  return { status: "refused", observation: `Refused: ${reason}.${hint}` };
}

async function readIfPresent(root: string, file: string): Promise<string | undefined> {
  try {
    return await safeReadFile(root, file, { maxBytes: 4 * 1024 * 1024 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    if (unsafePathObservation(error)) return undefined;
    throw error;
  }
}

/** Where a search text occurs (when more than once), so the model can pick the one it means. */
function matchLines(text: string, search: string): string {
  const lines: number[] = [];
  for (let at = text.indexOf(search); at !== -1 && lines.length < 20; at = text.indexOf(search, at + 1)) {
    lines.push(text.slice(0, at).split("\n").length);
  }
  if (lines.length < 2) return lines.length === 0 ? ". Read the file again and copy the text exactly, whitespace included." : "";
  return ` (at lines ${lines.join(", ")})`;
}

/** What the model sees after an edit: what changed and the new text around it, numbered like read_file. */
function describeEdit(request: EditRequest, file: string, before: string | undefined, after: string | null): string {
  if (request.kind === "delete") return `Deleted ${file}.`;
  if (after === null) return `Wrote ${file}.`;
  const lines = after.split("\n").length - (after.endsWith("\n") ? 1 : 0);
  if (request.kind === "write") {
    return `${before === undefined ? "Created" : "Replaced the whole of"} ${file} (${lines} lines, ${formatBytes(Buffer.byteLength(after))}).`;
  }
  // The text before the replaced occurrence is unchanged, so its position in the old file is its position now.
  const at = before?.indexOf(request.search) ?? 0;
  const first = after.slice(0, Math.max(0, at)).split("\n").length;
  const last = first + request.replace.split("\n").length - 1;
  const all = after.split("\n");
  const from = Math.max(1, first - 2);
  const to = Math.min(all.length, last + 2, from + 40);
  const width = String(to).length;
  const excerpt = all.slice(from - 1, to).map((line, index) => `${String(from + index).padStart(width)}\t${cutLine(line, 300)}`);
  return `Edited ${file}: replaced 1 occurrence; the file has ${lines} lines. Lines ${from}-${to} now:\n${excerpt.join("\n")}`;
}
