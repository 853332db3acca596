// scope: every changed path (both names of a rename) lies inside the task's scope globs or the pack's `allow`.
import type { RuleOfKind } from "../policy-pack.js";
import type { Finding } from "../verdict.js";
import { globMatcher, namesOf, plural, type RuleInput, type RuleOutcome } from "./rule-input.js";
import { inertCode } from "../../github/inert-markdown.js";

export function evaluateScope(rule: RuleOfKind<"scope">, input: RuleInput): RuleOutcome {
  const task = input.ctx.task;
  if (!task) return { state: "error", summary: "no task record for this agent pull request", findings: [], notes: [] };
  const inScope = globMatcher([...task.scopeGlobs, ...rule.params.allow]);

  const findings: Finding[] = [];
  for (const file of input.ctx.files) {
    const outside = namesOf(file).filter((name) => !inScope(name));
    if (outside.length === 0) continue;
    findings.push({
      ruleId: rule.id,
      path: file.filename,
      ...input.locate(file),
      message: `${outside.map((path) => inertCode(path)).join(" and ")} is outside the task scope (${task.scopeGlobs.map((glob) => inertCode(glob)).join(", ") || "none"}).`,
    });
  }

  if (findings.length > 0) {
    return { state: "fail", summary: `${plural(findings.length, "file")} outside the task scope`, findings, notes: [] };
  }
  if (input.filesIncomplete) return { state: "error", summary: input.incompleteFilesReason(), findings, notes: [] };
  return { state: "pass", summary: "every changed path is in scope", findings, notes: [] };
}
