// Builders for ledger rows in tests: outcomes in ledger order, one hour apart, from a compact description.
import type { OutcomeResult, TaskOutcome } from "../../src/accountant/outcome.js";
import type { Strike, StrikeSeverity } from "../../src/accountant/strikes.js";

export const T0 = new Date("2025-03-01T00:00:00Z");
const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export function outcome(overrides: Partial<TaskOutcome> & { result: OutcomeResult }): TaskOutcome {
  return {
    employee: "emp-a",
    taskClass: "feature",
    taskId: "task-0",
    revisionRounds: 0,
    costUsd: 0,
    latencyMs: null,
    assignedAt: T0,
    prOpenedAt: overrides.result === "merged" || overrides.result === "rejected" ? new Date(T0.getTime() + HOUR) : null,
    closedAt: new Date(T0.getTime() + 2 * HOUR),
    ...overrides,
  };
}

const ROUNDS_FOR_REWARD = new Map([
  [1, 0],
  [0.85, 1],
  [0.7, 2],
  [0.55, 3],
  [0.5, 4],
]);

/** Outcomes earning exactly these rewards, oldest first (0 is a rejection; merges use revision rounds). */
export function outcomesWithRewards(rewards: readonly number[], employee = "emp-a"): TaskOutcome[] {
  return rewards.map((value, i) => {
    const closedAt = new Date(T0.getTime() + i * HOUR);
    const rounds = ROUNDS_FOR_REWARD.get(value);
    if (value !== 0 && rounds === undefined) throw new Error(`No outcome earns reward ${value}`);
    return outcome({
      employee,
      taskId: `${employee}-${String(i).padStart(3, "0")}`,
      result: value === 0 ? "rejected" : "merged",
      revisionRounds: rounds ?? 0,
      assignedAt: new Date(closedAt.getTime() - HOUR),
      closedAt,
    });
  });
}

export function repeat<T>(count: number, value: T): T[] {
  return Array.from({ length: count }, () => value);
}

export function strike(severity: StrikeSeverity, recordedAt: Date, pullRequest = "octo/app#1", ruleId = "protected-paths"): Strike {
  return { employee: "emp-a", pullRequest, ruleId, severity, recordedAt };
}
