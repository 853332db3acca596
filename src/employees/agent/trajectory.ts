// The trajectory of a task's work: one `work_runs` row per run (agent or single-shot) and one `work_steps` row
// per step (a model turn, a tool call, a shortening of the conversation), each cut to a size with secrets
// redacted before it is stored. When a run ends its steps' sha256 digest is written on the run and appended to
// the audit chain (`task.trajectory`), so a step changed later no longer matches. A run whose process died keeps
// no end until the task's next run starts and marks it `interrupted` (with its digest). The read functions at the
// bottom are what the CLI, the PR body and the status comment use.
import { createHash } from "node:crypto";
import type pg from "pg";
import { appendEvents } from "../../audit/append.js";
import { canonicalize } from "../../audit/canonical.js";
import { countAgentStep } from "../../observability/metrics.js";
import { redact } from "../../workspace/index.js";
import type { TrajectorySummary } from "../pull-request.js";
import type { Submission } from "./types.js";

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

export type RunMode = "native" | "actions" | "single-shot";

/** Why a run ended: submitted, one of the limits, a refused scope request, or what stopped it from outside. */
export type EndReason =
  "submitted" | "step-cap" | "budget" | "wall-clock" | "idle" | "repetition" | "scope-refused" | "provider-failure" | "sandbox" | "single-shot" | "interrupted";

/** Bytes of an observation or of arguments kept in a step row (the model may have seen more). */
export const STORED_TEXT_BYTES = 8_000;

export type StepRecord = {
  kind: "turn" | "tool" | "shortening";
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  latencyMs?: number;
  tool?: string;
  arguments?: string;
  status?: string;
  exitCode?: number;
  durationMs?: number;
  observation?: string;
};

/** A stored step, as read back (what the digest covers). */
export type StoredStep = {
  step: number;
  kind: StepRecord["kind"];
  model: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  costUsd: number | null;
  latencyMs: number | null;
  tool: string | null;
  arguments: string | null;
  status: string | null;
  exitCode: number | null;
  durationMs: number | null;
  observation: string | null;
};

export type WorkRun = {
  id: number;
  taskId: number;
  attempt: number;
  revisionRound: number;
  employeeId: string;
  mode: RunMode;
  maxSteps: number | null;
  startedAt: Date;
  endedAt: Date | null;
  endReason: EndReason | null;
  submission: Submission | null;
  filesRead: string[];
  filesChanged: string[];
  guidance: string[];
  steps: number;
  digest: string | null;
};

/** Text with each NUL character (which PostgreSQL text and jsonb refuse) shown as U+FFFD. */
export function withoutNul(text: string): string {
  return text.includes("\0") ? text.replace(/\0/g, "\uFFFD") : text;
}

/** Cuts text to `bytes` (keeping its head and tail) after removing credentials. */
export function storedText(text: string, secrets: readonly string[] = [], bytes = STORED_TEXT_BYTES): string {
  // PostgreSQL text cannot hold NUL, which command output (find -print0, a binary file) easily does.
  const clean = redact(withoutNul(text), secrets);
  if (Buffer.byteLength(clean) <= bytes) return clean;
  const half = Math.floor(bytes / 2);
  const head = Buffer.from(clean)
    .subarray(0, half)
    .toString()
    .replace(/\uFFFD$/, "");
  const tail = Buffer.from(clean)
    .subarray(-half)
    .toString()
    .replace(/^\uFFFD/, "");
  return `${head}\n[… ${Buffer.byteLength(clean) - 2 * half} bytes cut …]\n${tail}`;
}

/** sha256 over the canonical JSON of the steps in order: the trajectory's digest. */
export function trajectoryDigest(steps: readonly StoredStep[]): string {
  const canonical = canonicalize(steps);
  if (canonical === undefined) throw new TypeError("the trajectory cannot be canonicalised");
  return createHash("sha256").update(canonical).digest("hex");
}

/** A new run: who works on which attempt of a task, how (and how far), and the job and subject that started it. */
export type StartRun = Pick<WorkRun, "taskId" | "attempt" | "revisionRound" | "employeeId" | "mode" | "maxSteps"> & {
  jobId: string | null;
  subject: string;
};

/** Marks the task's runs that never ended as interrupted (their process died), then starts a new run. */
export async function startRun(pool: pg.Pool, input: StartRun): Promise<number> {
  await interruptOpenRuns(pool, input.taskId, input.subject);
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO work_runs (task_id, attempt, revision_round, employee_id, mode, max_steps, job_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [input.taskId, input.attempt, input.revisionRound, input.employeeId, input.mode, input.maxSteps, input.jobId],
  );
  return Number(rows[0]?.id);
}

async function interruptOpenRuns(pool: pg.Pool, taskId: number, subject: string): Promise<void> {
  const open = await pool.query<{ id: string; employee_id: string }>(
    "SELECT id, employee_id FROM work_runs WHERE task_id = $1 AND ended_at IS NULL ORDER BY id",
    [taskId],
  );
  for (const row of open.rows) {
    await closeRun(pool, Number(row.id), { endReason: "interrupted" }, { actor: row.employee_id, subject, taskId });
  }
}

/** Appends one step to the run (its number is the next one) after cutting and redacting its texts. */
export async function recordStep(db: Queryable, runId: number, record: StepRecord, secrets: readonly string[] = []): Promise<number> {
  const text = (value: string | undefined) => (value === undefined ? null : storedText(value, secrets));
  const int = (value: number | undefined) => (value === undefined ? null : Math.round(value));
  const { rows } = await db.query<{ step: number }>(
    `WITH next AS (UPDATE work_runs SET steps = steps + 1 WHERE id = $1 RETURNING steps)
     INSERT INTO work_steps (run_id, step, kind, model, input_tokens, output_tokens, cost_usd, latency_ms, tool, arguments, status, exit_code, duration_ms, observation)
     SELECT $1, next.steps, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 FROM next RETURNING step`,
    [
      runId,
      record.kind,
      record.model ?? null,
      int(record.inputTokens),
      int(record.outputTokens),
      record.costUsd ?? null,
      int(record.latencyMs),
      record.tool === undefined ? null : storedText(record.tool, secrets, 200),
      text(record.arguments),
      record.status === undefined ? null : storedText(record.status, secrets, 200),
      int(record.exitCode),
      int(record.durationMs),
      text(record.observation),
    ],
  );
  countAgentStep(record.kind, record.status);
  return Number(rows[0]?.step);
}

export type RunEnd = {
  endReason: EndReason;
  submission?: Submission | undefined;
  filesRead?: readonly string[];
  filesChanged?: readonly string[];
  guidance?: readonly string[];
};

/**
 * Ends the run: its end reason, what it read and changed, and the digest of its steps, and one `task.trajectory`
 * audit event carrying that digest, in one transaction. A run already ended is left as it is.
 */
export async function closeRun(
  pool: pg.Pool,
  runId: number,
  end: RunEnd,
  who: { actor: string; subject: string; taskId: number },
): Promise<string | undefined> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const locked = await client.query<{ ended: boolean }>("SELECT ended_at IS NOT NULL AS ended FROM work_runs WHERE id = $1 FOR UPDATE", [runId]);
    if (locked.rows[0]?.ended !== false) {
      await client.query("ROLLBACK");
      return undefined;
    }
    const steps = await loadRunSteps(client, runId);
    const digest = trajectoryDigest(steps);
    await client.query(
      `UPDATE work_runs SET ended_at = now(), end_reason = $2, submission = $3, files_read = $4, files_changed = $5, guidance = $6, digest = $7 WHERE id = $1`,
      [
        runId,
        end.endReason,
        end.submission ? JSON.stringify(end.submission) : null,
        [...(end.filesRead ?? [])],
        [...(end.filesChanged ?? [])],
        [...(end.guidance ?? [])],
        digest,
      ],
    );
    await appendEvents(client, [
      {
        actor: who.actor,
        action: "task.trajectory",
        subject: who.subject,
        payload: { taskId: who.taskId, runId, endReason: end.endReason, steps: steps.length, digest },
      },
    ]);
    await client.query("COMMIT");
    return digest;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

type StepRow = {
  step: number;
  kind: StepRecord["kind"];
  model: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: string | null;
  latency_ms: number | null;
  tool: string | null;
  arguments: string | null;
  status: string | null;
  exit_code: number | null;
  duration_ms: number | null;
  observation: string | null;
};

/** A run's steps in order, as stored. */
export async function loadRunSteps(db: Queryable, runId: number): Promise<StoredStep[]> {
  const { rows } = await db.query<StepRow>(
    `SELECT step, kind, model, input_tokens, output_tokens, cost_usd, latency_ms, tool, arguments, status, exit_code, duration_ms, observation
     FROM work_steps WHERE run_id = $1 ORDER BY step`,
    [runId],
  );
  return rows.map((row) => ({
    step: row.step,
    kind: row.kind,
    model: row.model,
    inputTokens: row.input_tokens,
    outputTokens: row.output_tokens,
    costUsd: row.cost_usd === null ? null : Number(row.cost_usd),
    latencyMs: row.latency_ms,
    tool: row.tool,
    arguments: row.arguments,
    status: row.status,
    exitCode: row.exit_code,
    durationMs: row.duration_ms,
    observation: row.observation,
  }));
}

type RunRow = {
  id: string;
  task_id: string;
  attempt: number;
  revision_round: number;
  employee_id: string;
  mode: RunMode;
  max_steps: number | null;
  started_at: Date;
  ended_at: Date | null;
  end_reason: EndReason | null;
  submission: Submission | null;
  files_read: string[];
  files_changed: string[];
  guidance: string[];
  steps: number;
  digest: string | null;
};

function runOf(row: RunRow): WorkRun {
  return {
    id: Number(row.id),
    taskId: Number(row.task_id),
    attempt: row.attempt,
    revisionRound: row.revision_round,
    employeeId: row.employee_id,
    mode: row.mode,
    maxSteps: row.max_steps,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    submission: row.submission,
    filesRead: row.files_read,
    filesChanged: row.files_changed,
    guidance: row.guidance,
    steps: row.steps,
    digest: row.digest,
  };
}

const RUN_COLUMNS = `id, task_id, attempt, revision_round, employee_id, mode, max_steps, started_at, ended_at, end_reason, submission,
                     files_read, files_changed, guidance, steps, digest`;

/** The task's runs, oldest first, without their steps. */
export async function loadRuns(db: Queryable, taskId: number): Promise<WorkRun[]> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM work_runs WHERE task_id = $1 ORDER BY id`, [taskId]);
  return rows.map(runOf);
}

/** The task's whole trajectory: every run, oldest first, each with its steps. */
export async function loadTrajectory(db: Queryable, taskId: number): Promise<(WorkRun & { stepRecords: StoredStep[] })[]> {
  const runs = await loadRuns(db, taskId);
  return Promise.all(runs.map(async (run) => ({ ...run, stepRecords: await loadRunSteps(db, run.id) })));
}

/** The task's latest run (the one working now, when one is), or undefined. */
export async function latestRun(db: Queryable, taskId: number): Promise<WorkRun | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM work_runs WHERE task_id = $1 ORDER BY id DESC LIMIT 1`, [taskId]);
  return rows[0] ? runOf(rows[0]) : undefined;
}

/** The task's latest run that ended with its work (not interrupted): what a revision continues from. */
export async function previousRun(db: Queryable, taskId: number): Promise<WorkRun | undefined> {
  const { rows } = await db.query<RunRow>(
    `SELECT ${RUN_COLUMNS} FROM work_runs WHERE task_id = $1 AND ended_at IS NOT NULL AND end_reason <> 'interrupted' ORDER BY id DESC LIMIT 1`,
    [taskId],
  );
  return rows[0] ? runOf(rows[0]) : undefined;
}

/** The task's run with this id, or undefined. */
export async function loadRun(db: Queryable, runId: number): Promise<WorkRun | undefined> {
  const { rows } = await db.query<RunRow>(`SELECT ${RUN_COLUMNS} FROM work_runs WHERE id = $1`, [runId]);
  return rows[0] ? runOf(rows[0]) : undefined;
}

/** The command a run_command step ran, from its arguments as the model sent them (the raw text when they were not JSON). */
export function commandOf(step: Pick<StoredStep, "arguments">): string {
  try {
    const parsed: unknown = JSON.parse(step.arguments ?? "");
    if (parsed && typeof parsed === "object" && "command" in parsed && typeof parsed.command === "string") return parsed.command;
  } catch {
    // Malformed arguments are shown as the model sent them.
  }
  return step.arguments ?? "";
}

/**
 * What the run did, for the PR body: its turns against the step cap, the commands and test runs it made, the
 * files it read and changed, the guidance it was given, the task's scope grants and refusals, and its end.
 */
export async function loadTrajectorySummary(db: Queryable, runId: number): Promise<TrajectorySummary | undefined> {
  const run = await loadRun(db, runId);
  if (!run) return undefined;
  const steps = await loadRunSteps(db, runId);
  const { rows: grants } = await db.query<{ path: string; granted: boolean; refusal: string | null }>(
    "SELECT path, granted, refusal FROM scope_grants WHERE task_id = $1 ORDER BY id",
    [run.taskId],
  );
  const tools = steps.filter((step) => step.kind === "tool");
  const worked = tools.filter((step) => step.status === "ok" || step.exitCode !== null);
  return {
    turns: steps.filter((step) => step.kind === "turn").length,
    maxSteps: run.maxSteps,
    toolCalls: tools.length,
    commands: worked.filter((step) => step.tool === "run_command").map(commandOf),
    testRuns: worked.filter((step) => step.tool === "run_tests").map((step) => step.exitCode ?? -1),
    filesRead: run.filesRead,
    filesChanged: run.filesChanged,
    guidance: run.guidance,
    granted: [...new Set(grants.filter((grant) => grant.granted).map((grant) => grant.path))],
    refused: grants.filter((grant) => !grant.granted).map((grant) => ({ path: grant.path, reason: grant.refusal ?? "refused" })),
    endReason: run.endReason,
  };
}

/** A task named by its id, or by its repository, issue and key (the current plan's task with that key). */
export type TaskRef = { id: number } | { repo: string; issueNumber: number; key: string };

export type TaskName = { id: number; repo: string; issueNumber: number; key: string; title: string; state: string };

/** The task a reference names, or undefined when none does. */
export async function findTask(db: Queryable, ref: TaskRef): Promise<TaskName | undefined> {
  const select = `SELECT t.id, r.repo, r.issue_number, t.task_key, t.title, t.state FROM tasks t JOIN requirements r ON r.id = t.requirement_id`;
  const { rows } =
    "id" in ref
      ? await db.query<{ id: string; repo: string; issue_number: number; task_key: string; title: string; state: string }>(`${select} WHERE t.id = $1`, [
          ref.id,
        ])
      : await db.query<{ id: string; repo: string; issue_number: number; task_key: string; title: string; state: string }>(
          `${select} WHERE lower(r.repo) = lower($1) AND r.issue_number = $2 AND t.task_key = $3 ORDER BY t.plan_revision DESC, t.id DESC LIMIT 1`,
          [ref.repo, ref.issueNumber, ref.key],
        );
  const row = rows[0];
  return row ? { id: Number(row.id), repo: row.repo, issueNumber: row.issue_number, key: row.task_key, title: row.title, state: row.state } : undefined;
}
