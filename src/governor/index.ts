// The governor's public surface: load and merge the policy pack, evaluate a PullContext, describe the verdict.
export { describeVerdict, MAX_DESCRIPTION_LENGTH, MAX_INLINE_COMMENTS } from "./describe-verdict.js";
export type { ReviewComment, VerdictDescription } from "./describe-verdict.js";
export { evaluate, TASK_BOUND_KINDS } from "./evaluate.js";
export { changedFilesFromUnifiedDiff } from "./local-diff.js";
export { parsePatch } from "./patch.js";
export type { ParsedPatch, PatchLine } from "./patch.js";
export {
  loadPolicyPack,
  PolicyPack,
  PolicyParseError,
  policyPackRevision,
  PolicyRule,
  RULE_KINDS,
  Severity,
} from "./policy-pack.js";
export type { PolicyIssue, RuleKind, RuleOfKind } from "./policy-pack.js";
export { findRelaxations, mergeRepoRules, PolicyRelaxationRefused, RepoRule, RepoRules } from "./repo-rules.js";
export type { DirectorOverride, MergeResult, Relaxation } from "./repo-rules.js";
export type {
  AuditorEvidence,
  ChangedFile,
  ChangedFileStatus,
  PullCommit,
  PullContext,
  RuleOverride,
  TaskRecord,
} from "./pull-context.js";
export { concludeVerdict } from "./verdict.js";
export type { Conclusion, Finding, RuleResult, RuleState, Verdict } from "./verdict.js";
