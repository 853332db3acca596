import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  IllegalTransition,
  REQUIREMENT_STATES,
  STATE_MACHINES,
  TASK_STATES,
  assertTransition,
  canTransition,
  nextStates,
  renderStateMachinesMarkdown,
} from "../../src/core/state-machine.js";

describe("requirement and task state machines", () => {
  it.each([
    ["requirement", "received", "planning"],
    ["requirement", "planning", "needs_director"],
    ["requirement", "planned", "awaiting_approval"],
    ["requirement", "in_progress", "halted", "director"],
    ["requirement", "halted", "in_progress", "director"],
    ["requirement", "needs_director", "done"],
    ["requirement", "in_progress", "cancelled"],
    ["requirement", "failed", "in_progress"],
    ["task", "queued", "assigned"],
    ["task", "pr_open", "working"],
    ["task", "needs_director", "merged"],
    ["task", "rejected", "pr_open"],
    ["task", "assigned", "assigned"],
    ["task", "working", "queued"],
    ["task", "queued", "cancelled"],
  ] as const)("allows %s %s → %s", (kind, from, to, by: "system" | "director" = "system") => {
    const attempt = () => assertTransition(kind, from as never, to as never, by);

    expect(attempt).not.toThrow();
  });

  it.each([
    ["requirement", "done", "in_progress", "done is final"],
    ["requirement", "received", "done", "from received only planning, halted, cancelled are allowed"],
    ["requirement", "halted", "done", "from halted only"],
    ["task", "merged", "working", "merged is final"],
    ["task", "queued", "pr_open", "from queued only"],
    ["task", "cancelled", "queued", "cancelled is final"],
    ["task", "pr_open", "pr_open", "from pr_open only"],
  ] as const)("refuses %s %s → %s", (kind, from, to, detail) => {
    const attempt = () => assertTransition(kind, from as never, to as never);

    expect(attempt).toThrow(IllegalTransition);
    expect(attempt).toThrow(detail);
  });

  it("keeps director-only moves away from the system", () => {
    const bySystem = () => assertTransition("requirement", "awaiting_approval", "in_progress");

    expect(bySystem).toThrow("only a director can do this (/aura approve)");
    expect(canTransition("requirement", "awaiting_approval", "in_progress", "director")).toBe(true);
    expect(canTransition("task", "needs_director", "assigned", "system")).toBe(false);
  });

  it("lets every non-final requirement state be halted, resumed and cancelled", () => {
    const haltable = REQUIREMENT_STATES.filter((s) => !["done", "halted", "failed", "cancelled"].includes(s));

    for (const state of haltable) {
      expect(canTransition("requirement", state, "halted", "director")).toBe(true);
      expect(canTransition("requirement", "halted", state, "director")).toBe(true);
      expect(canTransition("requirement", state, "cancelled")).toBe(true);
    }
  });

  it("reaches every state from the initial one", () => {
    for (const kind of ["requirement", "task", "employee"] as const) {
      const machine = STATE_MACHINES[kind];
      const reached = new Set<string>([machine.initial]);
      let frontier: string[] = [machine.initial];
      while (frontier.length > 0) {
        frontier = frontier.flatMap((state) => nextStates(kind, state as never).filter((next) => !reached.has(next)));
        frontier.forEach((state) => reached.add(state));
      }

      expect([...reached].sort()).toEqual([...machine.states].sort());
    }
  });

  it("refuses a state that does not exist", () => {
    const attempt = () => assertTransition("task", "queued", "paused" as never);

    expect(attempt).toThrow('"paused" is not a task state');
  });

  it("renders every machine as mermaid with a table of transitions", () => {
    const markdown = renderStateMachinesMarkdown();

    expect(markdown.match(/```mermaid\nstateDiagram-v2/g)).toHaveLength(3);
    for (const state of [...REQUIREMENT_STATES, ...TASK_STATES]) expect(markdown).toContain(`\`${state}\``);
    expect(markdown).toContain("suspended --> probation: /aura reinstate (director)");
    expect(markdown).toContain("| `pr_open` | `working` | revision: changes requested or /aura revise | system |");
  });

  it("is published in docs/architecture.md exactly as the code defines it", () => {
    const doc = readFileSync(new URL("../../docs/architecture.md", import.meta.url), "utf8");

    expect(doc).toContain(renderStateMachinesMarkdown().trim());
  });
});

describe("employee lifecycle", () => {
  it("promotes, demotes and suspends on HR's word, and only a director reinstates", () => {
    const moves = [
      canTransition("employee", "probation", "active"),
      canTransition("employee", "active", "probation"),
      canTransition("employee", "active", "suspended"),
      canTransition("employee", "probation", "suspended"),
      canTransition("employee", "suspended", "probation"),
      canTransition("employee", "suspended", "probation", "director"),
      canTransition("employee", "suspended", "active", "director"),
    ];

    expect(moves).toEqual([true, true, true, true, false, true, false]);
  });
});
