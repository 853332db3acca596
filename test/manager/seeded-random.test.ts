import { describe, expect, it } from "vitest";
import { routingSeed, sampleBeta, sampleGamma, seededRandom } from "../../src/manager/seeded-random.js";

const parts = { installationId: 1, repo: "o/r", issueNumber: 2, taskId: "t", attempt: 1, policyRevision: "p" };

describe("seeded randomness", () => {
  it("derives the routing seed from every input part", () => {
    const seed = routingSeed(parts);

    const changed = [
      routingSeed({ ...parts, installationId: 9 }),
      routingSeed({ ...parts, repo: "o/x" }),
      routingSeed({ ...parts, issueNumber: 3 }),
      routingSeed({ ...parts, taskId: "u" }),
      routingSeed({ ...parts, attempt: 2 }),
      routingSeed({ ...parts, policyRevision: "q" }),
    ];

    expect(seed).toBe(routingSeed({ ...parts }));
    expect(new Set([seed, ...changed]).size).toBe(7);
  });

  it("replays the same stream from the same seed and a different one from another stream", () => {
    const a = seededRandom("seed", "x");
    const b = seededRandom("seed", "x");
    const c = seededRandom("seed", "y");

    const first = Array.from({ length: 5 }, () => a());
    const again = Array.from({ length: 5 }, () => b());
    const other = Array.from({ length: 5 }, () => c());

    expect(again).toEqual(first);
    expect(other).not.toEqual(first);
    for (const u of first) expect(u >= 0 && u < 1).toBe(true);
  });

  it("draws uniforms with the right mean and no obvious bias across ten bins", () => {
    const random = seededRandom("uniformity");
    const bins = new Array(10).fill(0);

    for (let i = 0; i < 20_000; i++) bins[Math.floor(random() * 10)]++;

    for (const count of bins) expect(Math.abs(count - 2000)).toBeLessThan(200);
  });

  it.each([
    [1, 1],
    [2, 5],
    [30, 10],
    [0.5, 0.5],
  ])("samples Beta(%d, %d) with the textbook mean and variance", (alpha, beta) => {
    const random = seededRandom(`beta-${alpha}-${beta}`);
    const n = 20_000;
    const draws = Array.from({ length: n }, () => sampleBeta(alpha, beta, random));

    const mean = draws.reduce((s, x) => s + x, 0) / n;
    const variance = draws.reduce((s, x) => s + (x - mean) ** 2, 0) / n;

    const expectedMean = alpha / (alpha + beta);
    const expectedVariance = (alpha * beta) / ((alpha + beta) ** 2 * (alpha + beta + 1));
    expect(Math.abs(mean - expectedMean)).toBeLessThan(0.01);
    expect(Math.abs(variance - expectedVariance) / expectedVariance).toBeLessThan(0.06);
    for (const x of draws) expect(x >= 0 && x <= 1).toBe(true);
  });

  it("refuses a non-positive Gamma shape", () => {
    const random = seededRandom("x");

    expect(() => sampleGamma(0, random)).toThrow(RangeError);
  });
});
