import { micromark } from "micromark";
import { gfm, gfmHtml } from "micromark-extension-gfm";
import { describe, expect, it } from "vitest";
import { describeVerdict, MAX_INLINE_COMMENTS } from "../../src/governor/describe-verdict.js";
import { evaluate } from "../../src/governor/evaluate.js";
import type { ChangedFile } from "../../src/governor/pull-context.js";
import type { RuleResult, Verdict } from "../../src/governor/verdict.js";
import { agentContext, defaultPack, DIRECTOR, fixtureFiles, HEAD_SHA, task } from "./pull-fixtures.js";

const pack = defaultPack();

function ruleResult(ruleId: string, state: RuleResult["state"]): RuleResult {
  return { ruleId, kind: "protected-paths", severity: "major", state, summary: `${ruleId} ${state}`, findings: [], notes: [] };
}

function verdictOf(rules: RuleResult[], conclusion: Verdict["conclusion"]): Verdict {
  return { conclusion, pullNumber: 1, headSha: HEAD_SHA, packRevision: "f".repeat(64), rules };
}

describe("describeVerdict", () => {
  it("names the failed rules in a status description under 140 characters, with inline comments on their lines", async () => {
    const verdict = await evaluate(pack, agentContext(fixtureFiles("workflow-edit")));

    const described = describeVerdict(verdict);

    expect(described.state).toBe("failure");
    expect(described.description).toBe("HNSC failed: protected-paths, scope");
    expect(described.comments[0]).toMatchObject({ path: ".github/workflows/ci.yml", line: 6, side: "RIGHT" });
    expect(described.comments[0]?.body).toMatch(/protected-paths.*critical/);
    expect(described.summary).toMatch(/\| `protected-paths` \| critical \| ❌ fail \|/);
    expect(described.summary).toContain(verdict.packRevision.slice(0, 12));
  });

  it("keeps the description under 140 characters when many rules fail", () => {
    const rules = Array.from({ length: 30 }, (_, i) => ruleResult(`a-rather-long-rule-name-${i}`, "fail"));

    const described = describeVerdict(verdictOf(rules, "failure"));

    expect(described.description.length).toBeLessThan(140);
    expect(described.description).toMatch(/^HNSC failed: a-rather-long-rule-name-0, .* \+\d+ more$/);
  });

  it("posts at most 50 inline comments and summarises the rest", async () => {
    const files: ChangedFile[] = Array.from({ length: 60 }, (_, i) => ({
      filename: `src/leak-${i}.ts`,
      status: "added",
      additions: 1,
      deletions: 0,
      patch: '@@ -0,0 +1 @@\n+export const token = "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";',
    }));
    const verdict = await evaluate(pack, agentContext(files));

    const described = describeVerdict(verdict);

    expect(verdict.rules.find((rule) => rule.ruleId === "secrets")?.findings).toHaveLength(60);
    expect(described.comments).toHaveLength(MAX_INLINE_COMMENTS);
    expect(described.summary).toContain("Further findings (beyond the 50 inline comments)");
    expect(described.summary).toContain("`src/leak-59.ts:1`");
    expect(described.summary).not.toContain("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");
  });

  it("shows an override in the description, the table and its own section", async () => {
    const overrides = [{ ruleId: "secrets", headSha: HEAD_SHA, by: DIRECTOR, reason: "revoked test tokens" }];
    const verdict = await evaluate(pack, agentContext(fixtureFiles("secret"), { overrides }));

    const described = describeVerdict(verdict);

    expect(described.state).toBe("success");
    expect(described.description).toBe(`HNSC passed: ${pack.rules.length - 1} of ${pack.rules.length} rules (1 overridden)`);
    expect(described.summary).toContain(`overridden by @${DIRECTOR}: revoked test tokens`);
    expect(described.summary).toContain("#### Director overrides");
  });

  it.each([
    { conclusion: "error", state: "error", description: "HNSC could not evaluate: secrets" },
    { conclusion: "pending", state: "pending", description: "HNSC waiting for: secrets" },
  ] as const)("describes $conclusion by the rules in that state", ({ conclusion, state, description }) => {
    const verdict = verdictOf([ruleResult("scope", "pass"), ruleResult("secrets", state)], conclusion);

    expect(describeVerdict(verdict).description).toBe(description);
  });

  it("escapes pipes in the summary table", () => {
    const rule = { ...ruleResult("scope", "fail"), summary: "a|b" };

    const described = describeVerdict(verdictOf([rule], "failure"));

    expect(described.summary).toContain("a\\|b");
  });

  it("keeps a file name that holds backticks and markup inside its code span, in the table, the findings and inline comments", async () => {
    const hostile = "src/x` <img src=https://evil.example/p.png> [y](https://evil.example) `.ts";
    const files: ChangedFile[] = [
      { filename: hostile, status: "added", additions: 1, deletions: 0, patch: "@@ -0,0 +1 @@\n+export {};" },
      { filename: ".npmrc", previousFilename: hostile, status: "renamed", additions: 0, deletions: 0, patch: undefined },
    ];
    const verdict = await evaluate(pack, agentContext(files, { task: task({ scopeGlobs: ["docs/**"] }) }));

    const described = describeVerdict(verdict);
    const html = [described.summary, ...described.comments.map((comment) => comment.body)]
      .map((markdown) => micromark(markdown, { allowDangerousHtml: true, extensions: [gfm()], htmlExtensions: [gfmHtml()] }))
      .join("\n");

    expect(verdict.rules.find((rule) => rule.ruleId === "scope")?.state).toBe("fail");
    expect(html).not.toMatch(/<img|<a /);
    expect(html).toContain("<code>src/x` &lt;img src=https://evil.example/p.png&gt; [y](https://evil.example) `.ts");
  });
});
