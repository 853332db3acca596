// secrets: no added line may carry a credential that secretlint's recommended preset recognises.
import type { RuleOfKind } from "../policy-pack.js";
import type { ChangedFile } from "../pull-context.js";
import { scanAddedLines, type AddedLineSource } from "../secret-scan.js";
import type { Finding } from "../verdict.js";
import { missingPatchReason, plural, type RuleInput, type RuleOutcome } from "./rule-input.js";

export async function evaluateSecrets(rule: RuleOfKind<"secrets">, input: RuleInput): Promise<RuleOutcome> {
  const sources: AddedLineSource[] = [];
  const unreadable: ChangedFile[] = [];
  for (const file of input.ctx.files) {
    if (file.additions === 0 && file.patch === undefined) continue;
    if (input.lacksPatch(file)) {
      unreadable.push(file);
      continue;
    }
    const { added } = input.patchOf(file);
    if (added.length > 0) sources.push({ path: file.filename, lines: added });
  }

  const secrets = await scanAddedLines(sources);
  const findings: Finding[] = secrets.map((secret) => ({
    ruleId: rule.id,
    path: secret.path,
    line: secret.line,
    side: "RIGHT",
    message: `${secret.message} (${secret.secretlintRuleId.replace("@secretlint/secretlint-rule-", "")}). ${rule.message}`,
  }));

  if (findings.length > 0) {
    return { state: "fail", summary: `${plural(findings.length, "possible secret")} in added lines`, findings, notes: [] };
  }
  if (input.filesIncomplete) return { state: "error", summary: input.incompleteFilesReason(), findings, notes: [] };
  if (unreadable.length > 0) return { state: "error", summary: missingPatchReason(unreadable), findings, notes: [] };
  const lines = sources.reduce((sum, source) => sum + source.lines.length, 0);
  return { state: "pass", summary: `no secret in ${plural(lines, "added line")}`, findings, notes: [] };
}
