// The cheap first pass of mining: one `git log --first-parent --name-status` over the history, newest first,
// and a verdict per commit from its paths alone: a candidate changes tests (added or modified) and source
// together. No process runs per commit, so thousands of commits are examined in well under a second; only the
// candidates go on to the sandbox. A merge on the first-parent line counts with its diff against that parent.
import { git, type GitTarget } from "../workspace/index.js";
import { pathKind } from "./test-paths.js";

export type ChangedPath = { status: string; path: string };

export type HistoryCommit = { sha: string; parent: string | undefined; committedAt: Date; files: ChangedPath[] };

export type Candidate = { sha: string; parent: string; committedAt: Date; testFiles: string[]; otherFiles: string[] };

/** Why a commit is not a candidate (counted in the summary). */
export type SkipReason = "root commit" | "no test change" | "tests only, no source change" | "before --since";

export type HistoryScan = { examined: number; candidates: Candidate[]; skipped: Record<SkipReason, number> };

const RECORD = "\x1e";
const HEADER_END = "\x1f";

/** Parses `git log -z --name-status --format=%x1e%H %P%x1f%ct` output. */
export function parseLog(output: string): HistoryCommit[] {
  const commits: HistoryCommit[] = [];
  for (const record of output.split(RECORD)) {
    if (record === "") continue;
    const tokens = record.split("\0");
    const [ids = "", time = "0"] = (tokens[0] ?? "").split(HEADER_END);
    const [sha = "", parent] = ids.split(" ");
    const files: ChangedPath[] = [];
    for (let i = 1; i + 1 < tokens.length; i += 2) {
      const status = (tokens[i] ?? "").replace(/^\n+/, "");
      if (status === "") break;
      files.push({ status, path: tokens[i + 1] ?? "" });
    }
    commits.push({ sha, parent: parent === "" ? undefined : parent, committedAt: new Date(Number(time) * 1000), files });
  }
  return commits;
}

/** A commit's verdict from its paths: a candidate, or why not. */
export function classifyCommit(commit: HistoryCommit): Candidate | SkipReason {
  if (commit.parent === undefined) return "root commit";
  const testFiles = commit.files.filter((file) => pathKind(file.path) === "test");
  if (!testFiles.some((file) => file.status !== "D")) return "no test change";
  const otherFiles = commit.files.filter((file) => pathKind(file.path) !== "test");
  if (!otherFiles.some((file) => pathKind(file.path) === "source")) return "tests only, no source change";
  return {
    sha: commit.sha,
    parent: commit.parent,
    committedAt: commit.committedAt,
    testFiles: testFiles.map((file) => file.path),
    otherFiles: otherFiles.map((file) => file.path),
  };
}

/** Walks the first-parent history from HEAD, newest first, and keeps the candidates committed at or after `since`. */
export async function scanHistory(repo: GitTarget, options: { since?: Date | undefined } = {}): Promise<HistoryScan> {
  const { stdout } = await git(repo, [
    "log",
    "--first-parent",
    "--no-renames",
    "--no-color",
    "-z",
    "--name-status",
    `--format=${RECORD}%H %P${HEADER_END}%ct`,
    "HEAD",
  ]);
  const skipped: Record<SkipReason, number> = { "root commit": 0, "no test change": 0, "tests only, no source change": 0, "before --since": 0 };
  const candidates: Candidate[] = [];
  let examined = 0;
  for (const commit of parseLog(stdout)) {
    if (options.since !== undefined && commit.committedAt < options.since) {
      skipped["before --since"]++;
      continue;
    }
    examined++;
    const verdict = classifyCommit(commit);
    if (typeof verdict === "string") skipped[verdict]++;
    else candidates.push(verdict);
  }
  return { examined, candidates, skipped };
}
