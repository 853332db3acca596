// The wrappers the instrumented sites call in one line each: a webhook delivery, a job run, a model call, a
// sandbox run and a GitHub request each become a span (see tracing.ts) and move their metrics (metrics.ts). The
// shapes they read are declared here structurally, so this folder imports nothing from the modules it observes.
import { SpanKind } from "@opentelemetry/api";
import type { Task } from "graphile-worker";
import type { ProbotOctokit } from "probot";
import { countDelivery, countJobRun, countModelCall, countSandboxRun, type ModelUsage } from "./metrics.js";
import { jobIdsOf, withJobIds } from "./log.js";
import { inSpan, traceContextOf } from "./tracing.js";

const seconds = (since: number) => (performance.now() - since) / 1000;

/** Records a verified delivery in the inbox (`record`), in the span that the jobs it queues continue. */
export async function observeDelivery<R extends { duplicate: boolean }>(
  delivery: { id: string; event: string; installationId: number | undefined },
  record: () => Promise<R>,
): Promise<R> {
  const started = performance.now();
  const attributes = {
    "github.delivery": delivery.id,
    "github.event": delivery.event,
    ...(delivery.installationId ? { "aura.installation": delivery.installationId } : {}),
  };
  return inSpan(`webhook ${delivery.event}`, { kind: SpanKind.SERVER, attributes }, async (span) => {
    try {
      const result = await record();
      span.setAttribute("aura.duplicate", result.duplicate);
      countDelivery(delivery.event, result.duplicate ? "duplicate" : "recorded", seconds(started));
      return result;
    } catch (error) {
      countDelivery(delivery.event, "failed", seconds(started));
      throw error;
    }
  });
}

/**
 * A job handler as the queue runner runs it: in a span continuing the trace its payload carries, with its ids on
 * every log line, and counted (wait from its due time, run time, failure, retry).
 */
export function observedTask(name: string, task: Task): Task {
  return async (payload, helpers) => {
    const { job } = helpers;
    const started = performance.now();
    const waitSeconds = (Date.now() - new Date(job.run_at).getTime()) / 1000;
    const ids = jobIdsOf(name, job, payload);
    let failed = false;
    try {
      const attributes = { "aura.job": name, "aura.job_id": job.id, "aura.attempt": job.attempts };
      return await withJobIds(ids, () =>
        inSpan(`job ${name}`, { kind: SpanKind.CONSUMER, parent: traceContextOf(payload), attributes }, () => Promise.resolve(task(payload, helpers))),
      );
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      countJobRun({ job: name, attempt: job.attempts, waitSeconds, seconds: seconds(started), failed, final: job.attempts >= job.max_attempts });
    }
  };
}

/** What a settled call returns (StructuredResult, ToolTurnResult); both name their provider. */
type ModelOutcome = { provider?: string; usage: ModelUsage; costUsd: number };
type SpentDetails = { provider?: string; usage?: ModelUsage; costUsd?: number };

/** A budgeted model call, in a span, counted per provider and employee with its tokens and cost (also when it fails). */
export async function observeModelCall<T extends ModelOutcome>(who: { employeeId: string; purpose: string }, call: () => Promise<T>): Promise<T> {
  const attributes = { "aura.employee": who.employeeId, "aura.purpose": who.purpose };
  return inSpan("model call", { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const result = await call();
      const provider = result.provider ?? "unknown";
      span.setAttributes({ "gen_ai.system": provider, "gen_ai.usage.input_tokens": result.usage.input, "gen_ai.usage.output_tokens": result.usage.output });
      countModelCall({ provider, employee: who.employeeId, ok: true, usage: result.usage, costUsd: result.costUsd });
      return result;
    } catch (error) {
      const spent = (error as { details?: SpentDetails } | null)?.details;
      countModelCall({ provider: spent?.provider ?? "unknown", employee: who.employeeId, ok: false, usage: spent?.usage, costUsd: spent?.costUsd ?? 0 });
      throw error;
    }
  });
}

type SandboxOutcome = { timedOut: boolean; memoryExceeded: boolean; signal: string | null; exitCode: number | null; durationMs: number };

/** What ended a sandbox run: its time or memory limit, a signal, or its own exit. */
export function stoppedBy(result: SandboxOutcome): "timeout" | "memory" | "signal" | "exit" {
  if (result.timedOut) return "timeout";
  if (result.memoryExceeded) return "memory";
  return result.signal !== null ? "signal" : "exit";
}

/** A sandbox run, in a span, counted by phase and by what stopped it (`refused` / `error` when it did not run). */
export async function observeSandboxRun<R extends SandboxOutcome>(phase: string, run: () => Promise<R>): Promise<R> {
  const started = performance.now();
  return inSpan("sandbox run", { attributes: { "aura.sandbox.phase": phase } }, async (span) => {
    try {
      const result = await run();
      const stopped = stoppedBy(result);
      span.setAttributes({ "aura.sandbox.stopped_by": stopped, ...(result.exitCode !== null ? { "process.exit.code": result.exitCode } : {}) });
      countSandboxRun(phase, stopped, result.durationMs / 1000);
      return result;
    } catch (error) {
      countSandboxRun(phase, error instanceof Error && error.name.startsWith("SandboxUnavailable") ? "refused" : "error", seconds(started));
      throw error;
    }
  });
}

/**
 * A request's route for a span name: Octokit's template (`/repos/{owner}/{repo}/pulls`), or, for a page after the
 * first (the paginate plugin passes GitHub's absolute `next` link), its path with the ids taken out.
 */
export function routeOf(url: string): string {
  if (!/^https?:\/\//.test(url)) return url;
  return new URL(url).pathname.replace(/^(\/api\/v3)?\/repos\/[^/]+\/[^/]+/, "/repos/{owner}/{repo}").replace(/\/\d+(?=\/|$)/g, "/{n}");
}

/** Every GitHub request of this Octokit becomes a span named by its route (`GitHub POST /repos/{owner}/{repo}/pulls`). */
export function traceGitHubRequests(octokit: Pick<InstanceType<typeof ProbotOctokit>, "hook">): void {
  octokit.hook.wrap("request", (request, options) => {
    const route = routeOf(options.url);
    const attributes = { "http.request.method": options.method, "url.template": route };
    return inSpan(`GitHub ${options.method} ${route}`, { kind: SpanKind.CLIENT, attributes }, () => Promise.resolve(request(options)));
  });
}
