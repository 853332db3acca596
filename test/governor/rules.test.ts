// One table per rule kind: real git diffs from test/fixtures/diffs, judged by the default policy pack.
import { describe, expect, it } from "vitest";
import { evaluate } from "../../src/governor/evaluate.js";
import type { ChangedFile, PullContext } from "../../src/governor/pull-context.js";
import type { RuleState } from "../../src/governor/verdict.js";
import { agentContext, commit, defaultPack, fixtureFiles, HEAD_SHA, OLD_HEAD_SHA, RECORDED_SHA, task } from "./pull-fixtures.js";

interface Row {
  name: string;
  files: ChangedFile[];
  context?: Partial<PullContext>;
  state: RuleState;
  /** [path, line, side] of each finding, in order; line and side undefined for file- or PR-level findings. */
  findings?: [string | undefined, number | undefined, "RIGHT" | "LEFT" | undefined][];
  summary?: RegExp;
}

const pack = defaultPack();

async function judge(ruleId: string, row: Row) {
  const verdict = await evaluate(pack, agentContext(row.files, row.context));
  const result = verdict.rules.find((rule) => rule.ruleId === ruleId);
  if (!result) throw new Error(`rule ${ruleId} missing from the verdict`);
  return result;
}

function table(ruleId: string, rows: Row[]) {
  describe(ruleId, () => {
    it.each(rows)("$name", async (row) => {
      const result = await judge(ruleId, row);

      expect(result.state).toBe(row.state);
      if (row.findings) {
        expect(result.findings.map((finding) => [finding.path, finding.line, finding.side])).toEqual(row.findings);
      }
      if (row.summary) expect(result.summary).toMatch(row.summary);
    });
  });
}

const addedFile = (filename: string, lines: string[]): ChangedFile => ({
  filename,
  status: "added",
  additions: lines.length,
  deletions: 0,
  patch: `@@ -0,0 +1,${lines.length} @@\n${lines.map((line) => `+${line}`).join("\n")}`,
});

table("protected-paths", [
  {
    name: "a workflow edit fails on the first changed line of the workflow",
    files: fixtureFiles("workflow-edit"),
    state: "fail",
    findings: [[".github/workflows/ci.yml", 6, "RIGHT"]],
  },
  { name: "a clean change passes", files: fixtureFiles("clean"), state: "pass", findings: [] },
  {
    name: "lock files are protected for a feature task",
    files: fixtureFiles("dependency-change"),
    state: "fail",
    findings: [["package-lock.json", 6, "RIGHT"]],
  },
  {
    name: "lock files may change in a dependency task",
    files: fixtureFiles("dependency-change"),
    context: { task: task({ taskClass: "dependency" }) },
    state: "pass",
  },
  {
    name: "a changed scripts.test in package.json fails for a feature task",
    files: fixtureFiles("test-script"),
    state: "fail",
    findings: [["package.json", 7, "RIGHT"]],
  },
  {
    name: "a changed scripts.test is allowed for a test task",
    files: fixtureFiles("test-script"),
    context: { task: task({ taskClass: "test" }) },
    state: "pass",
  },
  {
    name: "a dependency bump in package.json is not a test-script change",
    files: fixtureFiles("dependency-change").filter((file) => file.filename === "package.json"),
    state: "pass",
  },
  {
    name: "CODEOWNERS is protected in any directory",
    files: [addedFile("docs/CODEOWNERS", ["* @someone"]), addedFile("CODEOWNERS", ["* @me"])],
    state: "fail",
    findings: [
      ["docs/CODEOWNERS", 1, "RIGHT"],
      ["CODEOWNERS", 1, "RIGHT"],
    ],
  },
  {
    name: "test-runner config (vitest, conftest.py) is protected for non-test tasks",
    files: [addedFile("vitest.config.ts", ["export default {};"]), addedFile("tests/conftest.py", ["import pytest"])],
    state: "fail",
    findings: [
      ["vitest.config.ts", 1, "RIGHT"],
      ["tests/conftest.py", 1, "RIGHT"],
    ],
  },
  {
    name: "the target repo's own policies/ folder is not protected by default",
    files: [addedFile("policies/rules.yml", ["a: 1"])],
    state: "pass",
  },
  {
    name: "renaming a workflow away still touches the protected path",
    files: [{ filename: "ci-old.yml", previousFilename: ".github/workflows/ci.yml", status: "renamed", additions: 0, deletions: 0, patch: undefined }],
    state: "fail",
    findings: [["ci-old.yml", undefined, undefined]],
  },
  {
    name: "an unlisted file means error, never a blind pass",
    files: fixtureFiles("clean"),
    context: { totalChangedFiles: 3 },
    state: "error",
    summary: /listed 2 of 3/,
  },
  {
    name: "a protected file found among listed files still fails when others are unlisted",
    files: fixtureFiles("workflow-edit"),
    context: { totalChangedFiles: 3000 },
    state: "fail",
  },
]);

table("scope", [
  { name: "changes inside the scope pass", files: fixtureFiles("clean"), state: "pass" },
  {
    name: "changes outside the scope fail, one finding per file",
    files: fixtureFiles("scope-violation"),
    context: { task: task({ scopeGlobs: ["src/math.ts", "test/**"] }) },
    state: "fail",
    findings: [
      ["README.md", 4, "RIGHT"],
      ["src/server.ts", 1, "RIGHT"],
    ],
  },
  {
    name: "an agent PR without a task record is an error",
    files: fixtureFiles("clean"),
    context: { task: undefined },
    state: "error",
  },
  {
    name: "a human PR skips the task-bound scope rule",
    files: fixtureFiles("scope-violation"),
    context: { isAgentPr: false, task: undefined },
    state: "skip",
  },
]);

table("diff-size", [
  { name: "a small feature change passes", files: fixtureFiles("clean"), state: "pass", summary: /2 files, 10 changed lines/ },
  {
    name: "more files than a bugfix allows fails, counting GitHub's total even when unlisted",
    files: fixtureFiles("clean"),
    context: { task: task({ taskClass: "bugfix" }), totalChangedFiles: 21 },
    state: "fail",
    findings: [[undefined, undefined, undefined]],
  },
  {
    name: "too many changed lines for the class fails",
    files: [
      addedFile(
        "src/big.ts",
        Array.from({ length: 801 }, (_, i) => `export const v${i} = ${i};`),
      ),
    ],
    context: { task: task({ taskClass: "bugfix" }) },
    state: "fail",
    summary: /801 changed lines/,
  },
  {
    name: "unlisted files under the file limit leave the line count unknown: error",
    files: fixtureFiles("clean"),
    context: { totalChangedFiles: 3 },
    state: "error",
  },
]);

table("secrets", [
  {
    name: "a GitHub token and an AWS secret key in added lines fail at their lines",
    files: fixtureFiles("secret"),
    state: "fail",
    findings: [
      ["src/deploy.ts", 3, "RIGHT"],
      ["src/server.ts", 3, "RIGHT"],
    ],
  },
  { name: "a clean change passes", files: fixtureFiles("clean"), state: "pass", summary: /no secret in 9 added lines/ },
  {
    name: "a missing patch with additions is an error",
    files: fixtureFiles("clean").map((file) => ({ ...file, patch: undefined })),
    state: "error",
    summary: /no patch for src\/math\.ts, test\/math\.test\.ts/,
  },
  {
    name: "a missing patch is fine when the files came from a local diff (binary file)",
    files: [{ filename: "logo.png", status: "added", additions: 0, deletions: 0, patch: undefined }],
    context: { diffSource: "local" },
    state: "pass",
  },
  {
    name: "a U+2028 or a lone CR inside an added line does not shift the reported line",
    files: [
      addedFile("src/a.ts", ["const s = 'a\u2028b\rc';", "const t = 1;"]),
      addedFile("src/b.ts", ["const ok = true;", 'const token = "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";', "", "", ""]),
    ],
    state: "fail",
    findings: [["src/b.ts", 2, "RIGHT"]],
  },
  {
    name: "a secretlint-disable comment in the change cannot silence the scan",
    files: [addedFile("src/a.ts", ["// secretlint-disable"]), addedFile("src/b.ts", ['export const t = "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";'])],
    state: "fail",
    findings: [["src/b.ts", 1, "RIGHT"]],
  },
]);

table("test-tampering", [
  {
    name: "newly focused and skipped tests fail (it.only, xit, pytest skip, t.Skip)",
    files: fixtureFiles("skip-only"),
    state: "fail",
    findings: [
      ["go/calc_test.go", 6, "RIGHT"],
      ["test/math.test.ts", 5, "RIGHT"],
      ["test/math.test.ts", 10, "RIGHT"],
      ["tests/test_calc.py", 8, "RIGHT"],
    ],
  },
  {
    name: "a deleted test file fails, and its assertions count as removed",
    files: fixtureFiles("deleted-test"),
    state: "fail",
    findings: [
      ["test/math.test.ts", undefined, undefined],
      ["test/math.test.ts", 6, "LEFT"],
    ],
  },
  {
    name: "a net removal of assertions fails on the first removed assertion of each file",
    files: fixtureFiles("assertion-removal"),
    state: "fail",
    findings: [
      ["test/math.test.ts", 7, "LEFT"],
      ["tests/test_calc.py", 9, "LEFT"],
    ],
    summary: /net 3 assertions removed/,
  },
  {
    name: "renaming a test file out of the test globs fails",
    files: fixtureFiles("rename-test-away"),
    state: "fail",
    findings: [["test/math.helpers.txt", undefined, undefined]],
  },
  {
    name: "re-indenting a test that was already skipped is not a new skip",
    files: [
      {
        filename: "test/old.test.ts",
        status: "modified",
        additions: 1,
        deletions: 1,
        patch: '@@ -1,3 +1,3 @@\n describe("x", () => {\n-it.skip("waits", () => {});\n+  it.skip("waits", () => {});\n });',
      },
    ],
    state: "pass",
  },
  { name: "adding a test with an assertion passes", files: fixtureFiles("clean"), state: "pass", summary: /assertions \+1 −0/ },
  {
    name: "a test file whose patch is missing is an error",
    files: fixtureFiles("skip-only").map((file) => ({ ...file, patch: undefined })),
    state: "error",
  },
]);

table("dependency-change", [
  {
    name: "manifests and lock files fail in a feature task",
    files: fixtureFiles("dependency-change"),
    state: "fail",
    findings: [
      ["package-lock.json", 6, "RIGHT"],
      ["package.json", 10, "RIGHT"],
    ],
  },
  {
    name: "a dependency task may change them",
    files: fixtureFiles("dependency-change"),
    context: { task: task({ taskClass: "dependency" }) },
    state: "pass",
  },
  { name: "a change without dependency files passes", files: fixtureFiles("clean"), state: "pass" },
  {
    name: "a human PR skips it",
    files: fixtureFiles("dependency-change"),
    context: { isAgentPr: false, task: undefined },
    state: "skip",
  },
]);

table("assignment", [
  { name: "a commit the work loop recorded passes", files: fixtureFiles("clean"), state: "pass" },
  {
    name: "a bot-authored commit the work loop did not record fails",
    files: fixtureFiles("clean"),
    context: {
      commits: [commit(RECORDED_SHA, "aura-orchestra[bot]"), commit("b0b0000000000000000000000000000000000002", "aura-orchestra[bot]")],
      totalCommits: 2,
    },
    state: "fail",
    summary: /1 assignment problem$/,
  },
  {
    name: "a director's signed commit passes as human-assisted",
    files: fixtureFiles("clean"),
    context: {
      commits: [commit(RECORDED_SHA, "aura-orchestra[bot]"), commit("d1d0000000000000000000000000000000000003", "Octo-Director", { verified: true })],
      totalCommits: 2,
    },
    state: "pass",
    summary: /1 human-assisted commit/,
  },
  {
    // The author login comes from the commit's e-mail, which anyone can write: unsigned, it proves nothing.
    name: "an unsigned commit that claims a director as author fails",
    files: fixtureFiles("clean"),
    context: { commits: [commit(RECORDED_SHA, "aura-orchestra[bot]"), commit("d1d0000000000000000000000000000000000005", "Octo-Director")], totalCommits: 2 },
    state: "fail",
  },
  {
    name: "another person's commit on the agent branch fails",
    files: fixtureFiles("clean"),
    context: { commits: [commit("e1e0000000000000000000000000000000000004", "mallory")], totalCommits: 1 },
    state: "fail",
  },
  {
    name: "a PR on an agent branch for a task nobody assigned fails",
    files: fixtureFiles("clean"),
    context: { task: undefined },
    state: "fail",
    summary: /no assigned task/,
  },
  {
    name: "a task the router never assigned fails",
    files: fixtureFiles("clean"),
    context: { task: task({ assignedEmployee: undefined }) },
    state: "fail",
  },
  {
    name: "a branch other than the task's fails",
    files: fixtureFiles("clean"),
    context: { headRef: "aura/99-other" },
    state: "fail",
  },
  {
    name: "commits GitHub did not list make it an error",
    files: fixtureFiles("clean"),
    context: { totalCommits: 300 },
    state: "error",
  },
]);

table("evidence", [
  { name: "the Auditor's passing run on the head SHA passes", files: fixtureFiles("clean"), state: "pass" },
  {
    name: "a failing run fails with its counts",
    files: fixtureFiles("clean"),
    context: { evidence: { headSha: HEAD_SHA, state: "failed", counts: { passed: 10, failed: 2, skipped: 0 } } },
    state: "fail",
    summary: /10 passed, 2 failed/,
  },
  {
    name: "a run still in progress is pending",
    files: fixtureFiles("clean"),
    context: { evidence: { headSha: HEAD_SHA, state: "pending" } },
    state: "pending",
  },
  {
    name: "evidence for an older head is pending, not a pass",
    files: fixtureFiles("clean"),
    context: { evidence: { headSha: OLD_HEAD_SHA, state: "passed" } },
    state: "pending",
  },
  { name: "no evidence yet is pending", files: fixtureFiles("clean"), context: { evidence: undefined }, state: "pending" },
]);
