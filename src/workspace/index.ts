// The workspace's public surface: hardened git for task branches, path-safe file access, and the sandbox
// runner for setup and test commands. Other roles import from here.
export { resolveCloneSource, type CloneSource, type CloneSourceInput } from "./clone-source.js";
export {
  CloneSourceNotAllowedError,
  GitCommandError,
  MergeConflictError,
  RefNotAllowedError,
  SandboxStartError,
  SandboxUnavailableError,
  UnsafePathError,
  type UnsafePathReason,
} from "./errors.js";
export { git, type GitIdentity, type GitProtocol, type GitResult, type GitTarget } from "./git.js";
export { OutputCapture, type CapturedOutput } from "./output-capture.js";
export { redact, REDACTED } from "./redact.js";
export { assertAuraRef, isAuraRef } from "./refs.js";
export { defaultRepoCommands, type RepoCommands } from "./repo-commands.js";
export { checkRelativePath, resolveInside, safeDeleteFile, safeReadFile, safeWriteFile, type SafeReadOptions } from "./safe-path.js";
export { parseRegistryHosts, startRegistryProxy, type EgressEvent } from "./registry-proxy.js";
export {
  SANDBOX_DEFAULTS,
  probeBwrap,
  runInSandbox,
  sandboxMode,
  sandboxStatus,
  type SandboxEgress,
  type SandboxKind,
  type SandboxMode,
  type SandboxOptions,
  type SandboxPhase,
  type SandboxResult,
  type SandboxRunInput,
  type SandboxRunMode,
  type SandboxStatus,
} from "./sandbox.js";
export { probeLimits, SandboxLimitsUnavailableError, type LimitProbe } from "./sandbox-limits.js";
export type { KubernetesSandboxConfig } from "./kubernetes-sandbox.js";
export { slugify, taskBranchName } from "./slugify.js";
export {
  changedFiles,
  commitChanges,
  commitMessage,
  headSha,
  listFiles,
  mergeBase,
  prepareTaskWorkspace,
  pushAuraBranch,
  removeTaskWorkspace,
  removeWorkTree,
  workspaceTarget,
  remoteBranchBase,
  type BranchBase,
  type CommitInput,
  type CommitResult,
  type CommitTrailers,
  type MergeBaseResult,
  type PrepareTaskInput,
  type PushResult,
  type RepoLocation,
  type TaskWorkspace,
  type WorkspaceOptions,
} from "./task-workspace.js";
export { parseTestCounts, type TestCounts, type TestRunner } from "./test-counts.js";
