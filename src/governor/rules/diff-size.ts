// diff-size: the number of changed files and changed lines (additions + deletions) stays within the limits of
// the task's class. GitHub's per-file counts are present even when patches are not.
import type { RuleOfKind } from "../policy-pack.js";
import type { Finding } from "../verdict.js";
import type { RuleInput, RuleOutcome } from "./rule-input.js";

export function evaluateDiffSize(rule: RuleOfKind<"diff-size">, input: RuleInput): RuleOutcome {
  const taskClass = input.taskClass;
  const limits = (taskClass !== undefined ? rule.params.byTaskClass[taskClass] : undefined) ?? rule.params.default;
  const files = Math.max(input.ctx.totalChangedFiles, input.ctx.files.length);
  let lines = 0;
  for (const file of input.ctx.files) lines += file.additions + file.deletions;
  const classLabel = taskClass ?? "default";

  const findings: Finding[] = [];
  if (files > limits.maxFiles) {
    findings.push({ ruleId: rule.id, message: `${files} files changed; ${classLabel} tasks allow ${limits.maxFiles}.` });
  }
  if (lines > limits.maxChangedLines) {
    findings.push({
      ruleId: rule.id,
      message: `${lines} lines changed; ${classLabel} tasks allow ${limits.maxChangedLines}.`,
    });
  }

  const measured = `${files} files, ${lines} changed lines (limit ${limits.maxFiles} files, ${limits.maxChangedLines} lines)`;
  if (findings.length > 0) return { state: "fail", summary: measured, findings, notes: [] };
  if (input.filesIncomplete) {
    return { state: "error", summary: `${input.incompleteFilesReason()}, so the line count is unknown`, findings, notes: [] };
  }
  return { state: "pass", summary: measured, findings, notes: [] };
}
