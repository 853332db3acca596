// protected-paths: workflows, the app's own config, CODEOWNERS, lock files and test-runner configuration may
// not change unless the task's class is one the entry excepts (lock files for dependency tasks, and so on).
import type { RuleOfKind } from "../policy-pack.js";
import type { Finding } from "../verdict.js";
import { globMatcher, missingPatchReason, namesOf, plural, type RuleInput, type RuleOutcome } from "./rule-input.js";
import type { ChangedFile } from "../pull-context.js";
import { inertCode } from "../../github/inert-markdown.js";

// A `"test"`, `"pretest"`, `"posttest"` or `"test:unit"` key: the scripts that decide what `npm test` runs.
const TEST_SCRIPT_LINE = /^\s*"(?:pre|post)?test(?::[^"]*)?"\s*:/;

export function evaluateProtectedPaths(rule: RuleOfKind<"protected-paths">, input: RuleInput): RuleOutcome {
  const taskClass = input.taskClass;
  const entries = rule.params.paths
    .filter((entry) => taskClass === undefined || !entry.exceptTaskClasses.includes(taskClass))
    .map((entry) => ({ glob: entry.glob, reason: entry.reason, match: globMatcher([entry.glob]) }));
  const testScript = rule.params.testScript;
  const checkTestScript = testScript !== undefined && (taskClass === undefined || !testScript.exceptTaskClasses.includes(taskClass));
  const isPackageJson = globMatcher(["**/package.json"]);

  const findings: Finding[] = [];
  const unreadable: ChangedFile[] = [];
  for (const file of input.ctx.files) {
    const hit = entries.find((entry) => namesOf(file).some((name) => entry.match(name)));
    if (hit) {
      findings.push({
        ruleId: rule.id,
        path: file.filename,
        ...input.locate(file),
        message: `${inertCode(file.filename)} is protected (\`${hit.glob}\`${hit.reason ? `: ${hit.reason}` : ""}): ${rule.message}`,
      });
      continue;
    }
    if (!checkTestScript || !isPackageJson(file.filename)) continue;
    if (input.lacksPatch(file)) {
      unreadable.push(file);
      continue;
    }
    const { added, removed } = input.patchOf(file);
    const changed = added.find((line) => TEST_SCRIPT_LINE.test(line.text)) ?? removed.find((line) => TEST_SCRIPT_LINE.test(line.text));
    if (changed) {
      findings.push({
        ruleId: rule.id,
        path: file.filename,
        line: changed.line,
        side: added.includes(changed) ? "RIGHT" : "LEFT",
        message: `The test script in ${inertCode(file.filename)} is test-runner configuration and is protected for this task class.`,
      });
    }
  }

  if (findings.length > 0) {
    return { state: "fail", summary: `${plural(findings.length, "protected file")} changed`, findings, notes: [] };
  }
  if (input.filesIncomplete) return { state: "error", summary: input.incompleteFilesReason(), findings, notes: [] };
  if (unreadable.length > 0) return { state: "error", summary: missingPatchReason(unreadable), findings, notes: [] };
  return { state: "pass", summary: "no protected path changed", findings, notes: [] };
}
