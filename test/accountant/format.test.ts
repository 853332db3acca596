import { describe, expect, it } from "vitest";
import { formatCount, formatDuration, formatRate, formatScore, formatUsd } from "../../src/accountant/format.js";

describe("formatUsd", () => {
  it.each([
    [1.234, "$1.23"],
    [0, "$0.00"],
    [0.004, "<$0.01"],
    [0.005, "$0.01"],
    [1234567.891, "$1,234,567.89"],
    [null, "n/a"],
  ])("%s → %s", (amount, expected) => {
    expect(formatUsd(amount)).toBe(expected);
  });
});

describe("formatRate", () => {
  it("writes the rate and its interval as whole percents", () => {
    expect(formatRate(0.6234, { lower: 0.481, upper: 0.7549 })).toBe("62 % [48–75 %]");
    expect(formatRate(null, null)).toBe("n/a");
  });
});

describe("formatScore", () => {
  it("writes decimals and can bold the lower bound", () => {
    expect(formatScore({ mean: 0.7412, lower: 0.6234, upper: 0.8401 }, { boldLower: true })).toBe("0.74 [**0.62**–0.84]");
  });
});

describe("formatDuration", () => {
  it.each([
    [45_000, "45 s"],
    [42 * 60_000, "42 min"],
    [3.5 * 3_600_000, "3.5 h"],
    [2 * 3_600_000, "2 h"],
    [50 * 3_600_000, "2.1 d"],
    [null, "n/a"],
  ])("%s ms → %s", (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });
});

describe("formatCount", () => {
  it("uses the singular for one and the plural otherwise", () => {
    expect([
      formatCount(0, "task"),
      formatCount(1, "task"),
      formatCount(2, "task"),
      formatCount(1, "repository", "repositories"),
      formatCount(3, "repository", "repositories"),
    ]).toEqual(["0 tasks", "1 task", "2 tasks", "1 repository", "3 repositories"]);
  });
});
