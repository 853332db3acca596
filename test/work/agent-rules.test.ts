// The agent's rules without a sandbox: the scope rule layer, how the registry and .github/aura.yml say how
// employees work and how far an agent may go, and routing with the work mode (agent.requireTools).
import { describe, expect, it } from "vitest";
import { loadProtectedPaths, parseEmployeesRegistry, PolicyFileError, workModeOf } from "../../src/config/policy-files.js";
import { agentLimits, parseRepoConfig, RepoConfigError } from "../../src/config/repo-config.js";
import { decideScope } from "../../src/employees/agent/scope-rules.js";
import { route, routeOverride, type RouteInput, type RoutingCandidate } from "../../src/manager/route.js";
import { routeInput as sharedRouteInput } from "../manager/route-fixtures.js";

const protectedPaths = loadProtectedPaths().protected;

function candidate(id: string, workMode: RoutingCandidate["workMode"]): RoutingCandidate {
  return { id, provider: "openai", status: "active", capabilities: ["bugfix"], local: false, outcomes: 20, expectedCostUsd: 0.1, workMode };
}

function routeInput(overrides: Partial<RouteInput>): RouteInput {
  return sharedRouteInput([candidate("agent", "native"), candidate("oneshot", "none")], overrides);
}

function repoProblems(yaml: string): string[] {
  try {
    parseRepoConfig(yaml);
    return [];
  } catch (error) {
    if (error instanceof RepoConfigError) return error.problems.map((problem) => `${problem.path}: ${problem.message}. Fix: ${problem.fix}`);
    throw error;
  }
}

describe("the scope rule layer", () => {
  it("grants a path nobody owns and refuses protected paths, other tasks' files and paths that leave the tree, each with its reason", () => {
    const decision = decideScope({
      requested: ["lib/ops.js", "lib/ops.js", "docs/guide.md", ".github/workflows/ci.yml", "package-lock.json", "../outside.js", ".github/**"],
      taskClass: "bugfix",
      protectedPaths,
      others: [{ taskKey: "write-docs", globs: ["docs/**"] }],
    });

    expect(decision.granted).toEqual(["lib/ops.js"]);
    expect(decision.refused.map((refusal) => refusal.path)).toEqual([
      "docs/guide.md",
      ".github/workflows/ci.yml",
      "package-lock.json",
      "../outside.js",
      ".github/**",
    ]);
    expect(decision.refused[0]?.reason).toBe(
      "docs/guide.md belongs to task write-docs of the same requirement (its scope docs/**); two tasks may not edit the same files",
    );
    expect(decision.refused[1]?.reason).toMatch(
      /^\.github\/workflows\/ci\.yml is a protected path \(\.github\/workflows\/\*\*: .*\); bugfix tasks may not change it$/,
    );
    expect(decision.refused[4]?.reason).toMatch(/^\.github\/\*\* reaches a protected path/);
  });

  it("lets a task class its protected path allows (a dependency task and the lock file)", () => {
    const decision = decideScope({ requested: ["package-lock.json"], taskClass: "dependency", protectedPaths, others: [] });

    expect(decision).toEqual({ granted: ["package-lock.json"], refused: [] });
  });
});

describe("how employees work and how far an agent may go", () => {
  it("defaults to native tools for hosted providers and the action protocol for Ollama, and takes an explicit tools setting", () => {
    expect(workModeOf({ provider: "openai" })).toBe("native");
    expect(workModeOf({ provider: "gemini" })).toBe("native");
    expect(workModeOf({ provider: "ollama" })).toBe("actions");
    expect(workModeOf({ provider: "openai", tools: "none" })).toBe("none");
  });

  it("refuses an unknown tools value in employees.yml, naming the employee's entry", () => {
    const yaml = [
      "version: 1",
      "manager: [m]",
      "employees:",
      "  - { id: m, provider: openai, model: gpt-4.1-mini, capabilities: [bugfix], limits: { maxTokensPerCall: 100, timeoutSeconds: 10 }, dataPolicy: { local: false }, tools: sometimes }",
    ].join("\n");

    expect(() => parseEmployeesRegistry(yaml)).toThrow(PolicyFileError);
    expect(() => parseEmployeesRegistry(yaml)).toThrow(/employees\[0\]\.tools/);
  });

  it("reads the step cap per task class, then per repository, then the default of 50", () => {
    const config = parseRepoConfig("agent: { maxSteps: 20, maxStepsByClass: { docs: 5 }, maxMinutes: 10, requireTools: true }");

    expect(agentLimits(config, "docs")).toEqual({ maxSteps: 5, maxMinutes: 10, maxIdleTurns: 6, requireTools: true });
    expect(agentLimits(config, "bugfix").maxSteps).toBe(20);
    expect(agentLimits(parseRepoConfig(null), "bugfix")).toEqual({ maxSteps: 50, maxMinutes: 30, maxIdleTurns: 6, requireTools: false });
  });

  it("names each bad agent setting with its fix", () => {
    expect(repoProblems("agent: { maxSteps: 0 }")).toEqual(["agent.maxSteps: Too small: expected number to be >=1. Fix: use at least 1"]);
    expect(repoProblems("agent: { maxStepz: 3 }")).toEqual(['agent.maxStepz: is not a known key. Fix: did you mean "maxSteps"? Otherwise remove it']);
    expect(repoProblems("agent: { maxStepsByClass: { docz: 3 } }")).toEqual([
      'agent.maxStepsByClass.docz: is not a known key. Fix: did you mean "docs"? Otherwise remove it',
    ]);
  });
});

describe("routing with the work mode", () => {
  it("records how the winner works, and leaves employees without tools out when the repository requires tools", () => {
    const open = route(routeInput({ candidates: [candidate("oneshot", "none")] }));
    const required = route(routeInput({ requireTools: true }));

    expect(open).toMatchObject({ winner: "oneshot", workMode: "none" });
    expect(required).toMatchObject({ winner: "agent", workMode: "native" });
    expect(required.candidates.find((record) => record.employeeId === "oneshot")).toMatchObject({
      eligible: false,
      failedFilter: "allow-list",
      workMode: "none",
      reason: "works without tools (tools: none), and this repository requires tools (agent.requireTools)",
    });
  });

  it("does not let a director's reassignment waive the repository's requirement of tools", () => {
    const decision = routeOverride(routeInput({ requireTools: true }), { employeeId: "oneshot", director: "octocat" });

    expect(decision.winner).toBeNull();
    expect(decision.reason).toContain("override refused: oneshot fails allow-list");
  });
});
