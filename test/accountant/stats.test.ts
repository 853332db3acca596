import { describe, expect, it } from "vitest";
import { employeeStats, median, mergeRateBounds, summarizeOutcomes } from "../../src/accountant/stats.js";
import { outcome, T0 } from "./outcome-builders.js";

const MIN = 60_000;
const at = (minutes: number) => new Date(T0.getTime() + minutes * MIN);

describe("summarizeOutcomes", () => {
  const outcomes = [
    outcome({ taskId: "t1", result: "merged", revisionRounds: 1, costUsd: 0.3, latencyMs: 1000, assignedAt: at(0), prOpenedAt: at(10), closedAt: at(100) }),
    outcome({ taskId: "t2", result: "merged", revisionRounds: 0, costUsd: 0.5, latencyMs: 3000, assignedAt: at(0), prOpenedAt: at(30), closedAt: at(101) }),
    outcome({ taskId: "t3", result: "rejected", revisionRounds: 2, costUsd: 0.2, latencyMs: null, assignedAt: at(0), prOpenedAt: at(50), closedAt: at(102) }),
    outcome({ taskId: "t4", result: "failed", costUsd: 0.1, latencyMs: 2000, assignedAt: at(0), prOpenedAt: null, closedAt: at(103) }),
    outcome({ taskId: "t5", result: "provider_error", costUsd: 0, latencyMs: null, assignedAt: at(0), prOpenedAt: null, closedAt: at(104) }),
  ];

  it("counts each kind of outcome and keeps provider errors apart from quality", () => {
    const stats = summarizeOutcomes(outcomes);

    expect(stats).toMatchObject({ tasks: 5, merged: 2, rejected: 1, failed: 1, providerErrors: 1, qualityN: 4, mergeRate: 0.5, pullRequests: 3 });
  });

  it("computes revision rounds per PR, costs, latency and the median time to PR", () => {
    const stats = summarizeOutcomes(outcomes);

    expect(stats.revisionRoundsPerPr).toBeCloseTo(1, 12);
    expect(stats.totalCostUsd).toBeCloseTo(1.1, 12);
    expect(stats.costPerMergedPrUsd).toBeCloseTo(0.55, 12);
    expect(stats.meanCostUsd).toBeCloseTo(0.22, 12);
    expect(stats.meanLatencyMs).toBe(2000);
    expect(stats.medianTimeToPrMs).toBe(30 * MIN);
  });

  it("folds the quality rewards in ledger order into the posterior", () => {
    // rewards 0.85, 1, 0, 0 (oldest first)
    const stats = summarizeOutcomes(outcomes);

    expect(stats.posterior.alpha).toBeCloseTo(1 + 0.85 * 0.99 ** 3 + 0.99 ** 2, 12);
    expect(stats.posterior.beta).toBeCloseTo(1 + 0.15 * 0.99 ** 3 + 0.99 + 1, 12);
    expect(stats.score.lower).toBeLessThan(stats.score.mean);
    expect(stats.score.upper).toBeGreaterThan(stats.score.mean);
  });

  it("leaves undefined numbers null rather than zero", () => {
    const stats = summarizeOutcomes([outcome({ result: "provider_error", costUsd: 0.01 })]);

    expect(stats).toMatchObject({
      tasks: 1,
      qualityN: 0,
      mergeRate: null,
      mergeRateInterval: null,
      costPerMergedPrUsd: null,
      revisionRoundsPerPr: null,
      meanLatencyMs: null,
      medianTimeToPrMs: null,
    });
    expect(stats.meanCostUsd).toBeCloseTo(0.01, 12);
  });
});

describe("mergeRateBounds", () => {
  it("always contains the observed rate, reaching 1 after all merges and 0 after none", () => {
    const all = mergeRateBounds(6, 6);
    const none = mergeRateBounds(0, 5);
    const some = mergeRateBounds(7, 10);

    expect(all.upper).toBe(1);
    expect(all.lower).toBeCloseTo(0.1 ** (1 / 6), 9);
    expect(none.lower).toBe(0);
    expect(none.upper).toBeCloseTo(1 - 0.1 ** (1 / 5), 9);
    expect(some.lower).toBeLessThan(0.7);
    expect(some.upper).toBeGreaterThan(0.7);
  });
});

describe("employeeStats", () => {
  it("keeps only the employee's outcomes and breaks them down by task class", () => {
    const outcomes = [
      outcome({ employee: "a", taskClass: "tests", taskId: "1", result: "merged" }),
      outcome({ employee: "a", taskClass: "docs", taskId: "2", result: "rejected" }),
      outcome({ employee: "a", taskClass: "docs", taskId: "3", result: "merged" }),
      outcome({ employee: "b", taskClass: "docs", taskId: "4", result: "merged" }),
    ];

    const stats = employeeStats("a", outcomes);

    expect(stats.tasks).toBe(3);
    expect(stats.byTaskClass.map((c) => [c.taskClass, c.tasks, c.merged])).toEqual([
      ["docs", 2, 1],
      ["tests", 1, 1],
    ]);
  });
});

describe("median", () => {
  it("takes the middle value, or the mean of the two middle values", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNull();
  });
});
