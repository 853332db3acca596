import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordOutcome } from "../../src/accountant/ledger.js";
import { reviewAndApply } from "../../src/hr/hr-duty.js";
import { routeTask } from "../../src/manager/assign.js";
import { inTransaction } from "../../src/core/transitions.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { insertRequirement, testServices } from "../helpers/services.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

describe("routeTask", () => {
  it("assigns through a recorded routing decision, audits it and enqueues the work", async () => {
    const services = testServices(db);
    const { taskIds } = await insertRequirement(db, { issueNumber: 1, tasks: [{ key: "fix-login" }] });
    const taskId = taskIds["fix-login"] as number;

    const result = await inTransaction(db.pool, (client) => routeTask(services, client, taskId));

    expect(result.employeeId).not.toBeNull();
    const assignment = (await db.pool.query("SELECT employee_id, routing_decision_id FROM assignments WHERE task_id = $1 AND active", [taskId])).rows[0];
    expect(assignment).toEqual({ employee_id: result.employeeId, routing_decision_id: result.decisionId });
    const task = (await db.pool.query("SELECT state, attempt FROM tasks WHERE id = $1", [taskId])).rows[0];
    expect(task).toEqual({ state: "assigned", attempt: 1 });
    const decision = (await db.pool.query("SELECT decision FROM routing_decisions WHERE id = $1", [result.decisionId])).rows[0].decision;
    expect(decision.candidates.length).toBeGreaterThan(0);
    expect(decision.seed).toMatch(/^[0-9a-f]{64}$/);
    const audit = await db.pool.query("SELECT action FROM audit.events WHERE payload->>'taskId' = $1 ORDER BY seq", [String(taskId)]);
    expect(audit.rows.map((r) => r.action)).toEqual(["task.routed", "task.transitioned"]);
    const job = await db.pool.query("SELECT key FROM graphile_worker.jobs WHERE key = $1", [`task:${taskId}`]);
    expect(job.rowCount).toBe(1);
  });

  it("is the only way to assign: the database refuses an assignment that no routing decision made", async () => {
    const services = testServices(db);
    const { taskIds } = await insertRequirement(db, { issueNumber: 2, tasks: [{ key: "a" }, { key: "b" }] });
    const routed = await inTransaction(db.pool, (client) => routeTask(services, client, taskIds["a"] as number));

    const forgedEmployee = db.pool.query("INSERT INTO assignments (task_id, employee_id, routing_decision_id) VALUES ($1, 'someone-else', $2)", [
      taskIds["a"],
      routed.decisionId,
    ]);
    const otherTask = db.pool.query("INSERT INTO assignments (task_id, employee_id, routing_decision_id) VALUES ($1, $2, $3)", [
      taskIds["b"],
      routed.employeeId,
      routed.decisionId,
    ]);

    await expect(forgedEmployee).rejects.toThrow(/does not match routing decision|duplicate key/);
    await expect(otherTask).rejects.toThrow(/does not match routing decision|duplicate key/);
  });

  it("never routes to a suspended employee and records why", async () => {
    const services = testServices(db);
    const employees = services.policies.employees.employees.map((e) => e.id);
    const { taskIds } = await insertRequirement(db, { issueNumber: 3, installationId: 9, tasks: [{ key: "t" }] });
    for (const id of employees.slice(0, -1)) {
      await db.pool.query("INSERT INTO employee_states (installation_id, employee_id, status) VALUES (9, $1, 'suspended')", [id]);
    }

    const result = await inTransaction(db.pool, (client) => routeTask(services, client, taskIds["t"] as number));

    const suspended = result.decision.candidates.filter((c) => c.status === "suspended");
    expect(suspended.every((c) => !c.eligible && c.failedFilter === "status")).toBe(true);
    expect(result.employeeId === null || !employees.slice(0, -1).includes(result.employeeId)).toBe(true);
  });

  it("gives the same assignment for the same inputs", async () => {
    const services = testServices(db);
    const first = await insertRequirement(db, { issueNumber: 4, installationId: 20, tasks: [{ key: "same" }] });
    const winners: (string | null)[] = [];
    for (let i = 0; i < 2; i++) {
      await db.pool.query("UPDATE tasks SET attempt = 0, state = 'queued' WHERE id = $1", [first.taskIds["same"]]);
      await db.pool.query("UPDATE assignments SET active = false WHERE task_id = $1", [first.taskIds["same"]]);
      const result = await inTransaction(db.pool, (client) => routeTask(services, client, first.taskIds["same"] as number));
      winners.push(result.employeeId);
    }

    expect(winners[0]).toBe(winners[1]);
  });

  it("caps an employee HR put back on probation although its old outcomes number more than ten", async () => {
    const services = testServices(db);
    const installationId = 40;
    const [slumping, steady] = services.policies.employees.employees.map((e) => e.id);
    const history = await insertRequirement(db, { issueNumber: 50, installationId, tasks: [{ key: "old", taskClass: "bugfix" }] });
    const results = [...Array.from({ length: 40 }, () => "merged" as const), ...Array.from({ length: 16 }, () => "rejected" as const)];
    for (const [i, result] of results.entries()) {
      const closedAt = new Date(Date.now() - (120 - i) * 60_000);
      await recordOutcome(db.pool, {
        installationId,
        employeeId: slumping as string,
        taskClass: "bugfix",
        taskId: history.taskIds["old"] as number,
        requirementId: history.requirementId,
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
        eventKey: `cap-test:${i}`,
      });
    }
    await db.pool.query("INSERT INTO employee_states (installation_id, employee_id, status) VALUES ($1, $2, 'active'), ($1, $3, 'active')", [
      installationId,
      slumping,
      steady,
    ]);
    const demotion = await reviewAndApply(services, installationId, slumping as string);
    const { taskIds } = await insertRequirement(db, { issueNumber: 51, installationId, tasks: [{ key: "next", taskClass: "bugfix" }] });

    const result = await inTransaction(db.pool, (client) => routeTask(services, client, taskIds["next"] as number));

    expect(demotion.decision).toMatchObject({ action: "demote", to: "probation" });
    const record = result.decision.candidates.find((c) => c.employeeId === slumping);
    expect(record).toMatchObject({ status: "probation", outcomes: 56, probationOutcomes: 0 });
    expect(result.decision.probationCap.applies).toBe(true);
  });
});
