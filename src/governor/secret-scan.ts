// Scans the added lines of a pull request for credentials with secretlint's recommended rule preset. All added
// lines go into one buffer (one secretlint run per evaluation, not one per file) and findings are mapped back
// to their file and new-file line.
import { lintSource } from "@secretlint/core";
import { secretLintProfiler } from "@secretlint/profiler";
import { rules as recommendedRules } from "@secretlint/secretlint-rule-preset-recommend";

// secretlint's profiler records a performance mark per rule and lint into arrays that are never cleared, so a
// long-running governor would grow without bound. Nothing here reads the profile: turn marking off.
secretLintProfiler.mark = () => undefined;

type CoreConfig = Parameters<typeof lintSource>[0]["options"]["config"];
type CoreRule = CoreConfig["rules"][number];

// The preset's rules one by one, leaving out filter-comments: it lets `secretlint-disable` comments in scanned
// text silence findings, and in one shared buffer a comment in one file would silence the files after it (the
// author of a change must not be able to silence the check anyway). The rules are listed individually because
// secretlint core ignores `disabled` on a rule inside a preset.
const FILTER_COMMENTS = "@secretlint/secretlint-rule-filter-comments";
const config: CoreConfig = {
  rules: recommendedRules.filter((rule) => rule.meta.id !== FILTER_COMMENTS).map((rule) => ({ id: rule.meta.id, rule }) as CoreRule),
};

/** secretlint rule ids the scan runs: the recommended preset minus filter-comments. */
export const SECRET_RULE_IDS: readonly string[] = config.rules.map((rule) => rule.id);

export interface AddedLineSource {
  path: string;
  lines: readonly { line: number; text: string }[];
}

export interface SecretFinding {
  path: string;
  line: number;
  /** secretlint's message with the secret masked, safe to post on the PR. */
  message: string;
  secretlintRuleId: string;
}

/** Runs the preset once over every added line; findings never contain the secret itself. */
export async function scanAddedLines(sources: readonly AddedLineSource[]): Promise<SecretFinding[]> {
  let total = 0;
  for (const source of sources) total += source.lines.length;
  if (total === 0) return [];
  const texts = new Array<string>(total);
  const fileOf = new Int32Array(total);
  const lineOf = new Int32Array(total);
  const startOf = new Float64Array(total);
  let row = 0;
  let offset = 0;
  sources.forEach((source, fileIndex) => {
    for (const added of source.lines) {
      texts[row] = added.text;
      fileOf[row] = fileIndex;
      lineOf[row] = added.line;
      startOf[row] = offset;
      offset += added.text.length + 1;
      row++;
    }
  });
  const result = await lintSource({
    source: { content: texts.join("\n"), filePath: "added-lines.txt", ext: ".txt", contentType: "text" },
    options: { config, maskSecrets: true, noPhysicFilePath: true },
  });
  return result.messages.map((message) => {
    // Map by character offset, not secretlint's line number: it also breaks lines at \r, U+2028 and U+2029,
    // which may occur inside one added line.
    const bufferRow = rowAt(startOf, message.range[0]);
    const source = sources[fileOf[bufferRow] ?? 0];
    return {
      path: source?.path ?? "",
      line: lineOf[bufferRow] ?? 0,
      message: message.message,
      secretlintRuleId: message.ruleId,
    };
  });
}

/** The last row whose start offset is <= offset (binary search over ascending starts). */
function rowAt(starts: Float64Array, offset: number): number {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) low = mid;
    else high = mid - 1;
  }
  return low;
}
