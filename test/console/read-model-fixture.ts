// A small company on a real database for the read model and MCP tests: installation 1 with two repositories
// (octo-org/widgets, whose task has a routing decision, an agent run with steps, a pull request judged by the
// Governor and audited by the Auditor, and spend; and octo-org/private-lab), and installation 2 with
// other-org/secret. Audit events name each of them in the subject forms the roles use.
import type pg from "pg";
import { appendEvents } from "../../src/audit/append.js";
import { finishRun, startRun as startAuditorRun, type AuditReport } from "../../src/auditor/evidence-store.js";
import { closeRun, recordStep, startRun } from "../../src/employees/agent/trajectory.js";
import { recordPullHead, storeVerdict } from "../../src/governor/verdict-store.js";
import type { TestDatabase } from "../helpers/database.js";
import { insertRequirement } from "../helpers/services.js";

export const HEAD = "a".repeat(40);
export const BASE = "b".repeat(40);

export type Company = {
  widgets: { requirementId: number; taskId: number };
  lab: { requirementId: number; taskId: number };
  secret: { requirementId: number; taskId: number };
};

export async function seedCompany(db: TestDatabase): Promise<Company> {
  const widgets = await insertRequirement(db, {
    installationId: 1,
    repo: "octo-org/widgets",
    issueNumber: 7,
    tasks: [{ key: "fix-parser", title: "Fix the parser" }],
  });
  const lab = await insertRequirement(db, { installationId: 1, repo: "octo-org/private-lab", issueNumber: 3, tasks: [{ key: "lab-task", title: "Lab work" }] });
  await db.pool.query("INSERT INTO installations (id, account) VALUES (2, 'other-org') ON CONFLICT DO NOTHING");
  const secret = await insertRequirement(db, {
    installationId: 2,
    repo: "other-org/secret",
    issueNumber: 9,
    tasks: [{ key: "secret-task", title: "Secret work" }],
  });
  // As the Manager leaves them: the requirement's plan revision is its tasks' (insertRequirement leaves it 0).
  await db.pool.query("UPDATE requirements SET plan_revision = 1");
  const taskId = widgets.taskIds["fix-parser"] as number;
  await assign(db.pool, taskId, "gpt-worker");
  await db.pool.query("UPDATE tasks SET state = 'pr_open', pr_number = 41, branch = 'aura/7-fix-parser', attempt = 1 WHERE id = $1", [taskId]);
  await recordAgentRun(db.pool, taskId);
  await recordPullHead(db.pool, {
    installationId: 1,
    repo: "octo-org/widgets",
    pullNumber: 41,
    headSha: HEAD,
    agent: true,
    governed: true,
    htmlUrl: "https://github.com/octo-org/widgets/pull/41",
    evaluating: false,
  });
  await storeVerdict(db.pool, {
    installationId: 1,
    repo: "octo-org/widgets",
    pullNumber: 41,
    headSha: HEAD,
    packRevision: "pack-1",
    conclusion: "failure",
    description: "1 rule failed",
    targetUrl: undefined,
    governed: true,
    agent: true,
    rules: [
      { ruleId: "scope", kind: "scope", severity: "major", state: "pass", summary: "every changed file is in scope", findings: [], notes: [] },
      { ruleId: "evidence", kind: "evidence", severity: "critical", state: "fail", summary: "the Auditor's run failed", findings: [], notes: [] },
    ] as never,
  });
  const at = { installationId: 1, repo: "octo-org/widgets", pullNumber: 41, headSha: HEAD };
  await startAuditorRun(db.pool, at, BASE);
  await finishRun(db.pool, at, "failed", auditReport());
  await spend(db.pool, widgets.requirementId, taskId, 0.125);
  await appendEvents(db.pool, [
    { actor: "aura/manager", action: "requirement.planned", subject: "octo-org/widgets#7", payload: {} },
    { actor: "aura/manager", action: "task.assigned", subject: "octo-org/widgets#7/fix-parser", payload: { employee: "gpt-worker" } },
    { actor: "aura/governor", action: "verdict.given", subject: "octo-org/widgets#41", payload: {} },
    { actor: "aura/employees", action: "task.snapshot", subject: `task:${taskId}`, payload: {} },
    { actor: "aura/hr", action: "employee.status_changed", subject: "installation:1/employee:gpt-worker", payload: {} },
    { actor: "aura/manager", action: "requirement.planned", subject: "octo-org/private-lab#3", payload: {} },
    { actor: "aura/manager", action: "requirement.planned", subject: "other-org/secret#9", payload: {} },
    { actor: "aura/employees", action: "task.snapshot", subject: `task:${secret.taskIds["secret-task"]}`, payload: {} },
    { actor: "aura/hr", action: "employee.status_changed", subject: "installation:2/employee:gpt-worker", payload: {} },
  ]);
  return {
    widgets: { requirementId: widgets.requirementId, taskId },
    lab: { requirementId: lab.requirementId, taskId: lab.taskIds["lab-task"] as number },
    secret: { requirementId: secret.requirementId, taskId: secret.taskIds["secret-task"] as number },
  };
}

async function assign(pool: pg.Pool, taskId: number, employee: string): Promise<void> {
  const decision = { kind: "seeded-draw", seed: "seed-1", winner: employee, reason: `${employee} had the best sampled value`, candidates: [] };
  const { rows } = await pool.query<{ id: string }>(
    "INSERT INTO routing_decisions (task_id, attempt, kind, seed, winner, decision) VALUES ($1, 1, 'seeded-draw', 'seed-1', $2, $3) RETURNING id",
    [taskId, employee, JSON.stringify(decision)],
  );
  await pool.query("INSERT INTO assignments (task_id, employee_id, routing_decision_id) VALUES ($1, $2, $3)", [taskId, employee, rows[0]?.id]);
}

async function recordAgentRun(pool: pg.Pool, taskId: number): Promise<void> {
  const subject = "octo-org/widgets#7/fix-parser";
  const runId = await startRun(pool, { taskId, attempt: 1, revisionRound: 0, employeeId: "gpt-worker", mode: "native", maxSteps: 50, jobId: null, subject });
  await recordStep(pool, runId, { kind: "turn", model: "gpt-4.1", inputTokens: 1000, outputTokens: 200, costUsd: 0.01 });
  await recordStep(pool, runId, { kind: "tool", tool: "run_tests", arguments: "{}", status: "ok", exitCode: 1, durationMs: 900, observation: "1 failed" });
  await closeRun(pool, runId, { endReason: "submitted", filesChanged: ["src/parser.ts"] }, { actor: "gpt-worker", subject, taskId });
}

async function spend(pool: pg.Pool, requirementId: number, taskId: number, usd: number): Promise<void> {
  await pool.query(
    `INSERT INTO model_spend (installation_id, repo, requirement_id, task_id, employee_id, purpose, state, reserved_tokens, reserved_usd, tokens, usd, day)
     VALUES (1, 'octo-org/widgets', $1, $2, 'gpt-worker', 'work', 'settled', 0, 0, 1200, $3, '2026-01-15')`,
    [requirementId, taskId, usd],
  );
}

function auditReport(): AuditReport {
  const run = {
    command: "npm test",
    exitCode: 1,
    timedOut: false,
    sandbox: "bwrap" as const,
    counts: { passed: 4, failed: 1, skipped: 0, total: 5, runner: "vitest" },
    logSha256: null,
    durationMs: 1200,
    problem: undefined,
    logTail: "1 failed",
  };
  return { headSha: HEAD, baseSha: BASE, head: run, base: undefined, claim: { kind: "none" }, flags: [], diff: { files: 2, additions: 30, deletions: 4 } };
}
