// A recorded agent run for the readers of the trajectory (the PR body's summary, `aura trajectory`, the status
// comment's current step): a requirement with one task, and a run of scripted steps written through the real
// trajectory store (startRun, recordStep, closeRun), so what they read is what the loop writes.
import { closeRun, recordStep, startRun, type RunEnd, type StepRecord } from "../../src/employees/agent/trajectory.js";
import type { TestDatabase } from "../helpers/database.js";
import { insertRequirement } from "../helpers/services.js";

export const turnStep = (calls: string, tokens = 1000): StepRecord => ({
  kind: "turn",
  model: "gpt-4.1-mini",
  inputTokens: tokens,
  outputTokens: 50,
  costUsd: 0.0012,
  latencyMs: 900,
  observation: `[calls: ${calls}]`,
});

export const toolStep = (tool: string, args: Record<string, unknown> | string, observation: string, exitCode?: number): StepRecord => ({
  kind: "tool",
  tool,
  arguments: typeof args === "string" ? args : JSON.stringify(args),
  status: "ok",
  ...(exitCode !== undefined ? { exitCode } : {}),
  durationMs: 42,
  observation,
});

/** A task of its own (key `fix-login` on `octo-org/widgets#<issue>`). */
export async function trajectoryTask(db: TestDatabase, issueNumber: number): Promise<{ taskId: number; requirementId: number }> {
  const { requirementId, taskIds } = await insertRequirement(db, { repo: "octo-org/widgets", issueNumber, tasks: [{ key: "fix-login", title: "Fix login" }] });
  return { taskId: taskIds["fix-login"] as number, requirementId };
}

/** Records a run of `steps` on the task; `end` closes it (an open run is one still working). */
export async function recordRun(
  db: TestDatabase,
  taskId: number,
  steps: StepRecord[],
  options: { end?: RunEnd; maxSteps?: number; employeeId?: string } = {},
): Promise<number> {
  const employeeId = options.employeeId ?? "gpt-4.1-mini";
  const runId = await startRun(db.pool, {
    taskId,
    attempt: 1,
    revisionRound: 0,
    employeeId,
    mode: "native",
    maxSteps: options.maxSteps ?? 50,
    jobId: null,
    subject: `octo-org/widgets#1/fix-login`,
  });
  for (const step of steps) await recordStep(db.pool, runId, step);
  if (options.end) await closeRun(db.pool, runId, options.end, { actor: employeeId, subject: "octo-org/widgets#1/fix-login", taskId });
  return runId;
}
