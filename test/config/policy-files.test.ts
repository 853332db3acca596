import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  PolicyFileError,
  loadPolicySet,
  loadProtectedPaths,
  parseBudgets,
  parseEmployeesRegistry,
  parseProtectedPaths,
  policyRevision,
} from "../../src/config/policy-files.js";
import { validatePlan } from "../../src/manager/validate-plan.js";

function problemsOf(parse: () => unknown): { path: string; message: string; fix: string }[] {
  try {
    parse();
  } catch (error) {
    if (error instanceof PolicyFileError) return error.problems;
    throw error;
  }
  return [];
}

describe("the shipped policy files", () => {
  it("load, with a stable revision, one employee per provider and Ollama marked local", () => {
    const first = loadPolicySet();
    const second = loadPolicySet();

    expect(second.revision).toBe(first.revision);
    expect(first.revision).toMatch(/^[0-9a-f]{16}$/);
    expect(first.employees.employees.map((e) => e.provider).sort()).toEqual(["gemini", "ollama", "openai"]);
    expect(first.employees.employees.find((e) => e.provider === "ollama")).toMatchObject({ model: "qwen2.5-coder:7b", dataPolicy: { local: true } });
    expect(first.budgets.warnAtFraction).toBe(0.8);
  });

  it("protect workflows, Aura's config, CODEOWNERS and lock files, but not the target repo's policies/", () => {
    const { protected: rules } = loadProtectedPaths();
    const check = (scope: string, taskClass: "feature" | "dependency" = "feature") =>
      validatePlan(
        {
          summary: "s",
          tasks: [{ id: "t", title: "t", instructions: "i", taskClass, scope: [scope], acceptance: ["a"], dependsOn: [], estimate: { tokens: 1, usd: 0 } }],
        },
        { maxTasks: 5, protectedGlobs: rules, budget: { perTask: { tokens: 10, usd: 1 }, perRequirement: { tokens: 10, usd: 1 } } },
      ).ok;

    const verdicts = [".github/workflows/ci.yml", ".github/aura.yml", "CODEOWNERS", "docs/CODEOWNERS", "yarn.lock", "policies/**", "src/**"].map((scope) =>
      check(scope),
    );

    expect(verdicts).toEqual([false, false, false, false, false, true, true]);
    expect(check("package-lock.json", "dependency")).toBe(true);
  });
});

describe("policy file validation (fail closed)", () => {
  const employee =
    "{ id: e1, provider: openai, model: m, capabilities: [bugfix], limits: { maxTokensPerCall: 1000, timeoutSeconds: 60 }, dataPolicy: { local: false } }";

  it.each([
    ["an unknown provider", `version: 1\nmanager: [e1]\nemployees: [${employee.replace("openai", "anthropic")}]`, "employees[0].provider"],
    [
      "a hosted model marked local",
      `version: 1\nmanager: [e1]\nemployees: [${employee.replace("local: false", "local: true")}]`,
      "employees[0].dataPolicy.local",
    ],
    ["a duplicate id", `version: 1\nmanager: [e1]\nemployees: [${employee}, ${employee}]`, "employees[1].id"],
    ["a manager that is not an employee", `version: 1\nmanager: [e2]\nemployees: [${employee}]`, "manager[0]"],
    ["an unknown capability", `version: 1\nmanager: [e1]\nemployees: [${employee.replace("[bugfix]", "[poetry]")}]`, "employees[0].capabilities[0]"],
    ["an unknown key", `version: 1\nmanager: [e1]\nemployees: [${employee.replace("model: m", "model: m, temperature: 2")}]`, "employees[0].temperature"],
  ])("refuses an employees registry with %s", (_name, yaml, problemPath) => {
    const problems = problemsOf(() => parseEmployeesRegistry(yaml));

    expect(problems.map((p) => p.path)).toEqual([problemPath]);
  });

  it("refuses budgets where a smaller scope exceeds a larger one", () => {
    const yaml = "version: 1\nperTask: { tokens: 10, usd: 9 }\nperRequirement: { tokens: 100, usd: 8 }\nperDayPerInstallation: { tokens: 1000, usd: 50 }";

    const problems = problemsOf(() => parseBudgets(yaml));

    expect(problems).toEqual([expect.objectContaining({ path: "perTask.usd", message: "must not exceed perRequirement.usd (8)" })]);
  });

  it.each([
    ["a negated glob", "!src/**"],
    ["an absolute glob", "/etc/**"],
    ["an extglob", "+(a|b)/**"],
    ["a bang class picomatch would misread", ".github/[!x]/**"],
  ])("refuses a protected path with %s", (_name, glob) => {
    const problems = problemsOf(() => parseProtectedPaths(`version: 1\nprotected: [{ glob: "${glob}", reason: r }]`));

    expect(problems).toHaveLength(1);
    expect(problems[0]?.path).toBe("protected[0].glob");
  });

  it("names the file and says how to fix a missing one", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "aura-policies-"));
    writeFileSync(path.join(dir, "employees.yml"), "version: 1\n");

    const attempt = () => loadPolicySet(dir);

    expect(attempt).toThrow(PolicyFileError);
    expect(attempt).toThrow(/employees\.yml is invalid/);
    expect(problemsOf(() => loadProtectedPaths(dir))[0]?.fix).toBe("restore protected-paths.yml in the policies directory");
  });

  it("changes the revision when any policy changes", () => {
    const base = loadPolicySet();

    const changed = policyRevision({ employees: base.employees, budgets: { ...base.budgets, warnAtFraction: 0.7 }, protectedPaths: base.protectedPaths });

    expect(changed).not.toBe(base.revision);
  });
});
