import { describe, expect, it } from "vitest";
import { orderOutcomes, qualityRewards, reward, type OutcomeResult } from "../../src/accountant/outcome.js";
import { outcome, T0 } from "./outcome-builders.js";

describe("reward", () => {
  it.each<[OutcomeResult, number, number | null]>([
    ["merged", 0, 1],
    ["merged", 1, 0.85],
    ["merged", 2, 0.7],
    ["merged", 3, 0.55],
    ["merged", 4, 0.5],
    ["merged", 10, 0.5],
    ["rejected", 0, 0],
    ["rejected", 3, 0],
    ["failed", 0, 0],
    ["provider_error", 0, null],
  ])("%s after %i revision rounds earns %s", (result, revisionRounds, expected) => {
    const value = reward({ result, revisionRounds });

    expect(value).toBe(expected);
  });
});

describe("qualityRewards", () => {
  it("orders by close time and leaves provider errors out", () => {
    const later = new Date(T0.getTime() + 60_000);
    const outcomes = [
      outcome({ result: "merged", revisionRounds: 2, taskId: "b", closedAt: later }),
      outcome({ result: "provider_error", taskId: "c", closedAt: T0 }),
      outcome({ result: "rejected", taskId: "a", closedAt: T0 }),
    ];

    const rewards = qualityRewards(outcomes);

    expect(rewards).toEqual([0, 0.7]);
  });

  it("breaks ties in close time by task id, whatever the input order", () => {
    const outcomes = [outcome({ result: "merged", taskId: "t2" }), outcome({ result: "rejected", taskId: "t1" })];

    const ordered = orderOutcomes(outcomes).map((o) => o.taskId);

    expect(ordered).toEqual(["t1", "t2"]);
    expect(orderOutcomes([...outcomes].reverse()).map((o) => o.taskId)).toEqual(["t1", "t2"]);
  });
});
