import { describe, expect, it } from "vitest";
import { reviewEmployee, type HrReviewInput } from "../../src/hr/review-employee.js";
import { DAY, outcome, outcomesWithRewards, repeat, strike, T0 } from "../accountant/outcome-builders.js";

const now = new Date(T0.getTime() + 10 * DAY);
const daysAgo = (days: number) => new Date(now.getTime() - days * DAY);

function review(overrides: Partial<HrReviewInput> & Pick<HrReviewInput, "status">) {
  return reviewEmployee({ outcomes: [], strikes: [], now, ...overrides });
}

// Reward sequences (oldest first) whose bounds sit just either side of a threshold; the bounds are asserted
// below so the pairs stay meaningful if the maths changes.
const LOWER_JUST_OVER_055 = [0, 0.55, 0.55, 0.55, ...repeat(6, 1)]; // lower 0.55290
const LOWER_JUST_UNDER_055 = [...repeat(5, 1), ...repeat(5, 0.55)]; // lower 0.54951
const UPPER_JUST_UNDER_045 = [1, 0.7, 0.7, 0.7, ...repeat(8, 0)]; // upper 0.44772
const UPPER_JUST_OVER_045 = [1, 0.7, 0.7, ...repeat(7, 0)]; // upper 0.45114
const UPPER_JUST_UNDER_030 = [...repeat(10, 0), 1]; // upper 0.29921
const UPPER_JUST_OVER_030 = [...repeat(11, 0), 0.7, 0.7]; // upper 0.30005

describe("promotion (probation → active)", () => {
  it("does not promote at n = 9, even with nine clean merges", () => {
    const decision = review({ status: "probation", outcomes: outcomesWithRewards(repeat(9, 1)) });

    expect(decision.action).toBe("none");
    expect(decision.numbers.n).toBe(9);
    expect(decision.numbers.lowerBound).toBeGreaterThan(0.55);
  });

  it("promotes at n = 10 with clean merges", () => {
    const decision = review({ status: "probation", outcomes: outcomesWithRewards(repeat(10, 1)) });

    expect(decision).toMatchObject({ action: "promote", from: "probation", to: "active" });
    expect(decision.numbers.n).toBe(10);
  });

  it("promotes with the lower bound just over 0.55", () => {
    const decision = review({ status: "probation", outcomes: outcomesWithRewards(LOWER_JUST_OVER_055) });

    expect(decision.numbers.lowerBound).toBeGreaterThanOrEqual(0.55);
    expect(decision.numbers.lowerBound).toBeLessThan(0.555);
    expect(decision.action).toBe("promote");
    expect(decision.reason).toContain("over 10 outcomes");
  });

  it("does not promote with the lower bound just under 0.55", () => {
    const decision = review({ status: "probation", outcomes: outcomesWithRewards(LOWER_JUST_UNDER_055) });

    expect(decision.numbers.lowerBound).toBeLessThan(0.55);
    expect(decision.numbers.lowerBound).toBeGreaterThan(0.545);
    expect(decision).toMatchObject({ action: "none", status: "probation" });
  });

  it("counts n raw: provider errors do not add to it", () => {
    const outcomes = [
      ...outcomesWithRewards(repeat(9, 1)),
      outcome({ taskId: "zz-provider", result: "provider_error", closedAt: new Date(T0.getTime() + 30 * DAY) }),
    ];

    const decision = review({ status: "probation", outcomes });

    expect(decision.numbers.n).toBe(9);
    expect(decision.action).toBe("none");
  });
});

describe("demotion (active → probation) over the last 20 outcomes", () => {
  it("demotes with the upper bound just under 0.45", () => {
    const decision = review({ status: "active", outcomes: outcomesWithRewards(UPPER_JUST_UNDER_045) });

    expect(decision.numbers.recentUpperBound).toBeLessThan(0.45);
    expect(decision.numbers.recentUpperBound).toBeGreaterThan(0.445);
    expect(decision).toMatchObject({ action: "demote", from: "active", to: "probation" });
  });

  it("keeps an active employee with the upper bound just over 0.45", () => {
    const decision = review({ status: "active", outcomes: outcomesWithRewards(UPPER_JUST_OVER_045) });

    expect(decision.numbers.recentUpperBound).toBeGreaterThanOrEqual(0.45);
    expect(decision.numbers.recentUpperBound).toBeLessThan(0.455);
    expect(decision).toMatchObject({ action: "none", status: "active" });
  });

  it("judges the last 20 outcomes, so a long good history does not hide a recent slump", () => {
    const outcomes = outcomesWithRewards([...repeat(85, 1), ...repeat(15, 0)]);

    const decision = review({ status: "active", outcomes });

    expect(decision.numbers).toMatchObject({ n: 100, recentN: 20 });
    expect(decision.numbers.lowerBound).toBeGreaterThan(0.55);
    expect(decision.numbers.recentUpperBound).toBeLessThan(0.45);
    expect(decision.action).toBe("demote");
  });

  it("does not demote at n = 9", () => {
    const decision = review({ status: "active", outcomes: outcomesWithRewards(repeat(9, 0)) });

    expect(decision.action).toBe("none");
  });

  it("never demotes a probation employee (it is already there)", () => {
    const decision = review({ status: "probation", outcomes: outcomesWithRewards(UPPER_JUST_UNDER_045) });

    expect(decision).toMatchObject({ action: "none", status: "probation" });
  });
});

describe("suspension", () => {
  it("suspends on quality with the upper bound just under 0.30", () => {
    const decision = review({ status: "active", outcomes: outcomesWithRewards(UPPER_JUST_UNDER_030) });

    expect(decision.numbers.recentUpperBound).toBeLessThan(0.3);
    expect(decision.numbers.recentUpperBound).toBeGreaterThan(0.295);
    expect(decision).toMatchObject({ action: "suspend", trigger: "quality", from: "active", to: "suspended" });
  });

  it("only demotes with the upper bound just over 0.30", () => {
    const decision = review({ status: "active", outcomes: outcomesWithRewards(UPPER_JUST_OVER_030) });

    expect(decision.numbers.recentUpperBound).toBeGreaterThanOrEqual(0.3);
    expect(decision.numbers.recentUpperBound).toBeLessThan(0.305);
    expect(decision.action).toBe("demote");
  });

  it("needs n >= 10 to suspend on quality: nine rejections in a row are not enough", () => {
    const nine = review({ status: "probation", outcomes: outcomesWithRewards(repeat(9, 0)) });
    const ten = review({ status: "probation", outcomes: outcomesWithRewards(repeat(10, 0)) });

    expect(nine.numbers.recentUpperBound).toBeLessThan(0.3);
    expect(nine.action).toBe("none");
    expect(ten).toMatchObject({ action: "suspend", trigger: "quality", from: "probation" });
  });

  it("does not suspend at 2 strike points in 30 days", () => {
    const strikes = [strike("minor", daysAgo(1), "octo/app#1"), strike("minor", daysAgo(2), "octo/app#2")];

    const decision = review({ status: "active", strikes });

    expect(decision.numbers.strikePoints).toBe(2);
    expect(decision.action).toBe("none");
  });

  it("suspends at 3 strike points in 30 days, whatever the merges", () => {
    const strikes = [1, 2, 3].map((i) => strike("minor", daysAgo(i), `octo/app#${i}`));

    const decision = review({ status: "active", outcomes: outcomesWithRewards(repeat(40, 1)), strikes });

    expect(decision).toMatchObject({ action: "suspend", trigger: "strike_points", numbers: { strikePoints: 3 } });
  });

  it("does not count a strike recorded 30 days ago or earlier", () => {
    const strikes = [strike("minor", daysAgo(1), "octo/app#1"), strike("minor", daysAgo(2), "octo/app#2"), strike("minor", daysAgo(30), "octo/app#3")];

    const decision = review({ status: "active", strikes });

    expect(decision.numbers.strikePoints).toBe(2);
    expect(decision.action).toBe("none");
  });

  it("counts the same rule on the same PR once", () => {
    const strikes = [1, 2, 3].map((i) => strike("minor", daysAgo(i), "octo/app#7", "scope"));

    const decision = review({ status: "active", strikes });

    expect(decision.numbers.strikePoints).toBe(1);
    expect(decision.action).toBe("none");
  });

  it("suspends at once on a critical violation, with no outcomes and at any age", () => {
    const decision = review({ status: "probation", strikes: [strike("critical", daysAgo(90))] });

    expect(decision).toMatchObject({ action: "suspend", trigger: "critical_violation", from: "probation" });
  });

  it("prefers suspension to promotion", () => {
    const decision = review({ status: "probation", outcomes: outcomesWithRewards(repeat(10, 1)), strikes: [strike("major", daysAgo(1))] });

    expect(decision).toMatchObject({ action: "suspend", trigger: "strike_points" });
  });
});

describe("suspended employees", () => {
  it("stay suspended whatever the numbers: only a director reinstates", () => {
    const decision = review({ status: "suspended", outcomes: outcomesWithRewards(repeat(30, 1)) });

    expect(decision).toMatchObject({ action: "none", status: "suspended" });
  });

  it("start from a clean slate after reinstatement: old strikes and outcomes no longer count", () => {
    const reinstatedAt = daysAgo(1);
    const outcomes = outcomesWithRewards(repeat(12, 0)).map((o) => ({ ...o, closedAt: daysAgo(5) }));
    const strikes = [strike("critical", daysAgo(3)), strike("major", daysAgo(2), "octo/app#2")];

    const decision = review({ status: "probation", outcomes, strikes, reinstatedAt });

    expect(decision.numbers).toMatchObject({ n: 0, strikePoints: 0, criticalStrikes: 0 });
    expect(decision).toMatchObject({ action: "none", status: "probation" });
  });

  it("are suspended again by a new critical violation after reinstatement", () => {
    const decision = review({ status: "probation", strikes: [strike("critical", now)], reinstatedAt: daysAgo(1) });

    expect(decision).toMatchObject({ action: "suspend", trigger: "critical_violation" });
  });
});

describe("determinism", () => {
  it("gives the same decision whatever the order of the input rows", () => {
    const outcomes = outcomesWithRewards(UPPER_JUST_UNDER_045);

    const forward = review({ status: "active", outcomes });
    const backward = review({ status: "active", outcomes: [...outcomes].reverse() });

    expect(backward).toEqual(forward);
  });
});

describe("promotion after HR put an employee back on probation", () => {
  const slump = outcomesWithRewards([...repeat(85, 1), ...repeat(15, 0)]);
  const demotedAt = slump.at(-1)?.closedAt ?? T0;

  it("does not promote it straight back on the history that earned the status it lost", () => {
    const decision = review({ status: "probation", outcomes: slump, probationSince: demotedAt });

    expect(decision.numbers.lowerBound).toBeGreaterThan(0.55);
    expect(decision.numbers.probationN).toBe(0);
    expect(decision).toMatchObject({ action: "none", status: "probation" });
  });

  it("promotes it again after ten good outcomes since the demotion", () => {
    const after = outcomesWithRewards([...repeat(85, 1), ...repeat(15, 0), ...repeat(10, 1)]);

    const decision = review({ status: "probation", outcomes: after, probationSince: demotedAt });

    expect(decision.numbers.probationN).toBe(10);
    expect(decision).toMatchObject({ action: "promote", to: "active" });
    expect(decision.reason).toContain("over 10 outcomes since probation began");
  });

  it("judges a newcomer that never left probation on all its outcomes", () => {
    const decision = review({ status: "probation", outcomes: outcomesWithRewards(repeat(10, 1)), probationSince: null });

    expect(decision.numbers).toMatchObject({ n: 10, probationN: 10 });
    expect(decision.action).toBe("promote");
  });
});
