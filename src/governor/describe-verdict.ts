// Renders a verdict for GitHub: the `aura/hnsc` commit status description (under 140 characters, naming the
// rules that failed), a markdown summary for the review body, and at most 50 inline review comments.
import type { Conclusion, Finding, RuleResult, RuleState, Verdict } from "./verdict.js";
import { inertCode } from "../github/inert-markdown.js";

export const MAX_INLINE_COMMENTS = 50;
/** GitHub rejects status descriptions of 140 characters or more. */
export const MAX_DESCRIPTION_LENGTH = 139;
const MAX_LISTED_FINDINGS = 100;

export interface ReviewComment {
  path: string;
  line: number;
  side: "RIGHT" | "LEFT";
  body: string;
}

export interface VerdictDescription {
  state: Conclusion;
  /** For the commit status: under 140 characters. */
  description: string;
  /** Markdown for the review body: a table of every rule and the findings that are not inline comments. */
  summary: string;
  comments: ReviewComment[];
}

const STATE_ICON: Record<RuleState, string> = {
  pass: "✅ pass",
  fail: "❌ fail",
  skip: "⏭️ skip",
  error: "⚠️ error",
  pending: "⏳ pending",
  overridden: "🟠 overridden",
};

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Names as many rules as fit, then "+N more". */
function nameRules(prefix: string, rules: readonly RuleResult[], max: number): string {
  const ids = rules.map((rule) => rule.ruleId);
  for (let shown = ids.length; shown > 0; shown--) {
    const rest = ids.length - shown;
    const text = `${prefix}${ids.slice(0, shown).join(", ")}${rest > 0 ? ` +${rest} more` : ""}`;
    if (text.length <= max) return text;
  }
  return truncate(`${prefix}${ids.length} rules`, max);
}

function statusDescription(verdict: Verdict): string {
  const inState = (state: RuleState) => verdict.rules.filter((rule) => rule.state === state);
  const overridden = inState("overridden").length;
  const note = overridden > 0 ? ` (${overridden} overridden)` : "";
  switch (verdict.conclusion) {
    case "failure":
      return nameRules("HNSC failed: ", inState("fail"), MAX_DESCRIPTION_LENGTH);
    case "error":
      return nameRules("HNSC could not evaluate: ", inState("error"), MAX_DESCRIPTION_LENGTH);
    case "pending":
      return nameRules("HNSC waiting for: ", inState("pending"), MAX_DESCRIPTION_LENGTH);
    case "success": {
      const passed = inState("pass").length;
      const approvers = [...new Set((verdict.approvedRelaxations ?? []).map((relaxation) => `@${relaxation.by}`))];
      const relaxed = approvers.length > 0 ? ` (repo rules relaxed, approved by ${approvers.join(", ")})` : "";
      return truncate(`HNSC passed: ${passed} of ${verdict.rules.length} rules${note}${relaxed}`, MAX_DESCRIPTION_LENGTH);
    }
  }
}

function cell(text: string): string {
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|");
}

function location(finding: Finding): string {
  if (!finding.path) return "(pull request)";
  if (finding.line === undefined) return inertCode(finding.path);
  return `${inertCode(`${finding.path}:${finding.line}`)}${finding.side === "LEFT" ? " (removed line)" : ""}`;
}

/** The status, review summary and inline comments for one verdict. */
export function describeVerdict(verdict: Verdict): VerdictDescription {
  const findings = verdict.rules.flatMap((rule) => (rule.state === "fail" || rule.state === "overridden" || rule.state === "error" ? rule.findings : []));
  const placeable = findings.filter((finding): finding is Finding & { path: string; line: number } => finding.path !== undefined && finding.line !== undefined);
  const inline = placeable.slice(0, MAX_INLINE_COMMENTS);
  const inlineSet = new Set<Finding>(inline);
  const severityOf = new Map(verdict.rules.map((rule) => [rule.ruleId, rule.severity]));
  const comments = inline.map((finding) => ({
    path: finding.path,
    line: finding.line,
    side: finding.side ?? "RIGHT",
    body: `**aura/hnsc · ${finding.ruleId}** (${severityOf.get(finding.ruleId) ?? "major"}): ${finding.message}`,
  }));

  const lines = [
    `### Aura HNSC verdict: ${verdict.conclusion}`,
    "",
    `Head \`${verdict.headSha.slice(0, 7)}\` · policy revision \`${verdict.packRevision.slice(0, 12)}\``,
    "",
    "| Rule | Severity | State | Details |",
    "| --- | --- | --- | --- |",
    ...verdict.rules.map((rule) => `| \`${rule.ruleId}\` | ${rule.severity} | ${STATE_ICON[rule.state]} | ${cell([rule.summary, ...rule.notes].join("; "))} |`),
  ];
  const rest = findings.filter((finding) => !inlineSet.has(finding));
  if (rest.length > 0) {
    const heading = placeable.length > MAX_INLINE_COMMENTS ? "Further findings (beyond the 50 inline comments)" : "Findings";
    lines.push("", `#### ${heading}`, "");
    for (const finding of rest.slice(0, MAX_LISTED_FINDINGS)) {
      lines.push(`- **${finding.ruleId}** ${location(finding)}: ${finding.message.replace(/\r?\n/g, " ")}`);
    }
    if (rest.length > MAX_LISTED_FINDINGS) lines.push(`- … and ${rest.length - MAX_LISTED_FINDINGS} more findings`);
  }
  const overrides = verdict.rules.filter((rule) => rule.override);
  const relaxations = verdict.approvedRelaxations ?? [];
  if (overrides.length > 0 || relaxations.length > 0) {
    lines.push("", "#### Director overrides", "");
    for (const rule of overrides) {
      lines.push(`- \`${rule.ruleId}\` (was ${rule.override?.originalState}): overridden by @${rule.override?.by}: ${rule.override?.reason}`);
    }
    for (const relaxation of relaxations) {
      lines.push(`- repo rules relax \`${relaxation.ruleId}\` (${relaxation.change}): approved by @${relaxation.by}: ${relaxation.reason}`);
    }
  }

  return { state: verdict.conclusion, description: statusDescription(verdict), summary: lines.join("\n"), comments };
}
