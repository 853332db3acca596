import { describe, expect, it } from "vitest";
import { evaluate } from "../../src/governor/evaluate.js";
import { PolicyParseError, policyPackRevision, type RuleOfKind } from "../../src/governor/policy-pack.js";
import { mergeRepoRules, PolicyRelaxationRefused, type MergeResult } from "../../src/governor/repo-rules.js";
import { agentContext, defaultPack, fixtureFiles } from "./pull-fixtures.js";

const pack = defaultPack();

function merged(result: MergeResult) {
  if (!result.ok) throw result.error;
  return result.pack;
}

function refused(result: MergeResult): PolicyRelaxationRefused {
  if (result.ok || !(result.error instanceof PolicyRelaxationRefused)) throw new Error("expected a refusal");
  return result.error;
}

describe("mergeRepoRules", () => {
  it("adds a repo's own rule and the new rule judges PRs", async () => {
    const repoRules = [
      {
        id: "no-docs-edits",
        kind: "protected-paths",
        severity: "major",
        message: "Docs are owned by the docs team.",
        params: { paths: [{ glob: "README.md" }] },
      },
    ];

    const effective = merged(mergeRepoRules(pack, repoRules));
    const verdict = await evaluate(effective, agentContext(fixtureFiles("scope-violation")));

    expect(effective.rules.map((rule) => rule.id)).toContain("no-docs-edits");
    expect(verdict.rules.find((rule) => rule.ruleId === "no-docs-edits")?.state).toBe("fail");
    expect(verdict.packRevision).toBe(policyPackRevision(effective));
    expect(verdict.packRevision).not.toBe(policyPackRevision(pack));
  });

  it("accepts tightening: lower limits, more protected paths, higher severity", () => {
    const repoRules = [
      { id: "diff-size", severity: "major", params: { byTaskClass: { feature: { maxFiles: 10 } } } },
      { id: "protected-paths", params: { paths: [{ glob: "src/security/**" }] } },
    ];

    const result = mergeRepoRules(pack, repoRules);
    const effective = merged(result);
    const size = effective.rules.find((rule) => rule.id === "diff-size") as RuleOfKind<"diff-size">;
    const paths = effective.rules.find((rule) => rule.id === "protected-paths") as RuleOfKind<"protected-paths">;

    expect(result.ok && result.relaxations).toEqual([]);
    expect(size.severity).toBe("major");
    expect(size.params.byTaskClass.feature).toEqual({ maxFiles: 10, maxChangedLines: 1500 });
    expect(paths.params.paths.map((entry) => entry.glob)).toContain("src/security/**");
    expect(paths.params.paths.map((entry) => entry.glob)).toContain(".github/workflows/**");
  });

  it("refuses every relaxation at once and lists them", () => {
    const repoRules = [
      { id: "diff-size", params: { default: { maxFiles: 500 }, byTaskClass: { bugfix: { maxChangedLines: 5000 } } } },
      { id: "secrets", severity: "minor" },
      { id: "scope", params: { allow: ["**"] } },
      { id: "dependency-change", params: { allowedTaskClasses: ["feature"] } },
      { id: "protected-paths", params: { paths: [{ glob: ".github/workflows/**", exceptTaskClasses: ["ci"] }] } },
    ];

    const error = refused(mergeRepoRules(pack, repoRules));

    expect(error.relaxations.map((relaxation) => relaxation.ruleId)).toEqual(["diff-size", "diff-size", "secrets", "scope", "dependency-change"]);
    expect(error.message).toMatch(/maxFiles for the default raised from 40 to 500/);
    expect(error.message).toMatch(/maxChangedLines for bugfix raised from 800 to 5000/);
    expect(error.message).toMatch(/severity lowered from critical to minor/);
    expect(error.message).toMatch(/director/);
  });

  it("does not let an extra exception entry unprotect a protected path", async () => {
    const repoRules = [{ id: "protected-paths", params: { paths: [{ glob: ".github/workflows/**", exceptTaskClasses: ["feature"] }] } }];

    const effective = merged(mergeRepoRules(pack, repoRules));
    const verdict = await evaluate(effective, agentContext(fixtureFiles("workflow-edit")));

    expect(verdict.rules.find((rule) => rule.ruleId === "protected-paths")?.state).toBe("fail");
  });

  it("applies a relaxation only with a director override and reports it", () => {
    const repoRules = [{ id: "diff-size", params: { default: { maxFiles: 80 } } }];
    const override = { by: "octo-director", reason: "monorepo-wide rename" };

    const result = mergeRepoRules(pack, repoRules, override);

    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.relaxations).toEqual([{ ruleId: "diff-size", change: "maxFiles for the default raised from 40 to 80" }]);
    expect(result.approvedBy).toEqual(override);
  });

  it.each([
    { name: "an unknown key", rules: [{ id: "scope", weight: 2 }], field: "rules[0]" },
    { name: "a changed kind", rules: [{ id: "scope", kind: "secrets" }], field: "rules[0].kind" },
    { name: "a new rule without a message", rules: [{ id: "x", kind: "evidence", severity: "minor", params: {} }], field: "rules[0].message" },
    {
      name: "a parameter of the wrong type",
      rules: [{ id: "diff-size", params: { default: { maxFiles: "ten" } } }],
      field: "rules[0].params.default.maxFiles",
    },
    { name: "a rules section that is not a list", rules: { scope: {} }, field: "rules" },
  ])("refuses $name with a PolicyParseError naming the field", ({ rules, field }) => {
    const result = mergeRepoRules(pack, rules);

    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toBeInstanceOf(PolicyParseError);
    expect((result.error as PolicyParseError).field).toBe(field);
  });
});
