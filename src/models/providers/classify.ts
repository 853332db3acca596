// Shared failure classification for the providers: HTTP status to failure kind, retry hints, network errors.
// A provider failure (auth, limits, outages) must never be mistaken for a bad answer from the model.
import type { FailureClassification } from "../structured-output.js";

/** The failure kind for an HTTP status from a provider API. */
export function kindForStatus(status: number): FailureClassification["kind"] {
  if (status === 401 || status === 403) return "auth";
  if (status === 429) return "rate_limit";
  if (status === 408) return "timeout";
  if (status >= 500) return "server";
  return "bad_request";
}

/** Milliseconds from a `Retry-After` (seconds or HTTP date) or `retry-after-ms` header value. */
export function parseRetryAfter(retryAfter: string | null | undefined, retryAfterMs?: string | null, now: number = Date.now()): number | undefined {
  if (retryAfterMs) {
    const ms = Number(retryAfterMs);
    if (Number.isFinite(ms) && ms >= 0) return Math.round(ms);
  }
  if (!retryAfter) return undefined;
  const seconds = Number(retryAfter);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const date = Date.parse(retryAfter);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Milliseconds from a protobuf duration such as Google's `RetryInfo.retryDelay` ("37s", "1.5s"). */
export function parseProtoDuration(value: unknown): number | undefined {
  if (typeof value !== "string") return undefined;
  const match = /^(\d+(?:\.\d+)?)s$/.exec(value.trim());
  return match?.[1] ? Math.round(Number(match[1]) * 1000) : undefined;
}

/** Network-level failures (refused, reset, DNS) mean the provider is unreachable: a server failure. */
export function classifyNetworkError(provider: string, error: unknown): FailureClassification {
  const code = networkCode(error);
  return {
    kind: "server",
    message: `${provider} could not be reached${code ? ` (${code})` : ""}: ${errorMessage(error)}`,
  };
}

function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    const code: unknown = Reflect.get(current, "code");
    if (typeof code === "string") return code;
    current = current.cause;
  }
  return undefined;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
