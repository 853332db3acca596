// The governor's verdict: one explicit state per rule, findings located in the diff, and the overall
// conclusion the `aura/hnsc` commit status carries.
import type { RuleKind, Severity } from "./policy-pack.js";

export type RuleState = "pass" | "fail" | "skip" | "error" | "pending" | "overridden";
export type Conclusion = "success" | "failure" | "error" | "pending";

export interface Finding {
  ruleId: string;
  /** Repository path; undefined for findings about the PR as a whole (e.g. a commit). */
  path?: string | undefined;
  /**
   * Line in the diff, as GitHub review comments address it: with side RIGHT, a line of the new file (added
   * lines); with side LEFT, a line of the old file (removed lines). Undefined for file-level findings.
   */
  line?: number | undefined;
  side?: "RIGHT" | "LEFT" | undefined;
  message: string;
}

export interface RuleResult {
  ruleId: string;
  kind: RuleKind;
  severity: Severity;
  state: RuleState;
  /** One line for people: why the rule ended in this state. */
  summary: string;
  findings: Finding[];
  /** Things worth showing that are not violations, e.g. "a1b2c3d: human-assisted by @director". */
  notes: string[];
  /** Present when state is `overridden`: who, why, and what the rule said before. */
  override?: { by: string; reason: string; originalState: RuleState } | undefined;
}

export interface Verdict {
  conclusion: Conclusion;
  pullNumber: number;
  headSha: string;
  /** policyPackRevision() of the effective pack that produced this verdict. */
  packRevision: string;
  rules: RuleResult[];
  /** Relaxations of the pack by the repository's rules that a director approved (`/aura override repo-rules`). */
  approvedRelaxations?: { ruleId: string; change: string; by: string; reason: string }[] | undefined;
}

/** failure if any rule failed; else error if any errored; else pending if any is pending; else success. */
export function concludeVerdict(rules: readonly Pick<RuleResult, "state">[]): Conclusion {
  const states = new Set(rules.map((rule) => rule.state));
  if (states.has("fail")) return "failure";
  if (states.has("error")) return "error";
  if (states.has("pending")) return "pending";
  return "success";
}
