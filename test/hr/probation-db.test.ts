// HR's probation in the database: a demotion restarts the trial, the router's probation count starts again
// from it, and the old history cannot promote the employee straight back. One installation's ledger never
// counts for another.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordOutcome, type OutcomeEntry } from "../../src/accountant/ledger.js";
import { reviewAndApply } from "../../src/hr/hr-duty.js";
import { loadProbationOutcomes } from "../../src/hr/probation.js";
import type { Services } from "../../src/services.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { insertRequirement, testServices } from "../helpers/services.js";

let db: TestDatabase;
let services: Services;
const MINUTE = 60_000;
let counter = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  services = testServices(db);
});

afterAll(async () => {
  await db.drop();
});

async function record(installationId: number, employeeId: string, results: readonly ("merged" | "rejected")[], firstClosedAt: Date): Promise<void> {
  const { requirementId, taskIds } = await insertRequirement(db, { installationId, issueNumber: ++counter, tasks: [{ key: "T1" }] });
  for (const [i, result] of results.entries()) {
    const closedAt = new Date(firstClosedAt.getTime() + i * MINUTE);
    const entry: OutcomeEntry = {
      installationId,
      employeeId,
      taskClass: "bugfix",
      taskId: taskIds.T1 ?? 0,
      requirementId,
      result,
      revisionRounds: 0,
      costUsd: 0.1,
      latencyMs: null,
      assignedAt: closedAt,
      prOpenedAt: closedAt,
      closedAt,
      repo: "octo-org/widgets",
      prNumber: null,
      closedBy: null,
      eventKey: `test:${installationId}:${employeeId}:${counter}:${i}`,
    };
    await recordOutcome(db.pool, entry);
  }
}

const repeat = <T>(n: number, value: T): T[] => Array.from({ length: n }, () => value);

describe("probation after a demotion", () => {
  it("restarts the router's count and keeps HR from promoting on the old history", async () => {
    const installationId = 601;
    await record(installationId, "slumping", [...repeat(40, "merged" as const), ...repeat(16, "rejected" as const)], new Date(Date.now() - 120 * MINUTE));
    await services.pool.query("INSERT INTO employee_states (installation_id, employee_id, status) VALUES ($1, 'slumping', 'active')", [installationId]);
    const before = await loadProbationOutcomes(services.pool, installationId, "bugfix");

    const demotion = await reviewAndApply(services, installationId, "slumping");
    const right = await loadProbationOutcomes(services.pool, installationId, "bugfix");
    const nextReview = await reviewAndApply(services, installationId, "slumping");
    await record(installationId, "slumping", repeat(3, "merged" as const), new Date(Date.now() + MINUTE));
    const later = await loadProbationOutcomes(services.pool, installationId, "bugfix");

    expect(before.get("slumping")).toBe(56);
    expect(demotion.decision).toMatchObject({ action: "demote", to: "probation" });
    expect(right.get("slumping")).toBeUndefined();
    expect(nextReview.decision.action).toBe("none");
    expect(nextReview.decision.numbers.lowerBound).toBeGreaterThan(0.55);
    expect(later.get("slumping")).toBe(3);
  });

  it("counts a newcomer's outcomes from its first, and only its own installation's", async () => {
    await record(602, "newcomer", repeat(4, "merged" as const), new Date(Date.now() - 30 * MINUTE));
    await record(603, "newcomer", repeat(7, "merged" as const), new Date(Date.now() - 30 * MINUTE));
    await reviewAndApply(services, 602, "newcomer");

    const counts = await loadProbationOutcomes(services.pool, 602, "bugfix");

    expect(counts.get("newcomer")).toBe(4);
  });
});
