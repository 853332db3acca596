import { describe, expect, it } from "vitest";
import { betaQuantile, logGamma, regularizedIncompleteBeta } from "../../src/accountant/beta-distribution.js";

// Reference values from SciPy 1.17 (scipy.stats.beta.ppf / .cdf).
const QUANTILES: Array<[a: number, b: number, p: number, x: number]> = [
  [2, 5, 0.1, 0.0925952589],
  [2, 5, 0.5, 0.2644499833],
  [2, 5, 0.9, 0.5103163066],
  [2.6801, 2.29, 0.1, 0.2597490986],
  [2.6801, 2.29, 0.9, 0.8099842637],
  [50.3, 40.7, 0.1, 0.485822539],
  [50.3, 40.7, 0.9, 0.6191676233],
  [95.2, 3.1, 0.1, 0.9448386114],
  [0.2, 0.3, 0.1, 0.0000893738],
  [0.2, 0.3, 0.9, 0.9923134416],
];

describe("betaQuantile", () => {
  it.each(QUANTILES)("Beta(%f, %f) at p = %f is %f", (a, b, p, x) => {
    const quantile = betaQuantile(p, a, b);

    expect(quantile).toBeCloseTo(x, 4);
    expect(Math.abs(quantile - x)).toBeLessThan(1e-4);
  });

  it("is the identity for Beta(1, 1), the uniform distribution", () => {
    const ps = [0.01, 0.1, 0.37, 0.5, 0.9, 0.99];

    const quantiles = ps.map((p) => betaQuantile(p, 1, 1));

    quantiles.forEach((q, i) => expect(Math.abs(q - (ps[i] ?? 0))).toBeLessThan(1e-9));
  });

  it.each([
    ["Beta(a, 1): p^(1/a)", 10.5, 1, (p: number) => p ** (1 / 10.5)],
    ["Beta(1, b): 1 − (1 − p)^(1/b)", 1, 7.3, (p: number) => 1 - (1 - p) ** (1 / 7.3)],
    ["Beta(½, ½): sin²(πp/2)", 0.5, 0.5, (p: number) => Math.sin((Math.PI * p) / 2) ** 2],
  ])("matches the closed form of %s", (_name, a, b, closedForm) => {
    const ps = [0.001, 0.1, 0.5, 0.9, 0.999];

    const errors = ps.map((p) => Math.abs(betaQuantile(p, a, b) - closedForm(p)));

    expect(Math.max(...errors)).toBeLessThan(1e-9);
  });

  it("inverts the CDF", () => {
    const x = betaQuantile(0.3, 7.7, 2.2);

    const p = regularizedIncompleteBeta(x, 7.7, 2.2);

    expect(Math.abs(p - 0.3)).toBeLessThan(1e-12);
  });

  it("returns the ends for p = 0 and p = 1 and refuses nonsense", () => {
    expect(betaQuantile(0, 2, 3)).toBe(0);
    expect(betaQuantile(1, 2, 3)).toBe(1);
    expect(() => betaQuantile(1.5, 2, 3)).toThrow(RangeError);
    expect(() => betaQuantile(0.5, 0, 3)).toThrow(RangeError);
  });
});

describe("regularizedIncompleteBeta", () => {
  it.each([
    [0.1, 2, 5, 0.114265],
    [0.3, 2, 5, 0.579825],
    [0.7, 2, 5, 0.989065],
    [0.1, 0.5, 0.5, 0.2048327647],
    [0.7, 2.6801, 2.29, 0.7556847894],
    [0.3, 0.2, 0.3, 0.528003555],
  ])("I_%f(%f, %f) = %f", (x, a, b, expected) => {
    const value = regularizedIncompleteBeta(x, a, b);

    expect(Math.abs(value - expected)).toBeLessThan(1e-9);
  });

  it("agrees with the closed form for integer shapes on both sides of the symmetry switch", () => {
    // For Beta(2, 5): I_x = 1 − (1 − x)^6 − 6x(1 − x)^5.
    const xs = [0.05, 0.2, 0.28, 0.29, 0.6, 0.95];

    const errors = xs.map((x) => Math.abs(regularizedIncompleteBeta(x, 2, 5) - (1 - (1 - x) ** 6 - 6 * x * (1 - x) ** 5)));

    expect(Math.max(...errors)).toBeLessThan(1e-13);
  });
});

describe("logGamma", () => {
  it("matches ln((n − 1)!) and Γ(½) = √π", () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(10)).toBeCloseTo(Math.log(362880), 10);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
  });
});
