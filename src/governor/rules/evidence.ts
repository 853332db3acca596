// evidence: the Auditor's own test run on exactly the head SHA passed; until it reports, the rule is pending.
import type { RuleOfKind } from "../policy-pack.js";
import type { RuleInput, RuleOutcome } from "./rule-input.js";

export function evaluateEvidence(rule: RuleOfKind<"evidence">, input: RuleInput): RuleOutcome {
  const { evidence, headSha } = input.ctx;
  const head = headSha.slice(0, 7);
  if (!evidence || evidence.headSha !== headSha) {
    return { state: "pending", summary: `waiting for the Auditor's run on ${head}`, findings: [], notes: [] };
  }
  if (evidence.state === "pending") {
    return { state: "pending", summary: `the Auditor is running the tests on ${head}`, findings: [], notes: [] };
  }
  const counts = evidence.counts ? ` (${evidence.counts.passed} passed, ${evidence.counts.failed} failed, ${evidence.counts.skipped} skipped)` : "";
  if (evidence.state === "failed") {
    return {
      state: "fail",
      summary: `the Auditor's run on ${head} failed${counts}`,
      findings: [{ ruleId: rule.id, message: `The Auditor's test run on ${head} failed${counts}. ${rule.message}` }],
      notes: [],
    };
  }
  return { state: "pass", summary: `the Auditor's run on ${head} passed${counts}`, findings: [], notes: [] };
}
