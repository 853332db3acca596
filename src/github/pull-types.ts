// A pull request's changed files and commits as plain data, in the shape GitHub's REST API lists them. Read from
// GitHub (src/github/pull.ts) or from a local diff (src/github/local-diff.ts); the governor's PullContext carries them.

/** GitHub's file status values from `GET /repos/{owner}/{repo}/pulls/{n}/files`. */
export type ChangedFileStatus = "added" | "removed" | "modified" | "renamed" | "copied" | "changed" | "unchanged";

export interface ChangedFile {
  filename: string;
  status: ChangedFileStatus;
  additions: number;
  deletions: number;
  /** The unified-diff hunks (no file headers). GitHub omits it for binary and very large diffs. */
  patch: string | undefined;
  /** Set for renames and copies. */
  previousFilename?: string | undefined;
}

export interface PullCommit {
  sha: string;
  /** The GitHub account GitHub linked to the author email; undefined when GitHub linked none. */
  authorLogin: string | undefined;
  authorEmail: string | undefined;
  committerLogin: string | undefined;
  message: string;
  /** Git trailers parsed from the message, e.g. `{ "Aura-Task": "T-12" }`. */
  trailers: Readonly<Record<string, string>>;
  /** GitHub's signature verification (`commit.verification.verified`), when known. */
  verified?: boolean | undefined;
}
