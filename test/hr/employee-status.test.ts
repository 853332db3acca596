import { describe, expect, it } from "vitest";
import { canTransition, IllegalEmployeeTransition, INITIAL_STATUS, transition } from "../../src/hr/employee-status.js";

describe("employee status transitions", () => {
  it("starts new employees on probation", () => {
    expect(INITIAL_STATUS).toBe("probation");
  });

  it("lets HR promote, demote and suspend", () => {
    expect(transition("probation", "active", "hr")).toBe("active");
    expect(transition("active", "probation", "hr")).toBe("probation");
    expect(transition("active", "suspended", "hr")).toBe("suspended");
  });

  it("lets only a director reinstate, and only to probation", () => {
    expect(canTransition("suspended", "probation", "director")).toBe(true);
    expect(canTransition("suspended", "probation", "hr")).toBe(false);
    expect(canTransition("suspended", "active", "director")).toBe(false);
  });

  it("throws a typed error that says how to reinstate", () => {
    const attempt = () => transition("suspended", "probation", "hr");

    expect(attempt).toThrow(IllegalEmployeeTransition);
    expect(attempt).toThrow("/aura reinstate");
  });
});
