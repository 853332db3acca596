// Turns a full `git diff` of the local clone into the same ChangedFile shape the REST API gives, for PRs whose
// file list or patches GitHub truncates (the governor never passes blind) and for diff fixtures in tests.
import parseDiff from "parse-diff";
import type { ChangedFile, ChangedFileStatus } from "./pull-types.js";

function stripPrefix(name: string | undefined): string | undefined {
  if (name === undefined || name === "/dev/null") return undefined;
  return name.replace(/^[ab]\//, "");
}

/**
 * Splits a unified diff (`git diff --no-color -M base head`) into changed files with GitHub-style patches
 * (hunks only). Binary files get `patch: undefined`, as GitHub gives them.
 */
export function changedFilesFromUnifiedDiff(diff: string): ChangedFile[] {
  return parseDiff(diff).map((file) => {
    const to = stripPrefix(file.to);
    const from = stripPrefix(file.from);
    const filename = to ?? from;
    if (filename === undefined) throw new Error("diff has a file section without a file name");
    let status: ChangedFileStatus = "modified";
    if (file.new) status = "added";
    else if (file.deleted) status = "removed";
    else if (from !== undefined && from !== filename) status = "renamed";
    let additions = 0;
    let deletions = 0;
    const lines: string[] = [];
    for (const chunk of file.chunks) {
      lines.push(chunk.content);
      for (const change of chunk.changes) {
        lines.push(change.content);
        if (change.content.startsWith("\\")) continue;
        if (change.type === "add") additions++;
        if (change.type === "del") deletions++;
      }
    }
    return {
      filename,
      status,
      additions,
      deletions,
      patch: lines.length > 0 ? lines.join("\n") : undefined,
      previousFilename: status === "renamed" ? from : undefined,
    };
  });
}

/** A changed file as the REST API lists it (`GET /repos/{owner}/{repo}/pulls/{n}/files`, less the blob SHA). */
export function restFileJson(file: ChangedFile) {
  return {
    filename: file.filename,
    status: file.status,
    additions: file.additions,
    deletions: file.deletions,
    changes: file.additions + file.deletions,
    ...(file.patch === undefined ? {} : { patch: file.patch }),
  };
}
