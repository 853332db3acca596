// Reads the hunks of a file's patch (GitHub's `patch` field, or one file of a local diff) into added and removed
// lines with their line numbers, so every finding can point at the exact line a reviewer sees.
//
// This is a small hunk reader rather than parse-diff: GitHub's patch field is hunks only (no file headers), and
// at 3,000 files and 100,000 lines per evaluation parse-diff's per-line regex matching took most of the
// governor's time budget. Full multi-file diffs still go through parse-diff (local-diff.ts).

export interface PatchLine {
  /** New-file line number for added lines, old-file line number for removed lines. */
  line: number;
  /** The line's text without the leading `+` or `-`. */
  text: string;
}

export interface ParsedPatch {
  added: PatchLine[];
  removed: PatchLine[];
}

const HUNK_HEADER = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

const PLUS = 43;
const MINUS = 45;
const SPACE = 32;
const BACKSLASH = 92;

/**
 * Parses one file's hunks. Lines are read by the counts in each `@@` header, so content such as `+++ x` or
 * `--- y` inside a hunk is a line like any other; "\ No newline at end of file" markers are not lines.
 */
export function parsePatch(patch: string): ParsedPatch {
  const added: PatchLine[] = [];
  const removed: PatchLine[] = [];
  let oldLine = 0;
  let newLine = 0;
  let oldLeft = 0;
  let newLeft = 0;
  let start = 0;
  const length = patch.length;
  while (start <= length) {
    let end = patch.indexOf("\n", start);
    if (end === -1) end = length;
    let stop = end;
    if (stop > start && patch.charCodeAt(stop - 1) === 13) stop--; // CRLF
    const first = stop > start ? patch.charCodeAt(start) : -1;
    if (oldLeft > 0 || newLeft > 0) {
      if (first === PLUS) {
        added.push({ line: newLine++, text: patch.slice(start + 1, stop) });
        newLeft--;
      } else if (first === MINUS) {
        removed.push({ line: oldLine++, text: patch.slice(start + 1, stop) });
        oldLeft--;
      } else if (first === SPACE || first === -1) {
        // An empty line inside a hunk is a context line whose trailing space was stripped.
        oldLine++;
        newLine++;
        oldLeft--;
        newLeft--;
      } else if (first !== BACKSLASH) {
        oldLeft = 0;
        newLeft = 0;
      }
    }
    if (oldLeft <= 0 && newLeft <= 0 && first === 64 /* @ */) {
      const header = HUNK_HEADER.exec(patch.slice(start, stop));
      if (header) {
        oldLine = Number(header[1]);
        oldLeft = header[2] === undefined ? 1 : Number(header[2]);
        newLine = Number(header[3]);
        newLeft = header[4] === undefined ? 1 : Number(header[4]);
      }
    }
    start = end + 1;
  }
  return { added, removed };
}
