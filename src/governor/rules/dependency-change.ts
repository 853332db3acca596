// dependency-change: dependency manifests and lock files change only in tasks of an allowed class.
import type { RuleOfKind } from "../policy-pack.js";
import type { Finding } from "../verdict.js";
import { globMatcher, namesOf, plural, type RuleInput, type RuleOutcome } from "./rule-input.js";
import { inertCode } from "../../github/inert-markdown.js";

export function evaluateDependencyChange(rule: RuleOfKind<"dependency-change">, input: RuleInput): RuleOutcome {
  const taskClass = input.taskClass;
  if (taskClass !== undefined && rule.params.allowedTaskClasses.includes(taskClass)) {
    return { state: "pass", summary: `${taskClass} tasks may change dependencies`, findings: [], notes: [] };
  }
  const isManifest = globMatcher(rule.params.manifests);
  const isLockFile = globMatcher(rule.params.lockFiles);

  const findings: Finding[] = [];
  for (const file of input.ctx.files) {
    const names = namesOf(file);
    const kind = names.some(isLockFile) ? "lock file" : names.some(isManifest) ? "dependency manifest" : undefined;
    if (!kind) continue;
    findings.push({
      ruleId: rule.id,
      path: file.filename,
      ...input.locate(file),
      message: `${inertCode(file.filename)} is a ${kind}; only ${rule.params.allowedTaskClasses.join(", ")} tasks may change it (this task: ${taskClass ?? "none"}).`,
    });
  }

  if (findings.length > 0) {
    return { state: "fail", summary: `${plural(findings.length, "dependency file")} changed`, findings, notes: [] };
  }
  if (input.filesIncomplete) return { state: "error", summary: input.incompleteFilesReason(), findings, notes: [] };
  return { state: "pass", summary: "no dependency manifest or lock file changed", findings, notes: [] };
}
