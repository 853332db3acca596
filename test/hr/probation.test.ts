// Probation as the router sees it: a trial of ten fresh outcomes at most 10 % of a task class, for a new
// employee and equally for one HR put back on probation, counted from the moment its probation began.
import { describe, expect, it } from "vitest";
import { probationOutcomeCounts } from "../../src/accountant/posteriors.js";
import { probationSince } from "../../src/hr/employee-status.js";
import { route, type RouteInput, type RoutingCandidate } from "../../src/manager/route.js";
import { outcome, outcomesWithRewards, repeat, T0 } from "../accountant/outcome-builders.js";

const HOUR = 3_600_000;

function candidate(id: string, overrides: Partial<RoutingCandidate> = {}): RoutingCandidate {
  return { id, provider: "openai", status: "active", capabilities: ["bugfix"], local: false, outcomes: 50, expectedCostUsd: 0.5, ...overrides };
}

function input(issueNumber: number, candidates: RoutingCandidate[]): RouteInput {
  return {
    installationId: 1,
    repo: "octo/app",
    issueNumber,
    taskId: "T1",
    attempt: 1,
    policyRevision: "rev",
    taskClass: "bugfix",
    estimate: { tokens: 1000, usd: 0 },
    candidates,
    allowList: [],
    remainingBudget: { tokens: 1_000_000, usd: 100 },
    isCircuitOpen: () => false,
    dataPolicy: { privateRepo: false, localModelsOnly: false },
    excluded: [],
    taskValueUsd: 20,
  };
}

function shareOf(employee: string, candidates: RoutingCandidate[], draws = 1000): number {
  let wins = 0;
  for (let issue = 1; issue <= draws; issue++) if (route(input(issue, candidates)).winner === employee) wins++;
  return wins / draws;
}

describe("probationSince", () => {
  it("is null for an employee whose state was never changed, and the change time once HR or a director put it on probation", () => {
    const changedAt = new Date(T0.getTime() + HOUR);

    expect(probationSince({ status: "probation", changedBy: null, changedAt })).toBeNull();
    expect(probationSince({ status: "probation", changedBy: "aura/hr", changedAt })).toEqual(changedAt);
    expect(probationSince({ status: "active", changedBy: "aura/hr", changedAt })).toBeNull();
  });
});

describe("probationOutcomeCounts", () => {
  it("counts quality outcomes closed after the probation began, and all of them for an employee that never left it", () => {
    const demoted = outcomesWithRewards([...repeat(30, 1), ...repeat(4, 0)], "demoted");
    const since = demoted[29]?.closedAt ?? T0;
    const newcomer = [
      ...outcomesWithRewards(repeat(3, 1), "newcomer"),
      outcome({ employee: "newcomer", taskId: "outage", result: "provider_error", closedAt: new Date(T0.getTime() + 9 * HOUR) }),
    ];

    const counts = probationOutcomeCounts([...demoted, ...newcomer], new Map([["demoted", since]]));

    expect(counts.get("demoted")).toBe(4);
    expect(counts.get("newcomer")).toBe(3);
  });
});

describe("the router's probation cap", () => {
  // A strong posterior: without the cap this employee wins nearly every draw.
  const demotedBase = { status: "probation" as const, outcomes: 120, posterior: { alpha: 90, beta: 12 }, expectedCostUsd: 0 };
  const active = candidate("active-one", { posterior: { alpha: 30, beta: 12 } });

  it("holds an employee put back on probation to about 10 % until it has ten outcomes on this probation", () => {
    const capped = shareOf("demoted", [active, candidate("demoted", { ...demotedBase, probationOutcomes: 3 })]);
    const free = shareOf("demoted", [active, candidate("demoted", { ...demotedBase, probationOutcomes: 10 })]);

    expect(capped).toBeGreaterThan(0.06);
    expect(capped).toBeLessThan(0.14);
    expect(free).toBeGreaterThan(0.9);
  });

  it("records what it counted and why the employee was capped", () => {
    const candidates = [active, candidate("demoted", { ...demotedBase, probationOutcomes: 3 })];
    const openLane = Array.from({ length: 20 }, (_, i) => route(input(i + 1, candidates))).find((d) => d.probationCap.lane === "open");

    const record = openLane?.candidates.find((c) => c.employeeId === "demoted");

    expect(record).toMatchObject({ outcomes: 120, probationOutcomes: 3, probationCapped: true });
    expect(record?.reason).toContain("on probation with 3 of 10 outcomes");
    expect(openLane?.winner).toBe("active-one");
  });

  it("counts all outcomes when the caller gives no probation count (a newcomer)", () => {
    const decision = route(input(5, [active, candidate("newcomer", { status: "probation", outcomes: 12 })]));

    expect(decision.probationCap.applies).toBe(false);
    expect(decision.candidates.find((c) => c.employeeId === "newcomer")?.probationOutcomes).toBe(12);
  });

  it("does not apply while no active employee is eligible", () => {
    const decision = route(
      input(7, [candidate("demoted", { ...demotedBase, probationOutcomes: 0 }), candidate("other", { status: "probation", outcomes: 40 })]),
    );

    expect(decision.probationCap.applies).toBe(false);
  });
});
