// Typed failures of the workspace: git, paths and the sandbox. Each carries what a person (or the work loop)
// needs to act, and none ever carries a token: messages pass through `redact` before they are built.

/** A clone source that the configuration does not allow (a local path or file:// without the flag). */
export class CloneSourceNotAllowedError extends Error {
  override name = "CloneSourceNotAllowedError";
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`Clone source refused: ${reason}`);
  }
}

/** A push to anything other than `refs/heads/aura/*`. Agents never write other refs. */
export class RefNotAllowedError extends Error {
  override name = "RefNotAllowedError";
  constructor(readonly ref: string) {
    super(`Push refused: ${JSON.stringify(ref)} is not a branch under refs/heads/aura/; the app only ever pushes its own aura/* branches`);
  }
}

/**
 * Someone else's commits on the branch (or a moved base) cannot be merged without conflicts. The work loop
 * hands the task to the director; nothing was force-pushed and the local merge was aborted.
 */
export class MergeConflictError extends Error {
  override name = "MergeConflictError";
  constructor(
    readonly branch: string,
    readonly other: string,
    readonly conflictedFiles: string[],
  ) {
    super(
      `Merging ${other} into ${branch} conflicts in ${conflictedFiles.length} file(s)` +
        (conflictedFiles.length > 0 ? `: ${conflictedFiles.slice(0, 20).join(", ")}` : "") +
        "; the merge was aborted and nothing was pushed",
    );
  }
}

/** A git command failed. `message` and `stderr` are already redacted. */
export class GitCommandError extends Error {
  override name = "GitCommandError";
  constructor(
    readonly command: string,
    readonly stderr: string,
  ) {
    super(`git ${command} failed: ${stderr.trim().split("\n").slice(-5).join(" | ") || "no output"}`);
  }
}

export type UnsafePathReason =
  "empty" | "absolute" | "parent-segment" | "git-dir" | "symlink" | "outside-root" | "not-a-file" | "not-a-directory" | "invalid-character" | "too-large";

/** A model-supplied (or repo-supplied) path that could escape the work tree or touch git metadata. */
export class UnsafePathError extends Error {
  override name = "UnsafePathError";
  constructor(
    readonly path: string,
    readonly reason: UnsafePathReason,
    detail: string,
  ) {
    super(`Unsafe path ${JSON.stringify(path)}: ${detail}`);
  }
}

/** No working sandbox and AURA_ALLOW_UNSANDBOXED is not set: setup and tests do not run at all. */
export class SandboxUnavailableError extends Error {
  override name = "SandboxUnavailableError";
  constructor(readonly probeError: string) {
    super(
      `No working bubblewrap sandbox (${probeError}); refusing to run repository commands. ` +
        "Install bubblewrap (apt-get install bubblewrap) and allow unprivileged user namespaces, " +
        "or set AURA_ALLOW_UNSANDBOXED=true to run them as plain processes (every PR will say so)",
    );
  }
}

/** Which part of a sandbox run's setup failed: bubblewrap or the host's plumbing, the uid pool, or the teardown. */
export type SandboxStartFailure = "setup" | "uid-pool" | "teardown";

/**
 * The sandbox itself could not be set up or torn down (as opposed to the command inside it failing): an
 * infrastructure failure. It is never a test result or a strike against an employee; the job that met it fails
 * and is retried.
 */
export class SandboxStartError extends Error {
  override name = "SandboxStartError";
  constructor(
    message: string,
    readonly failure: SandboxStartFailure = "setup",
  ) {
    super(message);
  }
}
