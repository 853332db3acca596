import { describe, expect, it } from "vitest";
import { loadPolicyPack, PolicyParseError, policyPackRevision, RULE_KINDS } from "../../src/governor/policy-pack.js";
import { defaultPackText } from "./pull-fixtures.js";

function parseError(text: string): PolicyParseError {
  try {
    loadPolicyPack(text);
  } catch (error) {
    if (error instanceof PolicyParseError) return error;
    throw error;
  }
  throw new Error("expected loadPolicyPack to throw");
}

const oneRule = (rule: string) => `version: 1\nrules:\n${rule}`;

describe("loadPolicyPack", () => {
  it("loads the default pack with one rule of every kind", () => {
    const pack = loadPolicyPack(defaultPackText());

    expect(pack.rules.map((rule) => rule.kind).sort()).toEqual([...RULE_KINDS].sort());
  });

  it("gives equal revisions for equal content and a new revision for any change", () => {
    const text = defaultPackText();

    const same = policyPackRevision(loadPolicyPack(text));
    const reformatted = policyPackRevision(loadPolicyPack(`# a comment\n${text}`));
    const changed = policyPackRevision(loadPolicyPack(text.replace("maxFiles: 40", "maxFiles: 39")));

    expect(same).toMatch(/^[0-9a-f]{64}$/);
    expect(reformatted).toBe(same);
    expect(changed).not.toBe(same);
  });

  it.each([
    {
      name: "an unknown key in a rule",
      text: oneRule("  - { id: evidence, kind: evidence, severity: major, message: m, params: {}, weight: 3 }"),
      ruleId: "evidence",
      field: "rules[0]",
      message: /weight/,
    },
    {
      name: "an unknown parameter",
      text: oneRule("  - { id: size, kind: diff-size, severity: minor, message: m, params: { default: { maxFiles: 1, maxChangedLines: 1 }, maxBytes: 9 } }"),
      ruleId: "size",
      field: "rules[0].params",
      message: /maxBytes/,
    },
    {
      name: "a severity outside minor, major, critical",
      text: oneRule("  - { id: evidence, kind: evidence, severity: blocker, message: m, params: {} }"),
      ruleId: "evidence",
      field: "rules[0].severity",
      message: /minor|major|critical/,
    },
    {
      name: "a limit that is not a positive whole number",
      text: oneRule("  - { id: size, kind: diff-size, severity: minor, message: m, params: { default: { maxFiles: -1, maxChangedLines: 1 } } }"),
      ruleId: "size",
      field: "rules[0].params.default.maxFiles",
      message: /.+/,
    },
    {
      name: "a marker that is not a regular expression",
      text: oneRule(
        "  - { id: tt, kind: test-tampering, severity: major, message: m, params: { testFiles: ['**/*.test.ts'], skipMarkers: ['(unclosed'], assertionPatterns: ['expect'] } }",
      ),
      ruleId: "tt",
      field: "rules[0].params.skipMarkers[0]",
      message: /regular expression/,
    },
    {
      name: "an unknown kind",
      text: oneRule("  - { id: vibes, kind: vibe-check, severity: minor, message: m, params: {} }"),
      ruleId: "vibes",
      field: "rules[0].kind",
      message: /.+/,
    },
    {
      name: "a duplicate rule id",
      text: oneRule(
        "  - { id: ev, kind: evidence, severity: major, message: m, params: {} }\n  - { id: ev, kind: evidence, severity: minor, message: m, params: {} }",
      ),
      ruleId: "ev",
      field: "rules[1].id",
      message: /duplicate/,
    },
    {
      name: "a missing message",
      text: oneRule("  - { id: ev, kind: evidence, severity: major, params: {} }"),
      ruleId: "ev",
      field: "rules[0].message",
      message: /.+/,
    },
    {
      name: "an unknown top-level key",
      text: "version: 1\nowner: me\nrules:\n  - { id: ev, kind: evidence, severity: major, message: m, params: {} }",
      ruleId: undefined,
      field: "(root)",
      message: /owner/,
    },
    {
      name: "YAML that does not parse",
      text: "version: 1\nrules: [\n",
      ruleId: undefined,
      field: "(yaml)",
      message: /.+/,
    },
  ])("refuses $name with a typed error naming the rule and field", ({ text, ruleId, field, message }) => {
    const error = parseError(text);

    expect(error.ruleId).toBe(ruleId);
    expect(error.field).toBe(field);
    expect(error.issues[0]?.message).toMatch(message);
    expect(error.message).toContain(field);
  });
});
