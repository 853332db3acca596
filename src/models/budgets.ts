// Spending caps for model calls: tokens and dollars per task, per requirement, per UTC day per installation
// (and per repository, which may only lower it). The worst case of a call is reserved before it is made and
// the real usage settled after, under a per-installation lock, so concurrent tasks cannot overspend together.
// A director may raise a task's or a requirement's dollar cap, never beyond the app's daily limit.
import type pg from "pg";
import { appendEvents } from "../audit/append.js";
import { observeModelCall } from "../observability/observe.js";
import { loadBudgets, type Budgets } from "../config/policy-files.js";
import type { EffectiveBudgets } from "../config/repo-config.js";
import type { z } from "zod";
import { ModelCallError, OutputAllowanceTooSmall, type ChatMessage, type Usage } from "./model-client.js";
import { inputPriceBound, MAX_REASKS, promptTokenBound, reaskTokenBound } from "./structured-output.js";
import type { StructuredRequest } from "./model-client.js";
import type { Price } from "./prices.js";
import type { AgentMessage, ToolProtocol, ToolSpec } from "./tool-calling.js";
import { turnPromptTokenBound } from "./tool-turn.js";

type Queryable = Pick<pg.PoolClient, "query">;

export type BudgetUnit = "tokens" | "usd";
export type BudgetScopeName = "task" | "requirement" | "installation-day" | "repository-day";

export type Amount = { tokens: number; usd: number };

/** Whose spend a model call counts against. */
export type SpendSubject = {
  installationId: number;
  repo: string;
  requirementId: number;
  /** Null for a call that belongs to the requirement as a whole (planning): no task cap applies. */
  taskId: number | null;
  employeeId: string;
  /** The UTC day, YYYY-MM-DD. */
  day: string;
};

export type BudgetCaps = Record<BudgetScopeName, Amount>;
export type BudgetUsage = Record<BudgetScopeName, Amount>;

/** A cap would be exceeded: the work stops and a director decides (raise, reassign or accept the partial work). */
export class BudgetExhausted extends Error {
  override name = "BudgetExhausted";
  constructor(
    readonly scope: BudgetScopeName,
    readonly unit: BudgetUnit,
    readonly used: number,
    readonly cap: number,
    readonly needed: number,
  ) {
    super(
      `The ${describeScope(scope)} budget is exhausted: ${formatAmount(unit, used)} of ${formatAmount(unit, cap)} used, ` +
        `and the next model call may need up to ${formatAmount(unit, needed)}. ` +
        (scope === "task" || scope === "requirement" ? `A director can raise it with \`/aura budget <usd>\`.` : "It resets at midnight UTC."),
    );
  }
}

export function describeScope(scope: BudgetScopeName): string {
  return { task: "task", requirement: "requirement", "installation-day": "daily installation", "repository-day": "daily repository" }[scope];
}

export function formatAmount(unit: BudgetUnit, value: number): string {
  return unit === "usd" ? `$${value.toFixed(4)}` : `${Math.round(value)} tokens`;
}

export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/**
 * Prompt bytes per token assumed for token caps: real tokenizers give about four for English and about three
 * for CJK text, so three is generous for both.
 */
export const BYTES_PER_TOKEN_ESTIMATE = 3;

/**
 * The worst case of one structured call, counted exactly as the structured loop bounds each attempt: the
 * prompt bound, plus on each re-ask the rejected reply (at the full output limit) and the re-ask message, and
 * the full output limit on every attempt. Reserving this lets every attempt have `maxOutputTokens`.
 * Dollars are reserved at the strict bound (one token per prompt byte), so no reply can cost more than was
 * reserved. Token caps count volume, not money: there the prompt is estimated (BYTES_PER_TOKEN_ESTIMATE),
 * since one token per byte would reserve about four times a real English prompt and refuse a full-size
 * context under the default per-task token cap. Settlement records the real counts either way.
 */
export function worstCase(input: { promptTokens: number; maxOutputTokens: number; price: Price | undefined }): Amount {
  let tokens = 0;
  let usd = 0;
  const estimatedPrompt = Math.ceil(input.promptTokens / BYTES_PER_TOKEN_ESTIMATE);
  for (let attempt = 0; attempt <= MAX_REASKS; attempt++) {
    const reasks = attempt * reaskTokenBound(input.maxOutputTokens);
    tokens += estimatedPrompt + reasks + input.maxOutputTokens;
    if (input.price) usd += ((input.promptTokens + reasks) * inputPriceBound(input.price) + input.maxOutputTokens * input.price.output) / 1e6;
  }
  return { tokens, usd };
}

async function raisedUsd(db: Queryable, installationId: number, scope: "task" | "requirement", id: number): Promise<number> {
  const { rows } = await db.query<{ total: string }>(
    "SELECT coalesce(sum(amount_usd), 0) AS total FROM budget_raises WHERE installation_id = $1 AND scope = $2 AND subject_id = $3",
    [installationId, scope, id],
  );
  return Number(rows[0]?.total ?? 0);
}

/** Scales a token cap with a raised dollar cap, never above the daily token cap. */
function raisedCap(base: Amount, extraUsd: number, daily: Amount): Amount {
  if (extraUsd <= 0) return { ...base };
  const usd = Math.min(base.usd + extraUsd, daily.usd);
  const tokens = Math.min(Math.round(base.tokens * (usd / base.usd)), daily.tokens);
  return { tokens, usd };
}

/** The caps in force for a task: the effective budgets plus any director raises. */
export async function capsFor(db: Queryable, budgets: EffectiveBudgets, subject: SpendSubject): Promise<BudgetCaps> {
  const daily = budgets.perDayPerInstallation;
  return {
    task:
      subject.taskId === null
        ? { tokens: Number.POSITIVE_INFINITY, usd: Number.POSITIVE_INFINITY }
        : raisedCap(budgets.perTask, await raisedUsd(db, subject.installationId, "task", subject.taskId), daily),
    requirement: raisedCap(budgets.perRequirement, await raisedUsd(db, subject.installationId, "requirement", subject.requirementId), daily),
    "installation-day": { ...daily },
    "repository-day": { ...budgets.perDayPerRepo },
  };
}

/** Settled spend plus the reservations of calls still in flight, per scope. */
export async function budgetUsage(db: Queryable, subject: SpendSubject): Promise<BudgetUsage> {
  const { rows } = await db.query<Record<string, string>>(
    `SELECT
       coalesce(sum(t) FILTER (WHERE task_id = $1), 0) AS task_tokens,
       coalesce(sum(u) FILTER (WHERE task_id = $1), 0) AS task_usd,
       coalesce(sum(t) FILTER (WHERE requirement_id = $2), 0) AS requirement_tokens,
       coalesce(sum(u) FILTER (WHERE requirement_id = $2), 0) AS requirement_usd,
       coalesce(sum(t) FILTER (WHERE installation_id = $3 AND day = $5::date), 0) AS installation_tokens,
       coalesce(sum(u) FILTER (WHERE installation_id = $3 AND day = $5::date), 0) AS installation_usd,
       coalesce(sum(t) FILTER (WHERE installation_id = $3 AND day = $5::date AND repo = $4), 0) AS repo_tokens,
       coalesce(sum(u) FILTER (WHERE installation_id = $3 AND day = $5::date AND repo = $4), 0) AS repo_usd
     FROM (
       SELECT task_id, requirement_id, installation_id, repo, day,
              CASE state WHEN 'reserved' THEN reserved_tokens WHEN 'settled' THEN tokens ELSE 0 END AS t,
              CASE state WHEN 'reserved' THEN reserved_usd WHEN 'settled' THEN usd ELSE 0 END AS u
       FROM model_spend
       WHERE task_id = $1 OR requirement_id = $2 OR (installation_id = $3 AND day = $5::date)
     ) spend`,
    [subject.taskId, subject.requirementId, subject.installationId, subject.repo, subject.day],
  );
  const row = rows[0] ?? {};
  const amount = (prefix: string): Amount => ({ tokens: Number(row[`${prefix}_tokens`] ?? 0), usd: Number(row[`${prefix}_usd`] ?? 0) });
  return {
    task: amount("task"),
    requirement: amount("requirement"),
    "installation-day": amount("installation"),
    "repository-day": amount("repo"),
  };
}

const SCOPES: readonly BudgetScopeName[] = ["task", "requirement", "repository-day", "installation-day"];

/** The first scope and unit that `extra` would push over its cap, if any. */
export function firstExceeded(usage: BudgetUsage, caps: BudgetCaps, extra: Amount): BudgetExhausted | undefined {
  for (const scope of SCOPES) {
    for (const unit of ["tokens", "usd"] as const) {
      if (usage[scope][unit] + extra[unit] > caps[scope][unit] + 1e-9) {
        return new BudgetExhausted(scope, unit, usage[scope][unit], caps[scope][unit], extra[unit]);
      }
    }
  }
  return undefined;
}

/** Scopes whose usage has reached the warning fraction of a cap (for the 80 % notice). */
export function scopesAtWarning(usage: BudgetUsage, caps: BudgetCaps, fraction: number): { scope: BudgetScopeName; unit: BudgetUnit; share: number }[] {
  const out: { scope: BudgetScopeName; unit: BudgetUnit; share: number }[] = [];
  for (const scope of SCOPES) {
    for (const unit of ["tokens", "usd"] as const) {
      const share = usage[scope][unit] / caps[scope][unit];
      if (share >= fraction) {
        out.push({ scope, unit, share });
        break;
      }
    }
  }
  return out;
}

/** The graphile-worker job attempt that makes a call (`helpers.job.id` and `helpers.job.attempts`). */
export type SpendHolder = { jobId: string; attempt: number };

/** Added to a call's own time limit before its reservation may be released as stale. */
export const RESERVATION_MARGIN_MS = 5 * 60_000;

/**
 * How long one structured call may take at most: every attempt (the first and its re-asks) under its own
 * time limit. The structured loop stops waiting at each deadline, so no call of ours outlives this.
 */
export function callDeadlineMs(timeoutMs: number): number {
  return timeoutMs * (1 + MAX_REASKS);
}

/**
 * Reserves the worst case of one model call, or throws BudgetExhausted. The per-installation transaction
 * lock makes check-and-reserve atomic across workers. The reservation names the job attempt that holds it and
 * the moment it can no longer be in flight (`at` + the call's deadline + a margin), so a call killed mid-flight
 * does not keep it forever (see releaseStaleReservations).
 */
export async function reserveSpend(
  pool: pg.Pool,
  input: { subject: SpendSubject; budgets: EffectiveBudgets; amount: Amount; purpose: string; holder?: SpendHolder; deadlineMs: number; at: Date },
): Promise<{ reservationId: number }> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext('aura:budget'), $1::int)", [input.subject.installationId % 2_147_483_647]);
    const caps = await capsFor(client, input.budgets, input.subject);
    const usage = await budgetUsage(client, input.subject);
    const exceeded = firstExceeded(usage, caps, input.amount);
    if (exceeded) throw exceeded;
    const { subject } = input;
    const expiresAt = new Date(input.at.getTime() + input.deadlineMs + RESERVATION_MARGIN_MS);
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO model_spend (installation_id, repo, requirement_id, task_id, employee_id, purpose, reserved_tokens, reserved_usd, day, job_id, job_attempt, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::date, $10, $11, $12) RETURNING id`,
      [
        subject.installationId,
        subject.repo,
        subject.requirementId,
        subject.taskId,
        subject.employeeId,
        input.purpose,
        Math.ceil(input.amount.tokens),
        input.amount.usd,
        subject.day,
        input.holder?.jobId ?? null,
        input.holder?.attempt ?? null,
        expiresAt,
      ],
    );
    await client.query("COMMIT");
    return { reservationId: Number(rows[0]?.id) };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Replaces a reservation with what the call really used (also after a failed call that was billed). A
 * reservation already released (the requirement was cancelled, or it was thought stale) still records the
 * real spend: money a provider charged is never forgotten.
 */
export async function settleSpend(db: Queryable, reservationId: number, actual: Amount): Promise<void> {
  await db.query("UPDATE model_spend SET state = 'settled', tokens = $2, usd = $3, settled_at = now() WHERE id = $1 AND state IN ('reserved', 'released')", [
    reservationId,
    Math.max(0, Math.round(actual.tokens)),
    Math.max(0, actual.usd),
  ]);
}

/** Frees the reservations of calls that never ran (a cancelled requirement, a crashed worker). */
export async function releaseReservations(db: Queryable, where: { requirementId?: number; taskId?: number }): Promise<number> {
  const result = await db.query(
    `UPDATE model_spend SET state = 'released', settled_at = now()
     WHERE state = 'reserved' AND (($1::bigint IS NOT NULL AND requirement_id = $1) OR ($2::bigint IS NOT NULL AND task_id = $2))`,
    [where.requirementId ?? null, where.taskId ?? null],
  );
  return result.rowCount ?? 0;
}

/**
 * Releases reservations whose call can no longer be running, so a call killed mid-flight (a crashed or
 * killed worker, an attempt that threw) stops counting against the caps. A reservation is stale when
 * - the job attempt that made it is not running any more: graphile-worker's public `jobs` view has no row
 *   for its job that is locked at that same attempt (the job finished, failed and waits for its retry, was
 *   retried, or was unlocked after its worker died), or
 * - its deadline passed: `expires_at` (the call's own time limit for every attempt, plus a margin) is before
 *   `at`. This covers reservations made outside a job.
 * A live call's job is locked at its own attempt and its deadline lies ahead, so its reservation stays.
 * Scoped to one task or one requirement when given (a job starting again), else every installation.
 */
export async function releaseStaleReservations(db: Queryable, input: { at: Date; taskId?: number; requirementId?: number }): Promise<number> {
  const result = await db.query(
    `UPDATE model_spend s SET state = 'released', settled_at = now()
     WHERE s.state = 'reserved' AND ($2::bigint IS NULL OR s.task_id = $2) AND ($3::bigint IS NULL OR s.requirement_id = $3)
       AND (s.expires_at < $1
            OR (s.job_id IS NOT NULL AND NOT EXISTS (
                  SELECT 1 FROM graphile_worker.jobs j
                  WHERE j.id = s.job_id AND j.attempts = s.job_attempt AND j.locked_at IS NOT NULL)))`,
    [input.at, input.taskId ?? null, input.requirementId ?? null],
  );
  return result.rowCount ?? 0;
}

/** Dollars and tokens the work loop has settled for a task (what its row and PR report as cost). */
export async function taskSpend(db: Queryable, taskId: number): Promise<Amount> {
  const { rows } = await db.query<{ tokens: string; usd: string }>(
    "SELECT coalesce(sum(tokens), 0) AS tokens, coalesce(sum(usd), 0) AS usd FROM model_spend WHERE task_id = $1 AND state = 'settled'",
    [taskId],
  );
  return { tokens: Number(rows[0]?.tokens ?? 0), usd: Number(rows[0]?.usd ?? 0) };
}

export type RaiseResult = {
  /** Dollars actually added (less than asked when the daily limit caps it). */
  grantedUsd: number;
  /** The dollar cap in force after the raise. */
  capUsd: number;
  capped: boolean;
};

/** A raise that cannot be granted at all (the cap is already at the app's daily limit, or nothing was asked). */
export class BudgetRaiseRefused extends Error {
  override name = "BudgetRaiseRefused";
}

/**
 * `/aura budget`: raises a task's or a requirement's dollar cap by `amountUsd`, capped so the result never
 * exceeds the app-level daily limit (policies/budgets.yml perDayPerInstallation.usd). Recorded and audited in
 * the caller's transaction. Moving the task back to work is the caller's (the Director's) decision.
 */
export async function raiseBudget(
  client: Queryable,
  input: { installationId: number; scope: "task" | "requirement"; id: number; amountUsd: number; by: string; budgets?: Budgets },
): Promise<RaiseResult> {
  if (!(input.amountUsd > 0) || !Number.isFinite(input.amountUsd)) throw new BudgetRaiseRefused("the raise must be a positive dollar amount");
  const budgets = input.budgets ?? loadBudgets();
  const base = input.scope === "task" ? budgets.perTask.usd : budgets.perRequirement.usd;
  const limit = budgets.perDayPerInstallation.usd;
  const current = base + (await raisedUsd(client, input.installationId, input.scope, input.id));
  const grantedUsd = Math.max(0, Math.min(input.amountUsd, limit - current));
  if (grantedUsd <= 0) {
    throw new BudgetRaiseRefused(`the ${input.scope} cap is already $${current.toFixed(2)}, the app's daily limit ($${limit.toFixed(2)}); it cannot go higher`);
  }
  await client.query("INSERT INTO budget_raises (installation_id, scope, subject_id, amount_usd, raised_by) VALUES ($1, $2, $3, $4, $5)", [
    input.installationId,
    input.scope,
    input.id,
    grantedUsd,
    input.by,
  ]);
  const result = { grantedUsd, capUsd: current + grantedUsd, capped: grantedUsd < input.amountUsd };
  await appendEvents(client, [
    {
      actor: input.by,
      action: "budget.raised",
      subject: `${input.scope}:${input.id}`,
      payload: { installationId: input.installationId, scope: input.scope, id: input.id, askedUsd: input.amountUsd, ...result },
    },
  ]);
  return result;
}

/**
 * Runs one model call against a reservation and settles it: with the real usage when the call returns, with
 * what a failed call still used (a provider may bill a call that then fails validation) when it throws.
 */
export async function settledCall<T extends { usage: Usage; costUsd: number }>(db: Queryable, reservationId: number, call: () => Promise<T>): Promise<T> {
  try {
    const result = await call();
    await settleSpend(db, reservationId, { tokens: result.usage.input + result.usage.cachedInput + result.usage.output, usd: result.costUsd });
    return result;
  } catch (error) {
    const spent = error instanceof ModelCallError || error instanceof OutputAllowanceTooSmall ? error.details : undefined;
    const usage = spent?.usage;
    const usd = spent?.costUsd ?? 0;
    await settleSpend(db, reservationId, { tokens: usage ? usage.input + usage.cachedInput + usage.output : 0, usd });
    throw error;
  }
}

/** What bounds one reserved call: the employee's output maximum and the dollars reserved for it. */
export type CallBounds = Pick<StructuredRequest<never>, "maxOutputTokens" | "maxCostUsd" | "timeoutMs">;

/** Who spends, from which budgets, on what, and the call's limits: what budgetedCall and budgetedTurn share. */
type ReservedCallInput = {
  subject: SpendSubject;
  budgets: EffectiveBudgets;
  purpose: string;
  holder?: SpendHolder;
  at: Date;
  maxOutputTokens: number;
  timeoutMs: number;
  price: Price | undefined;
};

/**
 * Reserves `amount` (or throws BudgetExhausted), makes the call with the reservation as its dollar bound, so no
 * reply can cost more than was reserved, and settles the real usage.
 */
async function reservedCall<T extends { usage: Usage; costUsd: number }>(
  pool: pg.Pool,
  input: ReservedCallInput,
  reservation: { amount: Amount; deadlineMs: number },
  call: (bounds: CallBounds) => Promise<T>,
): Promise<T> {
  const { amount } = reservation;
  const { reservationId } = await reserveSpend(pool, {
    subject: input.subject,
    budgets: input.budgets,
    amount,
    purpose: input.purpose,
    ...(input.holder ? { holder: input.holder } : {}),
    deadlineMs: reservation.deadlineMs,
    at: input.at,
  });
  // Without a known price the client refuses the model before calling it; tokens still bound the reply.
  const bounds: CallBounds = { maxOutputTokens: input.maxOutputTokens, timeoutMs: input.timeoutMs, ...(input.price ? { maxCostUsd: amount.usd } : {}) };
  return settledCall(pool, reservationId, () => observeModelCall({ employeeId: input.subject.employeeId, purpose: input.purpose }, () => call(bounds)));
}

/**
 * One model call under a budget: reserves its worst case (or throws BudgetExhausted), makes the call with the
 * reservation as its dollar bound, so no reply can cost more than was reserved, and settles the real usage.
 */
export async function budgetedCall<T extends { usage: Usage; costUsd: number }>(
  pool: pg.Pool,
  input: ReservedCallInput & {
    /** What the call will send: its prompt is bounded by promptTokenBound, as each attempt's allowance is. */
    prompt: { messages: readonly ChatMessage[]; schema: z.ZodType };
  },
  call: (bounds: CallBounds) => Promise<T>,
): Promise<T> {
  const amount = worstCase({
    promptTokens: promptTokenBound(input.prompt.messages, input.prompt.schema),
    maxOutputTokens: input.maxOutputTokens,
    price: input.price,
  });
  return reservedCall(pool, input, { amount, deadlineMs: callDeadlineMs(input.timeoutMs) }, call);
}

/** What one agent turn will send: its conversation, its tools, and how the model takes them. */
export type TurnPrompt = { messages: readonly AgentMessage[]; tools: readonly ToolSpec[]; protocol: ToolProtocol };

/**
 * The worst case of one agent turn. Natively a turn is a single call (a bad tool call is answered by the
 * loop, not re-asked): its prompt bound (turnPromptTokenBound) and the full output limit. Under the action
 * protocol it is a structured call with its re-asks, counted as worstCase counts them.
 */
export function turnWorstCase(input: { turn: TurnPrompt; maxOutputTokens: number; price: Price | undefined }): Amount {
  const promptTokens = turnPromptTokenBound(input.turn);
  if (input.turn.protocol === "actions") return worstCase({ promptTokens, maxOutputTokens: input.maxOutputTokens, price: input.price });
  const tokens = Math.ceil(promptTokens / BYTES_PER_TOKEN_ESTIMATE) + input.maxOutputTokens;
  const usd = input.price ? (promptTokens * inputPriceBound(input.price) + input.maxOutputTokens * input.price.output) / 1e6 : 0;
  return { tokens, usd };
}

/** How long one turn may take: one call natively, every attempt of the structured call under the action protocol. */
export function turnDeadlineMs(protocol: ToolProtocol, timeoutMs: number): number {
  return protocol === "actions" ? callDeadlineMs(timeoutMs) : timeoutMs;
}

/**
 * One agent turn under a budget, as budgetedCall is for a structured call: reserves the turn's worst case
 * (or throws BudgetExhausted), makes the turn with the reservation as its dollar bound, so no reply can cost
 * more than was reserved, and settles the real usage (also what a failed turn used).
 */
export async function budgetedTurn<T extends { usage: Usage; costUsd: number }>(
  pool: pg.Pool,
  input: ReservedCallInput & {
    /** What the turn will send; its prompt is bounded by turnPromptTokenBound, as the turn's allowance is. */
    turn: TurnPrompt;
  },
  call: (bounds: CallBounds) => Promise<T>,
): Promise<T> {
  const amount = turnWorstCase({ turn: input.turn, maxOutputTokens: input.maxOutputTokens, price: input.price });
  return reservedCall(pool, input, { amount, deadlineMs: turnDeadlineMs(input.turn.protocol, input.timeoutMs) }, call);
}
