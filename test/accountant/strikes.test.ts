import { describe, expect, it } from "vitest";
import { countedStrikes, criticalStrikes, strikePoints } from "../../src/accountant/strikes.js";
import { DAY, strike, T0 } from "./outcome-builders.js";

const now = new Date(T0.getTime() + 60 * DAY);
const daysAgo = (days: number) => new Date(now.getTime() - days * DAY);

describe("strikePoints", () => {
  it("counts minor as 1 and major as 3 within the window", () => {
    const strikes = [strike("minor", daysAgo(1), "octo/app#1"), strike("major", daysAgo(29), "octo/app#2")];

    const points = strikePoints(strikes, now);

    expect(points).toBe(4);
  });

  it("drops strikes 30 days old or older and keeps those just inside", () => {
    const strikes = [
      strike("major", daysAgo(30), "octo/app#1"),
      strike("major", daysAgo(45), "octo/app#2"),
      strike("minor", new Date(daysAgo(30).getTime() + 1), "octo/app#3"),
    ];

    const points = strikePoints(strikes, now);

    expect(points).toBe(1);
  });

  it("counts a (PR, rule) pair once, however often it was recorded", () => {
    const strikes = [
      strike("minor", daysAgo(2), "octo/app#7", "scope"),
      strike("minor", daysAgo(1), "octo/app#7", "scope"),
      strike("minor", daysAgo(1), "octo/app#7", "secrets"),
      strike("minor", daysAgo(1), "octo/other#7", "scope"),
    ];

    const points = strikePoints(strikes, now);

    expect(points).toBe(3);
  });

  it("keeps the highest severity and first time of a duplicated (PR, rule)", () => {
    const strikes = [strike("minor", daysAgo(5), "octo/app#7", "scope"), strike("major", daysAgo(3), "octo/app#7", "scope")];

    const counted = countedStrikes(strikes);

    expect(counted).toHaveLength(1);
    expect(counted[0]).toMatchObject({ severity: "major", recordedAt: daysAgo(5) });
  });

  it("honours a custom window", () => {
    const strikes = [strike("major", daysAgo(10))];

    expect(strikePoints(strikes, now, 7)).toBe(0);
    expect(strikePoints(strikes, now, 14)).toBe(3);
  });
});

describe("criticalStrikes", () => {
  it("finds critical strikes at any age", () => {
    const strikes = [strike("critical", daysAgo(400), "octo/app#1"), strike("major", daysAgo(1), "octo/app#2")];

    const critical = criticalStrikes(strikes);

    expect(critical.map((s) => s.pullRequest)).toEqual(["octo/app#1"]);
  });
});
