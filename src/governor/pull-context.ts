// PullContext: everything the governor may know about a pull request, as plain data. Handlers build it from
// GitHub (and the task record, the Auditor's evidence, the directors); the evaluator only reads it, so
// evaluation stays pure and table-testable.

// The pull request's files and commits as GitHub lists them (plumbing shared with the Auditor and the workspace).
export type { ChangedFile, ChangedFileStatus, PullCommit } from "../github/pull-types.js";
import type { ChangedFile, PullCommit } from "../github/pull-types.js";

export interface TaskRecord {
  taskId: string;
  /** The planner's class: bugfix, feature, docs, test, refactor, dependency, … */
  taskClass: string;
  scopeGlobs: readonly string[];
  /** Employee id the router assigned; undefined when the task was never assigned. */
  assignedEmployee: string | undefined;
  /** The branch the work loop created for the task, e.g. `aura/12-t1`. */
  branch: string;
  /** Every commit SHA the work loop itself created and pushed for this task. */
  recordedCommitShas: readonly string[];
}

export interface AuditorEvidence {
  /** The commit the Auditor ran the tests on; evidence for another SHA counts as still pending. */
  headSha: string;
  state: "pending" | "passed" | "failed";
  counts?: { passed: number; failed: number; skipped: number } | undefined;
  /** Where the evidence can be read (the review or a log), for the status target_url. */
  url?: string | undefined;
}

/** A director's `/aura override <rule-id> <reason>`; it binds to the head SHA it was given on. */
export interface RuleOverride {
  ruleId: string;
  headSha: string;
  by: string;
  reason: string;
}

export interface PullContext {
  pullNumber: number;
  headSha: string;
  baseSha: string;
  /** The head branch name, e.g. `aura/12-t1`. */
  headRef: string;
  author: string;
  /** Opened by the app for a task (agent branch); human PRs skip the task-bound rules. */
  isAgentPr: boolean;
  labels: readonly string[];
  files: readonly ChangedFile[];
  /** `changed_files` from the pull request object: how many files GitHub says changed. */
  totalChangedFiles: number;
  /**
   * `api`: files and patches came from the REST API and may be truncated; `local`: they came from a diff of
   * the local clone, so the list is complete and a missing patch means a binary file.
   */
  diffSource: "api" | "local";
  commits: readonly PullCommit[];
  /** `commits` from the pull request object; when larger than `commits.length` the list is incomplete. */
  totalCommits?: number | undefined;
  task: TaskRecord | undefined;
  evidence: AuditorEvidence | undefined;
  /** Logins of the repository's directors. */
  directors: readonly string[];
  overrides: readonly RuleOverride[];
}
