import { describe, expect, it } from "vitest";
import { type TaskNode, dependencyCycles } from "../../src/manager/task-graph.js";

const node = (id: string, ...dependsOn: string[]): TaskNode => ({ id, dependsOn });

describe("dependencyCycles", () => {
  it("finds none in an ordered plan, ignoring dependencies on ids not in the plan", () => {
    const tasks = [node("a"), node("b", "a", "ghost"), node("c", "a", "b")];

    const cycles = dependencyCycles(tasks);

    expect(cycles).toEqual([]);
  });

  it("names each cycle from its first task in plan order, following dependencies in the order listed", () => {
    const tasks = [node("x"), node("c", "a"), node("a", "b"), node("b", "c", "x")];

    const cycles = dependencyCycles(tasks);

    expect(cycles).toEqual([["c", "a", "b", "c"]]);
  });

  it("takes the first listed way back when a group has several cycles", () => {
    const tasks = [node("a", "c", "b"), node("b", "a"), node("c", "b")];

    const cycles = dependencyCycles(tasks);

    expect(cycles).toEqual([["a", "c", "b", "a"]]);
  });

  it("reports one cycle per group, in plan order of each group's first task, and self-dependencies as [id, id]", () => {
    const tasks = [node("p", "q"), node("s", "s"), node("q", "p"), node("m", "n"), node("n", "m")];

    const cycles = dependencyCycles(tasks);

    expect(cycles).toEqual([
      ["p", "q", "p"],
      ["s", "s"],
      ["m", "n", "m"],
    ]);
  });

  it("counts a repeated id once, at its first task", () => {
    const tasks = [node("a"), node("b", "a"), node("a", "b")];

    const cycles = dependencyCycles(tasks);

    expect(cycles).toEqual([]);
  });
});
