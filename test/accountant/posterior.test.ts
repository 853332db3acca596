import { describe, expect, it } from "vitest";
import { credibleInterval, foldPosterior, posteriorMean } from "../../src/accountant/posterior.js";

describe("foldPosterior", () => {
  it("starts from the uniform prior", () => {
    const posterior = foldPosterior([]);

    expect(posterior).toEqual({ alpha: 1, beta: 1 });
  });

  it("weights each reward by 0.99 per newer reward (exact numbers)", () => {
    // rewards oldest first: 1 (age 2), 0 (age 1), 0.7 (age 0)
    // alpha = 1 + 0.99²·1 + 0.99·0 + 0.7 = 2.6801; beta = 1 + 0 + 0.99·1 + 0.3 = 2.29
    const posterior = foldPosterior([1, 0, 0.7]);

    expect(posterior.alpha).toBeCloseTo(2.6801, 12);
    expect(posterior.beta).toBeCloseTo(2.29, 12);
  });

  it("equals the closed form alpha = 1 + Σ γ^age r over a long sequence", () => {
    const rewards = Array.from({ length: 250 }, (_, i) => [1, 0.85, 0, 0.55, 0.7][i % 5] ?? 0);
    const n = rewards.length;
    const alpha = 1 + rewards.reduce((sum, r, i) => sum + 0.99 ** (n - 1 - i) * r, 0);
    const beta = 1 + rewards.reduce((sum, r, i) => sum + 0.99 ** (n - 1 - i) * (1 - r), 0);

    const posterior = foldPosterior(rewards);

    expect(posterior.alpha).toBeCloseTo(alpha, 9);
    expect(posterior.beta).toBeCloseTo(beta, 9);
  });

  it("lets recent outcomes outweigh old ones: the same rewards in another order give another mean", () => {
    const improving = foldPosterior([...Array(50).fill(0), ...Array(50).fill(1)]);
    const declining = foldPosterior([...Array(50).fill(1), ...Array(50).fill(0)]);

    expect(posteriorMean(improving)).toBeGreaterThan(0.6);
    expect(posteriorMean(declining)).toBeLessThan(0.4);
  });

  it("without forgetting (γ = 1) counts successes and failures", () => {
    const posterior = foldPosterior([1, 1, 0], 1);

    expect(posterior).toEqual({ alpha: 3, beta: 2 });
  });

  it("refuses rewards outside [0, 1] and a forgetting factor outside (0, 1]", () => {
    expect(() => foldPosterior([1.2])).toThrow(RangeError);
    expect(() => foldPosterior([0.5], 0)).toThrow(RangeError);
  });
});

describe("credibleInterval", () => {
  it("gives the 10 % and 90 % quantiles", () => {
    const interval = credibleInterval({ alpha: 2, beta: 5 });

    expect(interval.lower).toBeCloseTo(0.0925952589, 6);
    expect(interval.upper).toBeCloseTo(0.5103163066, 6);
  });

  it("is 0.1 to 0.9 for an employee with no outcomes", () => {
    const interval = credibleInterval(foldPosterior([]));

    expect(interval.lower).toBeCloseTo(0.1, 9);
    expect(interval.upper).toBeCloseTo(0.9, 9);
  });
});
