import { describe, expect, it } from "vitest";
import { type RouteInput, type RoutingCandidate, ELIGIBILITY_FILTERS, route, routeOverride } from "../../src/manager/route.js";
import { routingSeed } from "../../src/manager/seeded-random.js";
import { routeInput } from "./route-fixtures.js";

function employee(id: string, overrides: Partial<RoutingCandidate> = {}): RoutingCandidate {
  return {
    id,
    provider: "openai",
    status: "active",
    capabilities: ["bugfix", "feature", "docs", "test", "refactor", "dependency"],
    local: false,
    outcomes: 20,
    expectedCostUsd: 0.1,
    ...overrides,
  };
}

function input(overrides: Partial<RouteInput> = {}): RouteInput {
  return routeInput([employee("alpha"), employee("bravo"), employee("charlie")], overrides);
}

function winsOver(seeds: number, make: (issueNumber: number) => RouteInput): Map<string | null, number> {
  const wins = new Map<string | null, number>();
  for (let issue = 1; issue <= seeds; issue++) {
    const winner = route(make(issue)).winner;
    wins.set(winner, (wins.get(winner) ?? 0) + 1);
  }
  return wins;
}

describe("route", () => {
  it("gives the same winner and the same record for the same inputs over 500 seeds", () => {
    const first: unknown[] = [];
    const second: unknown[] = [];

    for (let issue = 1; issue <= 500; issue++) first.push(route(input({ issueNumber: issue })));
    for (let issue = 1; issue <= 500; issue++) second.push(route(input({ issueNumber: issue, candidates: [...input().candidates].reverse() })));

    expect(second).toEqual(first);
  });

  it("spreads equal employees with uniform priors across different seeds", () => {
    const wins = winsOver(600, (issue) => input({ issueNumber: issue }));

    for (const id of ["alpha", "bravo", "charlie"]) {
      expect(wins.get(id) ?? 0).toBeGreaterThan(150);
      expect(wins.get(id) ?? 0).toBeLessThan(250);
    }
  });

  it("uses the sha256 of installation:repo:issue:task:attempt:policyRevision as the seed", () => {
    const decision = route(input());

    expect(decision.seedMaterial).toBe("42:acme/widgets:7:fix-parser:1:rev-1");
    expect(decision.seed).toBe(routingSeed(input()));
    expect(decision.seed).toMatch(/^[0-9a-f]{64}$/);
  });

  it("prefers the employee with the best sampled value, not the best quality (0.6 × $20 − $0.20 beats 0.8 × $20 − $6)", () => {
    const candidates = [
      employee("strong-costly", { posterior: { alpha: 40, beta: 10 }, expectedCostUsd: 6 }),
      employee("medium-cheap", { posterior: { alpha: 30, beta: 20 }, expectedCostUsd: 0.2 }),
      employee("weak-free", { posterior: { alpha: 5, beta: 45 }, expectedCostUsd: 0 }),
    ];

    const wins = winsOver(300, (issue) => input({ issueNumber: issue, candidates }));

    expect(wins.get("medium-cheap") ?? 0).toBeGreaterThan(wins.get("strong-costly") ?? 0);
    expect(wins.get("weak-free") ?? 0).toBe(0);
  });

  it("never chooses a suspended employee, even the best one", () => {
    const candidates = [employee("star", { status: "suspended", posterior: { alpha: 100, beta: 1 } }), employee("plain")];

    const wins = winsOver(200, (issue) => input({ issueNumber: issue, candidates }));

    expect([...wins.keys()]).toEqual(["plain"]);
  });

  it("caps probation newcomers at about 10 % of a task class while an active employee is eligible", () => {
    const candidates = [employee("veteran"), employee("newcomer", { status: "probation", outcomes: 3, posterior: { alpha: 50, beta: 1 } })];

    const wins = winsOver(2000, (issue) => input({ issueNumber: issue, candidates }));

    const share = (wins.get("newcomer") ?? 0) / 2000;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
  });

  it("does not cap probation employees when no active employee is eligible", () => {
    const candidates = [
      employee("veteran", { capabilities: ["docs"] }),
      employee("newcomer-a", { status: "probation", outcomes: 0 }),
      employee("newcomer-b", { status: "probation", outcomes: 0 }),
    ];

    const wins = winsOver(400, (issue) => input({ issueNumber: issue, candidates }));
    const decision = route(input({ candidates }));

    expect((wins.get("newcomer-a") ?? 0) + (wins.get("newcomer-b") ?? 0)).toBe(400);
    expect(wins.get("newcomer-a") ?? 0).toBeGreaterThan(150);
    expect(decision.probationCap).toEqual({ applies: false, u: null, share: 0.1, lane: "none" });
  });

  it("lets a probation employee with 10 or more outcomes compete without the cap", () => {
    const candidates = [employee("veteran"), employee("seasoned", { status: "probation", outcomes: 10 })];

    const wins = winsOver(400, (issue) => input({ issueNumber: issue, candidates }));

    expect(wins.get("seasoned") ?? 0).toBeGreaterThan(150);
  });

  it("fails over past an employee that already failed this task, keeping the others' draws", () => {
    const first = route(input());
    const failed = first.winner ?? "";

    const retry = route(input({ excluded: [failed] }));

    expect(retry.winner).not.toBe(failed);
    expect(retry.winner).not.toBeNull();
    const failedRecord = retry.candidates.find((c) => c.employeeId === failed);
    expect(failedRecord).toMatchObject({ eligible: false, failedFilter: "excluded", draw: null });
    for (const record of retry.candidates.filter((c) => c.employeeId !== failed)) {
      expect(record.draw).toBe(first.candidates.find((c) => c.employeeId === record.employeeId)?.draw);
    }
  });

  it("applies the hard filters in order and records the first one each candidate failed", () => {
    const candidates = [
      employee("a-suspended", { status: "suspended", capabilities: ["docs"] }),
      employee("b-incapable", { capabilities: ["docs"] }),
      employee("c-not-allowed"),
      employee("d-too-expensive", { expectedCostUsd: 50 }),
      employee("e-broken"),
      employee("f-hosted"),
      employee("g-failed-before", { local: true, provider: "ollama" }),
      employee("h-local", { local: true, provider: "ollama", expectedCostUsd: 0 }),
    ];
    const routeInput = input({
      candidates,
      allowList: candidates.map((c) => c.id).filter((id) => id !== "c-not-allowed"),
      isCircuitOpen: (id) => id === "e-broken",
      dataPolicy: { privateRepo: true, localModelsOnly: true },
      excluded: ["g-failed-before"],
    });

    const decision = route(routeInput);

    expect(decision.candidates.map((c) => [c.employeeId, c.failedFilter])).toEqual([
      ["a-suspended", "status"],
      ["b-incapable", "capability"],
      ["c-not-allowed", "allow-list"],
      ["d-too-expensive", "budget"],
      ["e-broken", "circuit-breaker"],
      ["f-hosted", "data-policy"],
      ["g-failed-before", "excluded"],
      ["h-local", null],
    ]);
    expect(ELIGIBILITY_FILTERS).toEqual(["status", "capability", "allow-list", "budget", "circuit-breaker", "data-policy", "excluded"]);
    expect(decision.winner).toBe("h-local");
  });

  it("keeps a complete decision record: every candidate, why, its draw and score, the seed and the winner", () => {
    const candidates = [employee("alpha"), employee("bravo", { status: "suspended" })];

    const decision = route(input({ candidates }));

    expect(decision).toMatchObject({ kind: "seeded-draw", taskClass: "bugfix", attempt: 1, policyRevision: "rev-1", winner: "alpha", override: null });
    const alpha = decision.candidates[0];
    expect(alpha).toMatchObject({ employeeId: "alpha", eligible: true, reason: "eligible", posterior: { alpha: 1, beta: 1 } });
    expect(alpha?.draw).toBeGreaterThan(0);
    expect(alpha?.score).toBeCloseTo((alpha?.draw ?? 0) * 20 - 0.1, 10);
    expect(decision.candidates[1]).toMatchObject({ employeeId: "bravo", eligible: false, failedFilter: "status", draw: null, score: null });
    expect(decision.candidates[1]?.reason).toContain("suspended");
    expect(JSON.parse(JSON.stringify(decision))).toEqual(decision);
  });

  it("names no winner, with the reason, when nobody is eligible", () => {
    const candidates = [employee("alpha", { status: "suspended" }), employee("bravo", { capabilities: ["docs"] })];

    const decision = route(input({ candidates }));

    expect(decision.winner).toBeNull();
    expect(decision.reason).toBe("no eligible employee (1 × status, 1 × capability)");
  });

  it("breaks an exact tie by employee id", () => {
    const candidates = [
      employee("zulu", { posterior: { alpha: 1e9, beta: 1e-9 }, expectedCostUsd: 0 }),
      employee("yankee", { posterior: { alpha: 1e9, beta: 1e-9 }, expectedCostUsd: 0 }),
    ];

    const decision = route(input({ candidates, taskValueUsd: 0 }));

    expect(decision.candidates.map((c) => c.score)).toEqual([0, 0]);
    expect(decision.winner).toBe("yankee");
  });
});

describe("routeOverride", () => {
  it("assigns the director's choice past capability and an earlier failure, recording the router's own pick", () => {
    const candidates = [employee("alpha"), employee("bravo", { capabilities: ["docs"] })];
    const routeInput = input({ candidates, excluded: ["bravo"] });

    const decision = routeOverride(routeInput, { employeeId: "bravo", director: "octocat" });

    expect(decision).toMatchObject({ kind: "director-override", winner: "bravo" });
    expect(decision.override).toEqual({ employeeId: "bravo", director: "octocat", bypassed: ["capability", "excluded"], routerWouldChoose: "alpha" });
    expect(decision.candidates).toHaveLength(2);
  });

  it.each([
    ["a suspended employee", { status: "suspended" as const }, {}, "status"],
    ["an employee over budget", { expectedCostUsd: 99 }, {}, "budget"],
    ["a hosted model on a local-only private repo", {}, { dataPolicy: { privateRepo: true, localModelsOnly: true } }, "data-policy"],
  ])("refuses %s", (_name, candidateOverrides, inputOverrides, filter) => {
    const routeInput = input({ candidates: [employee("alpha"), employee("bravo", candidateOverrides)], ...inputOverrides });

    const decision = routeOverride(routeInput, { employeeId: "bravo", director: "octocat" });

    expect(decision.winner).toBeNull();
    expect(decision.reason).toContain(`fails ${filter}`);
  });

  it("refuses an employee that is not registered", () => {
    const decision = routeOverride(input(), { employeeId: "ghost", director: "octocat" });

    expect(decision.winner).toBeNull();
    expect(decision.reason).toBe("override refused: ghost is not a registered employee");
  });
});
