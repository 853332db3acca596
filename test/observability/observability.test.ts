// Issue 17, "Watch it": the started app over HTTP serves /metrics only with its token or to this host, and after a
// labelled issue runs to its draft PR (webhook, jobs, model calls, a sandbox run, GitHub writes) and GitHub
// announces the PR (the gate's verdict), the counters have moved; one trace links the webhook to the job, the model
// call, the sandbox run and the GitHub write; and every line a job logs carries that job's ids.
import { Writable } from "node:stream";
import { context, propagation, trace } from "@opentelemetry/api";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import nock from "nock";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyAudit } from "../../src/audit/verify.js";
import { recordStep, startRun } from "../../src/employees/agent/trajectory.js";
import { clearPermissionCache } from "../../src/github/permissions.js";
import { enqueue } from "../../src/queue/enqueue.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { CALL_COST_USD, pullPayload, scriptedCompany } from "../e2e/pipeline-fixture.js";
import { useHarness } from "../helpers/harness.js";
import { deliver } from "../helpers/webhooks.js";
import { BOT, runLabelToPull, waitForJobs, type LabelToPullRun } from "../work/label-to-pull.js";
import { useTempDir } from "../workspace/git-fixture.js";
import { parseMetrics, total } from "./prometheus-text.js";

const TOKEN = "metrics-token-for-the-observability-test";
const INSTALLATION = 7417;

// The tracer provider a collector would get, with its spans kept in memory; registered before the app starts.
const spans = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
beforeAll(() => {
  provider.register();
});
afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const logLines: Record<string, unknown>[] = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString().split("\n")) if (line.trim() !== "") logLines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  },
});

const company = scriptedCompany();
const temp = useTempDir("aura-observability-");
const started = useHarness({
  env: { OPENAI_API_KEY: "sk-test-not-used", AURA_ALLOW_UNSANDBOXED: probeBwrap().ok ? "false" : "true", AURA_METRICS_TOKEN: TOKEN },
  modelOverride: company.override,
  log: pino({ level: "debug" }, sink),
});

async function scrape(headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`http://127.0.0.1:${started.harness.aura.port}/metrics`, { headers });
}

async function metricsNow() {
  const response = await scrape({ authorization: `Bearer ${TOKEN}`, "x-forwarded-for": "203.0.113.9" });
  expect(response.status).toBe(200);
  return parseMetrics(await response.text());
}

describe("/metrics access", () => {
  it("refuses a forwarded request without the token, or with another one, and says how to get in", async () => {
    const none = await scrape({ "x-forwarded-for": "203.0.113.9" });
    const wrong = await scrape({ "x-forwarded-for": "203.0.113.9", authorization: "Bearer not-the-metrics-token-at-all" });

    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(await none.text()).toContain("Authorization: Bearer <AURA_METRICS_TOKEN>");
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain("aura_");
  });

  it("serves the Prometheus text format with the token, and to this host without one", async () => {
    const withToken = await scrape({ authorization: `Bearer ${TOKEN}`, "x-forwarded-for": "203.0.113.9" });
    const local = await scrape();

    expect(withToken.status).toBe(200);
    expect(withToken.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await withToken.text()).toContain("# TYPE aura_webhook_deliveries_total counter");
    expect(local.status).toBe(200);
  });
});

describe("after a labelled issue runs to its PR and the gate judges it", () => {
  let before: ReturnType<typeof parseMetrics>;
  let after: ReturnType<typeof parseMetrics>;
  let run: LabelToPullRun;
  let routedEmployee: string;

  beforeAll(async () => {
    nock.cleanAll();
    clearPermissionCache();
    before = await metricsNow();
    run = await runLabelToPull(started.harness.aura, started.harness.db.pool, { parent: temp.dir, name: "gauges", installationId: INSTALLATION });
    const pullNumber = [...run.github.pulls.keys()][0] as number;
    await deliver(
      started.harness.aura.port,
      "pull_request",
      pullPayload(run.github, { action: "opened", number: pullNumber, installationId: INSTALLATION, sender: BOT }),
    );
    await waitForJobs(started.harness.db.pool, 45_000);
    await verifyAudit(started.harness.db.pool);
    const { rows } = await started.harness.db.pool.query<{ employee_id: string }>("SELECT employee_id FROM assignments WHERE active");
    routedEmployee = rows[0]?.employee_id ?? "none routed";
    after = await metricsNow();
  }, 90_000);

  const moved = (name: string, labels: Record<string, string> = {}) => total(after, name, labels) - total(before, name, labels);

  it("counted the deliveries, their acknowledgements and the jobs", () => {
    expect(moved("aura_webhook_deliveries_total", { event: "issues", outcome: "recorded" })).toBe(1);
    expect(moved("aura_webhook_deliveries_total", { event: "pull_request", outcome: "recorded" })).toBe(1);
    expect(moved("aura_webhook_ack_seconds_count")).toBe(2);
    expect(moved("aura_job_runs_total", { job: "requirement.intake", outcome: "succeeded" })).toBeGreaterThanOrEqual(1);
    expect(moved("aura_job_runs_total", { job: "task.work", outcome: "succeeded" })).toBeGreaterThanOrEqual(1);
    expect(moved("aura_job_runs_total", { job: "pull.evaluate", outcome: "succeeded" })).toBeGreaterThanOrEqual(1);
    expect(moved("aura_job_wait_seconds_count", { job: "task.work" })).toBeGreaterThanOrEqual(1);
  });

  it("counted the model calls with their tokens and cost per provider and employee, the sandbox runs, the verdicts and the audit appends", () => {
    // The manager plans (one call) and the routed employee fixes (one call); the script bills 2000 in and 400 out each.
    expect(moved("aura_model_calls_total", { outcome: "ok" })).toBe(2);
    expect(moved("aura_model_calls_total", { employee: routedEmployee, outcome: "ok" })).toBe(1);
    expect(moved("aura_model_tokens_total", { employee: routedEmployee, kind: "input" })).toBe(2000);
    expect(moved("aura_model_tokens_total", { kind: "output" })).toBe(800);
    expect(moved("aura_model_cost_usd_total", { employee: routedEmployee })).toBeCloseTo(CALL_COST_USD, 9);
    expect(moved("aura_sandbox_runs_total", { phase: "test", stopped_by: "exit" })).toBeGreaterThanOrEqual(1);
    expect(moved("aura_sandbox_run_seconds_count", { phase: "test" })).toBeGreaterThanOrEqual(1);
    expect(moved("aura_gate_verdicts_total", { conclusion: "success" })).toBe(1);
    expect(moved("aura_audit_events_appended_total")).toBeGreaterThan(0);
  });

  it("counts the steps an agent run records", async () => {
    const { pool } = started.harness.db;
    const { rows } = await pool.query<{ id: number }>("SELECT id FROM tasks LIMIT 1");
    const taskId = Number(rows[0]?.id);
    const runId = await startRun(pool, {
      taskId,
      attempt: 9,
      revisionRound: 0,
      employeeId: routedEmployee,
      mode: "actions",
      maxSteps: 5,
      jobId: null,
      subject: "task",
    });
    const stepsBefore = await metricsNow();

    await recordStep(pool, runId, { kind: "tool", tool: "read_file", status: "ok", durationMs: 3 });
    await recordStep(pool, runId, { kind: "turn", model: "m", status: "a provider's own words, not a label" });

    const stepsAfter = await metricsNow();
    expect(
      total(stepsAfter, "aura_agent_steps_total", { kind: "tool", status: "ok" }) -
        total(stepsBefore, "aura_agent_steps_total", { kind: "tool", status: "ok" }),
    ).toBe(1);
    expect(
      total(stepsAfter, "aura_agent_steps_total", { kind: "turn", status: "other" }) -
        total(stepsBefore, "aura_agent_steps_total", { kind: "turn", status: "other" }),
    ).toBe(1);
  });

  it("reports the last audit verification and this process as the leader", () => {
    expect(total(after, "aura_audit_verification_ok")).toBe(1);
    expect(total(after, "aura_audit_verification_events")).toBeGreaterThan(0);
    expect(total(after, "aura_leader", { pid: String(process.pid) })).toBe(1);
  });

  it("reads the queue's depth at scrape time", async () => {
    await enqueue(started.harness.db.pool, "label.sync", { installationId: INSTALLATION, repo: "octo-org/later" }, { runAt: new Date(Date.now() + 3_600_000) });

    const queued = await metricsNow();
    await started.harness.db.pool.query("SELECT graphile_worker.remove_job('label:octo-org/later')");
    const emptied = await metricsNow();

    expect(total(queued, "aura_queue_jobs", { job: "label.sync", state: "scheduled" })).toBe(1);
    expect(total(queued, "aura_queue_read_ok")).toBe(1);
    expect(total(emptied, "aura_queue_jobs", { job: "label.sync" })).toBe(0);
  });

  it("links the webhook, the job, the model call, the sandbox run and the GitHub write in one trace", () => {
    const finished = spans.getFinishedSpans();
    const webhook = finished.find((span) => span.name === "webhook issues");
    const inTrace = finished.filter((span) => span.spanContext().traceId === webhook?.spanContext().traceId);
    const byId = new Map(inTrace.map((span) => [span.spanContext().spanId, span]));
    const chain = (span: ReadableSpan | undefined): string[] => {
      const names: string[] = [];
      for (let at = span; at; at = byId.get(at.parentSpanContext?.spanId ?? "")) names.push(at.name);
      return names;
    };
    const named = (name: string) => inTrace.find((span) => span.name === name);

    expect(webhook).toBeDefined();
    expect(chain(named("GitHub POST /repos/{owner}/{repo}/pulls"))).toEqual(
      expect.arrayContaining(["job task.work", "job requirement.intake", "webhook issues"]),
    );
    expect(chain(named("GitHub POST /repos/{owner}/{repo}/pulls")).at(-1)).toBe("webhook issues");
    expect(chain(inTrace.find((span) => span.name === "model call" && chain(span).includes("job task.work")))).toContain("webhook issues");
    expect(chain(named("sandbox run"))).toEqual(expect.arrayContaining(["job task.work", "webhook issues"]));
    // Span names are routes, never a repository or a page's absolute link (the paginate plugin passes those).
    expect(inTrace.map((span) => span.name).filter((name) => /https?:|octo-org|\/\d/.test(name))).toEqual([]);
    expect(inTrace.map((span) => span.name)).toContain("GitHub GET /repos/{owner}/{repo}/issues/{n}/comments");
    expect(named("sandbox run")?.attributes).toMatchObject({ "aura.sandbox.phase": expect.any(String), "aura.sandbox.stopped_by": "exit" });
  });

  it("writes every line of a job with its job, delivery, task and installation ids", () => {
    const work = logLines.filter((line) => line.jobName === "task.work");
    const intake = logLines.filter((line) => line.jobName === "requirement.intake");

    expect(work.length).toBeGreaterThan(0);
    expect(intake.length).toBeGreaterThan(0);
    for (const line of work)
      expect(line).toMatchObject({ jobId: expect.any(String), attempt: expect.any(Number), taskId: expect.any(Number), installationId: INSTALLATION });
    for (const line of intake) expect(line).toMatchObject({ jobId: expect.any(String), deliveryId: expect.any(String), installationId: INSTALLATION });
  });
});
