import { describe, expect, it } from "vitest";
import { evaluate, TASK_BOUND_KINDS } from "../../src/governor/evaluate.js";
import { policyPackRevision } from "../../src/governor/policy-pack.js";
import type { PullContext } from "../../src/governor/pull-context.js";
import { concludeVerdict, type Verdict } from "../../src/governor/verdict.js";
import { agentContext, defaultPack, DIRECTOR, fixtureFiles, HEAD_SHA, OLD_HEAD_SHA } from "./pull-fixtures.js";

const pack = defaultPack();

const stateOf = (verdict: Verdict, ruleId: string) => verdict.rules.find((rule) => rule.ruleId === ruleId)?.state;

describe("evaluate", () => {
  it("gives a clean agent PR success, every rule passing, with the pack revision", async () => {
    const ctx = agentContext(fixtureFiles("clean"));

    const verdict = await evaluate(pack, ctx);

    expect(verdict.conclusion).toBe("success");
    expect(verdict.rules.map((rule) => rule.state)).toEqual(pack.rules.map(() => "pass"));
    expect(verdict.packRevision).toBe(policyPackRevision(pack));
    expect(verdict).toMatchObject({ pullNumber: 42, headSha: HEAD_SHA });
  });

  it("fails a PR touching a workflow file, naming the line", async () => {
    const verdict = await evaluate(pack, agentContext(fixtureFiles("workflow-edit")));

    expect(verdict.conclusion).toBe("failure");
    expect(verdict.rules.filter((rule) => rule.state === "fail").map((rule) => rule.ruleId)).toEqual(["protected-paths", "scope"]);
    expect(verdict.rules[0]?.findings[0]).toMatchObject({ path: ".github/workflows/ci.yml", line: 6, side: "RIGHT" });
  });

  it("returns error, never success, when GitHub left out a patch", async () => {
    const files = fixtureFiles("clean").map((file) => ({ ...file, patch: undefined }));

    const verdict = await evaluate(pack, agentContext(files));

    expect(verdict.conclusion).toBe("error");
    expect(stateOf(verdict, "secrets")).toBe("error");
    expect(stateOf(verdict, "test-tampering")).toBe("error");
  });

  it("returns error when GitHub lists fewer files than changed, and success once a local diff supplies them", async () => {
    const files = fixtureFiles("clean");
    const truncated = agentContext(files.slice(0, 1), { totalChangedFiles: 2 });
    const local = agentContext(files, { totalChangedFiles: 2, diffSource: "local" });

    const blind = await evaluate(pack, truncated);
    const complete = await evaluate(pack, local);

    expect(blind.conclusion).toBe("error");
    expect(complete.conclusion).toBe("success");
  });

  it("is pending while the Auditor runs, and failure outranks pending", async () => {
    const running: Partial<PullContext> = { evidence: { headSha: HEAD_SHA, state: "pending" } };

    const pending = await evaluate(pack, agentContext(fixtureFiles("clean"), running));
    const failing = await evaluate(pack, agentContext(fixtureFiles("secret"), running));

    expect(pending.conclusion).toBe("pending");
    expect(failing.conclusion).toBe("failure");
  });

  it("skips the task-bound rules for a human PR and still checks the rest", async () => {
    const ctx = agentContext(fixtureFiles("secret"), {
      isAgentPr: false,
      task: undefined,
      evidence: undefined,
      headRef: "fix-typo",
      author: "octocat",
    });

    const verdict = await evaluate(pack, ctx);

    const skipped = verdict.rules.filter((rule) => rule.state === "skip").map((rule) => rule.kind);
    expect(skipped.sort()).toEqual([...TASK_BOUND_KINDS].sort());
    expect(stateOf(verdict, "secrets")).toBe("fail");
    expect(verdict.conclusion).toBe("failure");
  });

  describe("director overrides", () => {
    const files = fixtureFiles("secret");
    const override = { ruleId: "secrets", by: DIRECTOR, reason: "test fixture tokens, revoked" };

    it("turns the rule into overridden for the matching head SHA, keeping its findings", async () => {
      const ctx = agentContext(files, { overrides: [{ ...override, headSha: HEAD_SHA }] });

      const verdict = await evaluate(pack, ctx);
      const secrets = verdict.rules.find((rule) => rule.ruleId === "secrets");

      expect(verdict.conclusion).toBe("success");
      expect(secrets?.state).toBe("overridden");
      expect(secrets?.summary).toBe(`overridden by @${DIRECTOR}: test fixture tokens, revoked`);
      expect(secrets?.override).toEqual({ by: DIRECTOR, reason: override.reason, originalState: "fail" });
      expect(secrets?.findings).toHaveLength(2);
    });

    it("does not apply to a new push: the rule is judged again", async () => {
      const ctx = agentContext(files, { overrides: [{ ...override, headSha: OLD_HEAD_SHA }] });

      const verdict = await evaluate(pack, ctx);

      expect(stateOf(verdict, "secrets")).toBe("fail");
      expect(verdict.rules.find((rule) => rule.ruleId === "secrets")?.notes[0]).toMatch(/not this head/);
    });

    it("ignores an override recorded for someone who is not a director", async () => {
      const ctx = agentContext(files, { overrides: [{ ...override, by: "mallory", headSha: HEAD_SHA }] });

      const verdict = await evaluate(pack, ctx);

      expect(stateOf(verdict, "secrets")).toBe("fail");
      expect(verdict.rules.find((rule) => rule.ruleId === "secrets")?.notes[0]).toMatch(/not a director/);
    });
  });
});

describe("concludeVerdict", () => {
  it.each([
    { states: ["pass", "skip", "overridden"], conclusion: "success" },
    { states: ["pass", "pending"], conclusion: "pending" },
    { states: ["pending", "error"], conclusion: "error" },
    { states: ["error", "fail", "pending"], conclusion: "failure" },
  ] as const)("$states → $conclusion", ({ states, conclusion }) => {
    const rules = states.map((state) => ({ state }));

    expect(concludeVerdict(rules)).toBe(conclusion);
  });
});
