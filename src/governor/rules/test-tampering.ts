// test-tampering: test files deleted (or renamed out of the test globs), tests newly skipped or focused, and a
// net loss of assertion lines across the pull request's test files.
import type { RuleOfKind } from "../policy-pack.js";
import type { ChangedFile } from "../pull-context.js";
import type { Finding } from "../verdict.js";
import type { PatchLine } from "../patch.js";
import { anyOf, globMatcher, missingPatchReason, plural, type RuleInput, type RuleOutcome } from "./rule-input.js";
import { inertCode } from "../../github/inert-markdown.js";

type LostAssertions = { file: ChangedFile; first: PatchLine; net: number };

export function evaluateTestTampering(rule: RuleOfKind<"test-tampering">, input: RuleInput): RuleOutcome {
  const isTest = globMatcher(rule.params.testFiles);
  const anyMarker = anyOf(rule.params.skipMarkers);
  const anyAssertion = anyOf(rule.params.assertionPatterns);
  const isAssertion = (line: PatchLine) => anyAssertion(line.text);

  const findings: Finding[] = [];
  const unreadable: ChangedFile[] = [];
  const lostAssertions: LostAssertions[] = [];
  let addedAssertions = 0;
  let removedAssertions = 0;

  for (const file of input.ctx.files) {
    const wasTest = file.previousFilename !== undefined && isTest(file.previousFilename);
    const nowTest = isTest(file.filename);
    if (!nowTest && !wasTest) continue;
    const gone = testFileGone(rule.id, file, { wasTest, nowTest });
    if (gone) findings.push(gone);
    if (input.lacksPatch(file)) {
      // A deleted test file has already failed; its missing patch changes nothing.
      if (file.status !== "removed") unreadable.push(file);
      continue;
    }
    const scan = scanTestPatch(rule.id, file, input.patchOf(file), anyMarker, isAssertion);
    findings.push(...scan.findings);
    addedAssertions += scan.added;
    removedAssertions += scan.removed;
    if (scan.lost) lostAssertions.push(scan.lost);
  }

  const net = removedAssertions - addedAssertions;
  if (net > 0) findings.push(...lostAssertions.map((lost) => lostAssertionFinding(rule.id, lost, net)));
  if (findings.length > 0) {
    const summary = net > 0 ? `${plural(findings.length, "finding")}; net ${plural(net, "assertion")} removed` : `${plural(findings.length, "finding")}`;
    return { state: "fail", summary, findings, notes: [] };
  }
  if (input.filesIncomplete) return { state: "error", summary: input.incompleteFilesReason(), findings, notes: [] };
  if (unreadable.length > 0) return { state: "error", summary: missingPatchReason(unreadable), findings, notes: [] };
  return {
    state: "pass",
    summary: `no test deleted, skipped or focused; assertions +${addedAssertions} −${removedAssertions}`,
    findings,
    notes: [],
  };
}

/** A test file deleted, or renamed to a name outside the test globs. */
function testFileGone(ruleId: string, file: ChangedFile, test: { wasTest: boolean; nowTest: boolean }): Finding | undefined {
  if (file.status === "removed" && test.nowTest) {
    return { ruleId, path: file.filename, message: `Test file ${inertCode(file.filename)} was deleted.` };
  }
  if (test.wasTest && !test.nowTest) {
    return {
      ruleId,
      path: file.filename,
      message: `Test file ${inertCode(file.previousFilename ?? "")} was renamed to ${inertCode(file.filename)}, which is not a test file.`,
    };
  }
  return undefined;
}

/** One test file's patch: lines that newly skip or focus a test, and its assertions added and removed. */
function scanTestPatch(
  ruleId: string,
  file: ChangedFile,
  patch: { added: readonly PatchLine[]; removed: readonly PatchLine[] },
  anyMarker: (text: string) => boolean,
  isAssertion: (line: PatchLine) => boolean,
): { findings: Finding[]; added: number; removed: number; lost: LostAssertions | undefined } {
  const { added, removed } = patch;
  const findings: Finding[] = [];
  // A marker line that was only moved or re-indented is not newly skipped.
  const markedBefore = new Set(removed.filter((line) => anyMarker(line.text)).map((line) => line.text.trim()));
  let fileAdded = 0;
  for (const line of added) {
    if (isAssertion(line)) fileAdded++;
    if (anyMarker(line.text) && !markedBefore.has(line.text.trim())) {
      findings.push({
        ruleId,
        path: file.filename,
        line: line.line,
        side: "RIGHT",
        message: `This line skips or focuses a test: \`${line.text.trim().slice(0, 120)}\`.`,
      });
    }
  }
  const removedHere = removed.filter(isAssertion);
  const first = removedHere[0];
  const lost = first && removedHere.length > fileAdded ? { file, first, net: removedHere.length - fileAdded } : undefined;
  return { findings, added: fileAdded, removed: removedHere.length, lost };
}

function lostAssertionFinding(ruleId: string, lost: LostAssertions, net: number): Finding {
  return {
    ruleId,
    path: lost.file.filename,
    line: lost.first.line,
    side: "LEFT",
    message: `${plural(lost.net, "assertion")} removed from this file (net ${net} across the pull request's tests).`,
  };
}
