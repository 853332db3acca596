// Traces through the OpenTelemetry API only. Nothing is exported unless the standard OTEL_EXPORTER_OTLP_ENDPOINT
// is set: then `startTracing` loads the Node tracer provider and the OTLP/HTTP exporter (lazily, so an app without
// tracing never loads them) and registers them for the process. Without it the API's tracer is the no-op one and
// a span costs a function call. One trace runs from a webhook delivery through the jobs it queues (the trace
// context rides in each job's payload as `traceparent`) to the model calls, sandbox runs and GitHub requests
// those jobs make.
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from "@opentelemetry/api";
import type { Logger } from "pino";

const TRACER = "aura-orchestra";

export type SpanOptions = { attributes?: Attributes; kind?: SpanKind; parent?: Context };

/** Runs `fn` in a span that is the active one while it runs; an error is recorded on the span and rethrown. */
export async function inSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.parent ?? context.active();
  return trace
    .getTracer(TRACER)
    .startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes ?? {} }, parent, async (span) => {
      try {
        return await fn(span);
      } catch (error) {
        span.recordException(error instanceof Error ? error : String(error));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
        throw error;
      } finally {
        span.end();
      }
    });
}

/** `payload` with the active trace context added (`traceparent`, `tracestate`); unchanged when nothing is traced. */
export function withTraceContext<T extends object>(payload: T): T {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return Object.keys(carrier).length === 0 ? payload : { ...payload, ...carrier };
}

/** The trace context a job's payload carries (the root context when it carries none). */
export function traceContextOf(payload: unknown): Context {
  if (payload === null || typeof payload !== "object") return ROOT_CONTEXT;
  const fields = payload as Record<string, unknown>;
  return propagation.extract(ROOT_CONTEXT, fields, {
    get: (carrier, key) => (typeof carrier[key] === "string" ? carrier[key] : undefined),
    keys: (carrier) => Object.keys(carrier),
  });
}

/**
 * Starts exporting traces over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set; returns what flushes and stops
 * it. The exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself (endpoint, headers, timeout), and the
 * resource OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (service name `aura-orchestra` by default).
 */
export async function startTracing(endpoint: string | undefined, log: Logger): Promise<() => Promise<void>> {
  if (endpoint === undefined) return async () => undefined;
  const [{ NodeTracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes, detectResources, envDetector }] = await Promise.all([
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/exporter-trace-otlp-http"),
    import("@opentelemetry/resources"),
  ]);
  const resource = resourceFromAttributes({ "service.name": TRACER }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())] });
  provider.register();
  log.info({ endpoint }, "exporting traces over OTLP/HTTP");
  return async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
  };
}
