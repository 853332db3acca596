import { describe, expect, it } from "vitest";
import { type Budgets, type EmployeesRegistry, loadBudgets, loadEmployeesRegistry } from "../../src/config/policy-files.js";
import { RepoConfigError, allowedEmployeeIds, effectiveBudgets, parseRepoConfig, taskValue } from "../../src/config/repo-config.js";

const appBudgets: Budgets = {
  version: 1,
  warnAtFraction: 0.8,
  perTask: { tokens: 400_000, usd: 2 },
  perRequirement: { tokens: 1_500_000, usd: 8 },
  perDayPerInstallation: { tokens: 10_000_000, usd: 50 },
};

function problemsOf(yaml: string, context = {}): { path: string; message: string; fix: string }[] {
  try {
    parseRepoConfig(yaml, context);
  } catch (error) {
    if (error instanceof RepoConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("parseRepoConfig", () => {
  it("gives the defaults when the file is missing or empty", () => {
    const missing = parseRepoConfig(null);
    const empty = parseRepoConfig("");

    expect(missing).toEqual({
      requirementLabel: "aura:requirement",
      setup: null,
      test: null,
      directors: [],
      employees: [],
      budgets: {},
      maxOpenAgentPrs: 5,
      maxTasks: 5,
      planApproval: false,
      governAllPullRequests: false,
      dataPolicy: { privateRepoLocalModelsOnly: false },
      auditor: { reviewer: null },
      taskValues: {},
      rules: [],
    });
    expect(empty).toEqual(missing);
  });

  it("reads a full configuration", () => {
    const yaml = [
      "requirementLabel: ai-task",
      "setup: npm ci --ignore-scripts",
      "test: npm test",
      "directors: [octocat, hubot-admin]",
      "employees: [gpt-4.1-mini, qwen2.5-coder-7b]",
      "budgets: { perTask: { usd: 1.5 }, perDay: { tokens: 2000000 } }",
      "maxOpenAgentPrs: 2",
      "maxTasks: 3",
      "planApproval: true",
      "governAllPullRequests: true",
      "dataPolicy: { privateRepoLocalModelsOnly: true }",
      "auditor: { reviewer: gemini-2.5-flash }",
      "taskValues: { bugfix: 40 }",
      "rules: [{ id: max-files, kind: diff-size, maxFiles: 20 }]",
    ].join("\n");

    const config = parseRepoConfig(yaml, { appBudgets });

    expect(config).toMatchObject({
      requirementLabel: "ai-task",
      setup: "npm ci --ignore-scripts",
      test: "npm test",
      directors: ["octocat", "hubot-admin"],
      maxTasks: 3,
      planApproval: true,
      dataPolicy: { privateRepoLocalModelsOnly: true },
      auditor: { reviewer: "gemini-2.5-flash" },
      rules: [{ id: "max-files", kind: "diff-size", maxFiles: 20 }],
    });
    expect(taskValue(config, "bugfix")).toBe(40);
    expect(taskValue(config, "docs")).toBe(5);
    expect(effectiveBudgets(appBudgets, config)).toEqual({
      warnAtFraction: 0.8,
      perTask: { tokens: 400_000, usd: 1.5 },
      perRequirement: { tokens: 1_500_000, usd: 8 },
      perDayPerInstallation: { tokens: 10_000_000, usd: 50 },
      perDayPerRepo: { tokens: 2_000_000, usd: 50 },
    });
  });

  it.each([
    [
      "an unknown top-level key, with a suggestion",
      "maxTask: 3",
      { path: "maxTask", message: "is not a known key", fix: 'did you mean "maxTasks"? Otherwise remove it' },
    ],
    [
      "an unknown nested key",
      "auditor: { reviewr: x }",
      { path: "auditor.reviewr", message: "is not a known key", fix: 'did you mean "reviewer"? Otherwise remove it' },
    ],
    ["a key with no close match", "colour: blue", { path: "colour", message: "is not a known key" }],
    ["a wrong type", "maxTasks: five", { path: "maxTasks", fix: "use a value of type number" }],
    ["a quoted boolean", 'planApproval: "yes"', { path: "planApproval", fix: "use a value of type boolean" }],
    ["a number out of range", "maxOpenAgentPrs: 0", { path: "maxOpenAgentPrs", fix: "use at least 1" }],
    ["a bot as director", "directors: ['dependabot[bot]']", { path: "directors[0]" }],
    ["an unknown task class value", "taskValues: { poetry: 3 }", { path: "taskValues.poetry", message: "is not a known key" }],
    ["invalid YAML", "maxTasks: [3", { path: "line 1, column 13", fix: "correct the YAML syntax at that position" }],
    ["a list instead of a mapping", "- maxTasks", { path: "(top level)", message: "must be a mapping of keys to values" }],
    ["a duplicate key", "maxTasks: 3\nmaxTasks: 4", { message: "Map keys must be unique" }],
  ])("reports %s", (_name, yaml, expected) => {
    const problems = problemsOf(yaml);

    expect(problems).toEqual([expect.objectContaining(expected)]);
  });

  it("lists every problem at once", () => {
    const problems = problemsOf("maxTask: 3\nplanApproval: 1\nbudgets: { perTask: { usd: -1 } }");

    expect(problems.map((p) => p.path).sort()).toEqual(["budgets.perTask.usd", "maxTask", "planApproval"]);
  });

  it.each([
    ["perTask.usd", "budgets: { perTask: { usd: 2.01 } }", "budgets.perTask.usd", "2.01 is higher than the app's limit of 2"],
    [
      "perRequirement.tokens",
      "budgets: { perRequirement: { tokens: 2000000 } }",
      "budgets.perRequirement.tokens",
      "2000000 is higher than the app's limit of 1500000",
    ],
    ["perDay.usd", "budgets: { perDay: { usd: 51 } }", "budgets.perDay.usd", "51 is higher than the app's limit of 50"],
  ])("refuses a budget raise (%s)", (_name, yaml, path, message) => {
    const problems = problemsOf(yaml, { appBudgets });

    expect(problems).toEqual([expect.objectContaining({ path, message: expect.stringContaining(message) })]);
  });

  it("accepts budgets equal to or below the app's", () => {
    const config = parseRepoConfig("budgets: { perTask: { usd: 2, tokens: 1000 } }", { appBudgets });

    expect(config.budgets.perTask).toEqual({ usd: 2, tokens: 1000 });
  });

  it("refuses employees and a reviewer that are not in the registry, and narrows the registry", () => {
    const registry: EmployeesRegistry = loadEmployeesRegistry();

    const problems = problemsOf("employees: [gpt-4.1-mini, gpt-9]\nauditor: { reviewer: nobody }", { registry });
    const config = parseRepoConfig("employees: [qwen2.5-coder-7b]", { registry });

    expect(problems.map((p) => p.path)).toEqual(["employees[1]", "auditor.reviewer"]);
    expect(allowedEmployeeIds(config, registry)).toEqual(["qwen2.5-coder-7b"]);
    expect(allowedEmployeeIds(parseRepoConfig(null), registry)).toHaveLength(registry.employees.length);
  });

  it("checks against the app's real budgets file", () => {
    const budgets = loadBudgets();

    const problems = problemsOf(`budgets: { perTask: { usd: ${budgets.perTask.usd * 10} } }`, { appBudgets: budgets });

    expect(problems).toHaveLength(1);
  });
});
