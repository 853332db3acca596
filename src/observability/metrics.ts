// The process's Prometheus metrics (served on /metrics, see metrics-route.ts). One registry per process, made on
// first use, so importing this module has no side effect; the sites that count call the small `count…`/`record…`
// functions below in one line each. Labels are bounded sets (job names, providers, employees, conclusions), never
// ids. docs/operations.md lists every metric.
import os from "node:os";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const WAIT_BUCKETS = [0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];
const RUN_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800];

/** Webhook deliveries and the jobs they become, as this process ran them. */
function deliveryAndJobMetrics(registers: Registry[]) {
  return {
    webhookDeliveries: new Counter({
      name: "aura_webhook_deliveries_total",
      help: "Webhook deliveries handled, by event and outcome (recorded, duplicate, failed).",
      labelNames: ["event", "outcome"] as const,
      registers,
    }),
    webhookAck: new Histogram({
      name: "aura_webhook_ack_seconds",
      help: "Time from a verified delivery to its acknowledgement (the inbox row and its jobs committed), by outcome.",
      labelNames: ["outcome"] as const,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    jobRuns: new Counter({
      name: "aura_job_runs_total",
      help: "Job runs finished in this process, by job and outcome (succeeded, failed).",
      labelNames: ["job", "outcome"] as const,
      registers,
    }),
    jobRetries: new Counter({
      name: "aura_job_retries_total",
      help: "Job runs that were a retry (attempt 2 or later), by job.",
      labelNames: ["job"] as const,
      registers,
    }),
    jobFailures: new Counter({
      name: "aura_job_failures_total",
      help: "Job runs that threw, by job and whether that was the last attempt (final=true: no retry left).",
      labelNames: ["job", "final"] as const,
      registers,
    }),
    jobWait: new Histogram({
      name: "aura_job_wait_seconds",
      help: "Time a job waited from when it was due (run_at) until a worker of this process started it, by job.",
      labelNames: ["job"] as const,
      buckets: WAIT_BUCKETS,
      registers,
    }),
    jobDuration: new Histogram({
      name: "aura_job_duration_seconds",
      help: "Time a job run took, by job and outcome.",
      labelNames: ["job", "outcome"] as const,
      buckets: RUN_BUCKETS,
      registers,
    }),
  };
}

/** The whole queue at scrape time (every process's jobs). */
function queueMetrics(registers: Registry[]) {
  return {
    queueDepth: new Gauge({
      name: "aura_queue_jobs",
      help: "Jobs in the queue at scrape time (the whole database, every process), by job and state (waiting: due, scheduled: due later or backing off, running, failed: no attempt left).",
      labelNames: ["job", "state"] as const,
      registers,
    }),
    queueOldestWait: new Gauge({
      name: "aura_queue_oldest_wait_seconds",
      help: "At scrape time, how long the longest-waiting due job of each type has been due (0 when none waits).",
      labelNames: ["job"] as const,
      registers,
    }),
    queueReadOk: new Gauge({
      name: "aura_queue_read_ok",
      help: "1 when this scrape read the queue's depth from the database, 0 when the database did not answer (the queue gauges are then absent).",
      registers,
    }),
  };
}

/** Model calls as the budgets settle them, and the agent's recorded steps. */
function modelAndAgentMetrics(registers: Registry[]) {
  return {
    modelCalls: new Counter({
      name: "aura_model_calls_total",
      help: "Budgeted model calls settled, by provider, employee and outcome (ok, failed).",
      labelNames: ["provider", "employee", "outcome"] as const,
      registers,
    }),
    modelTokens: new Counter({
      name: "aura_model_tokens_total",
      help: "Tokens of settled model calls, by provider, employee and kind (input, cached_input, output).",
      labelNames: ["provider", "employee", "kind"] as const,
      registers,
    }),
    modelCost: new Counter({
      name: "aura_model_cost_usd_total",
      help: "Dollars of settled model calls (from the dated price table), by provider and employee.",
      labelNames: ["provider", "employee"] as const,
      registers,
    }),
    agentSteps: new Counter({
      name: "aura_agent_steps_total",
      help: "Agent steps recorded, by kind (model, tool, …) and status.",
      labelNames: ["kind", "status"] as const,
      registers,
    }),
  };
}

/** The sandbox's runs, the gate's verdicts, the audit chain and the leader. */
function checkMetrics(registers: Registry[]) {
  return {
    sandboxRuns: new Counter({
      name: "aura_sandbox_runs_total",
      help: "Sandbox runs, by phase (setup, test) and what stopped them (exit, timeout, memory, signal, refused).",
      labelNames: ["phase", "stopped_by"] as const,
      registers,
    }),
    sandboxDuration: new Histogram({
      name: "aura_sandbox_run_seconds",
      help: "Time a sandbox run took, by phase.",
      labelNames: ["phase"] as const,
      buckets: RUN_BUCKETS,
      registers,
    }),
    gateVerdicts: new Counter({
      name: "aura_gate_verdicts_total",
      help: "Verdicts the governor's gate published, by conclusion (success, failure, pending, error).",
      labelNames: ["conclusion"] as const,
      registers,
    }),
    auditAppends: new Counter({
      name: "aura_audit_events_appended_total",
      help: "Events appended to the audit chain by this process (an append inside a transaction that later rolled back counts too).",
      registers,
    }),
    verificationOk: new Gauge({
      name: "aura_audit_verification_ok",
      help: "The last audit chain verification in this process: 1 intact, 0 broken (absent until one ran).",
      registers,
    }),
    verificationTime: new Gauge({
      name: "aura_audit_verification_timestamp_seconds",
      help: "When the last audit chain verification in this process finished (Unix seconds).",
      registers,
    }),
    verificationEvents: new Gauge({
      name: "aura_audit_verification_events",
      help: "Events the last audit chain verification in this process checked.",
      registers,
    }),
    githubWriteWait: new Histogram({
      name: "aura_github_write_wait_seconds",
      help: "Time a content-creating GitHub request waited for its slot from the shared write pacer, by what set the slot (now: no wait, pace: the per-minute spacing, hour: the hourly budget).",
      labelNames: ["bound"] as const,
      buckets: WAIT_BUCKETS,
      registers,
    }),
    leader: new Gauge({
      name: "aura_leader",
      help: "1 while this process is the leader (runs the periodic duties), else 0; labelled with the process's host and pid.",
      labelNames: ["host", "pid"] as const,
      registers,
    }),
  };
}

/**
 * Every metric of the process, in one registry: one declaration each, grouped by what they watch. Default
 * process metrics (CPU, memory, event loop) carry the aura_process_ prefix.
 */
function createMetrics() {
  const registry = new Registry();
  const registers = [registry];
  collectDefaultMetrics({ register: registry, prefix: "aura_process_" });
  return {
    registry,
    ...deliveryAndJobMetrics(registers),
    ...queueMetrics(registers),
    ...modelAndAgentMetrics(registers),
    ...checkMetrics(registers),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

let current: Metrics | undefined;

/** This process's metrics, made on first use. */
export function metrics(): Metrics {
  current ??= createMetrics();
  return current;
}

/** The webhook inbox answered a delivery: `outcome` and how long recording it took. */
export function countDelivery(event: string, outcome: "recorded" | "duplicate" | "failed", seconds: number): void {
  const m = metrics();
  m.webhookDeliveries.inc({ event, outcome });
  m.webhookAck.observe({ outcome }, seconds);
}

/** A job run finished (`failed`: it threw; `final`: no attempt is left after this one). */
export function countJobRun(run: { job: string; attempt: number; waitSeconds: number; seconds: number; failed: boolean; final: boolean }): void {
  const m = metrics();
  const outcome = run.failed ? "failed" : "succeeded";
  m.jobRuns.inc({ job: run.job, outcome });
  m.jobDuration.observe({ job: run.job, outcome }, run.seconds);
  m.jobWait.observe({ job: run.job }, Math.max(0, run.waitSeconds));
  if (run.attempt > 1) m.jobRetries.inc({ job: run.job });
  if (run.failed) m.jobFailures.inc({ job: run.job, final: String(run.final) });
}

export type ModelUsage = { input: number; cachedInput: number; output: number };

/** A model call was settled (what it used, also when it failed: a provider may bill a failed call). */
export function countModelCall(call: { provider: string; employee: string; ok: boolean; usage: ModelUsage | undefined; costUsd: number }): void {
  const m = metrics();
  const labels = { provider: call.provider, employee: call.employee };
  m.modelCalls.inc({ ...labels, outcome: call.ok ? "ok" : "failed" });
  if (call.usage) {
    m.modelTokens.inc({ ...labels, kind: "input" }, call.usage.input);
    m.modelTokens.inc({ ...labels, kind: "cached_input" }, call.usage.cachedInput);
    m.modelTokens.inc({ ...labels, kind: "output" }, call.usage.output);
  }
  if (call.costUsd > 0) m.modelCost.inc(labels, call.costUsd);
}

/** An agent step was recorded. Its status (a tool's outcome, a provider's stop reason) is a label only when it is a short word. */
export function countAgentStep(kind: string, status: string | undefined): void {
  const word = status === undefined ? "none" : /^[A-Za-z_]{1,32}$/.test(status) ? status.toLowerCase() : "other";
  metrics().agentSteps.inc({ kind, status: word });
}

export function countSandboxRun(phase: string, stoppedBy: string, seconds: number): void {
  const m = metrics();
  m.sandboxRuns.inc({ phase, stopped_by: stoppedBy });
  m.sandboxDuration.observe({ phase }, seconds);
}

export function countGateVerdict(conclusion: string): void {
  metrics().gateVerdicts.inc({ conclusion });
}

export function countAuditAppends(events: number): void {
  metrics().auditAppends.inc(events);
}

/** Records an audit verification's result and returns it (so a `return` can pass through it). */
export function recordVerification<R extends { ok: boolean; count: number }>(result: R): R {
  const m = metrics();
  m.verificationOk.set(result.ok ? 1 : 0);
  m.verificationEvents.set(result.count);
  m.verificationTime.set(Date.now() / 1000);
  return result;
}

/** A GitHub write took its slot from the shared pacer (src/github/write-pacer.ts) and waits `seconds` for it. */
export function recordGitHubWriteWait(bound: "now" | "pace" | "hour", seconds: number): void {
  metrics().githubWriteWait.observe({ bound }, seconds);
}

export function setLeader(leading: boolean): void {
  metrics().leader.set({ host: os.hostname(), pid: String(process.pid) }, leading ? 1 : 0);
}
