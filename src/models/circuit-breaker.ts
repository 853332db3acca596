// A per-employee circuit breaker: after repeated provider failures it stops work being sent to that
// employee for a cool-down, then lets a single probe call through. Only provider failures count; a model
// that answers badly (invalid_output) is reachable, and judging its quality is the Accountant's job.
import type { z } from "zod";
import { ModelCallError, type ModelClient, type ModelFailureKind, type StructuredRequest, type StructuredResult } from "./model-client.js";
import type { ToolTurnRequest, ToolTurnResult } from "./tool-calling.js";

export type BreakerState = "closed" | "open" | "half_open";

export type CircuitBreakerOptions = {
  /** Consecutive provider failures within `windowMs` that open the circuit. */
  failureThreshold?: number;
  /** Failures older than this no longer count towards the threshold. */
  windowMs?: number;
  /** How long the circuit stays open before one probe is allowed. */
  coolDownMs?: number;
  /** Milliseconds clock; injectable for tests. */
  clock?: () => number;
  /** Failure kinds that count; every provider failure by default. */
  countedKinds?: readonly ModelFailureKind[];
};

/** What routing records about an employee's breaker when it explains a decision. */
export type BreakerSnapshot = {
  employeeId: string;
  state: BreakerState;
  /** Consecutive counted failures still inside the window. */
  recentFailures: number;
  /** When the circuit opened (ms since epoch), if it is open or half-open. */
  openedAt?: number;
  /** When an open circuit admits its probe. */
  retryAt?: number;
  lastFailureKind?: ModelFailureKind;
};

type Entry = {
  failures: number[];
  openedAt: number | undefined;
  probeInFlight: boolean;
  lastFailureKind: ModelFailureKind | undefined;
};

const PROVIDER_FAILURES: readonly ModelFailureKind[] = ["auth", "rate_limit", "timeout", "server", "bad_request", "unavailable"];

export class CircuitBreaker {
  readonly failureThreshold: number;
  readonly windowMs: number;
  readonly coolDownMs: number;
  private readonly clock: () => number;
  private readonly counted: ReadonlySet<ModelFailureKind>;
  private readonly entries = new Map<string, Entry>();

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = options.failureThreshold ?? 3;
    this.windowMs = options.windowMs ?? 5 * 60_000;
    this.coolDownMs = options.coolDownMs ?? 60_000;
    this.clock = options.clock ?? Date.now;
    // invalid_output is never a provider failure, whatever the caller passes.
    this.counted = new Set((options.countedKinds ?? PROVIDER_FAILURES).filter((kind) => kind !== "invalid_output"));
  }

  private entry(employeeId: string): Entry {
    let entry = this.entries.get(employeeId);
    if (!entry) {
      entry = { failures: [], openedAt: undefined, probeInFlight: false, lastFailureKind: undefined };
      this.entries.set(employeeId, entry);
    }
    return entry;
  }

  state(employeeId: string): BreakerState {
    const entry = this.entries.get(employeeId);
    if (!entry || entry.openedAt === undefined) return "closed";
    return this.clock() - entry.openedAt >= this.coolDownMs ? "half_open" : "open";
  }

  /** Whether work may be sent to the employee now: closed, or half-open with no probe running. */
  isAvailable(employeeId: string): boolean {
    const state = this.state(employeeId);
    if (state === "closed") return true;
    if (state === "open") return false;
    return !this.entry(employeeId).probeInFlight;
  }

  /**
   * Claims the right to call the employee. In half-open state only one caller gets it (the probe); the
   * others are refused until the probe reports back. Returns false when the call must not be made.
   */
  tryAcquire(employeeId: string): boolean {
    if (!this.isAvailable(employeeId)) return false;
    if (this.state(employeeId) === "half_open") this.entry(employeeId).probeInFlight = true;
    return true;
  }

  /** Gives back a probe slot without an outcome (the call failed for a reason that is not the provider's). */
  release(employeeId: string): void {
    const entry = this.entries.get(employeeId);
    if (entry) entry.probeInFlight = false;
  }

  /** A call that reached the provider and got an answer (valid or not) closes the circuit. */
  recordSuccess(employeeId: string): void {
    const entry = this.entry(employeeId);
    entry.failures = [];
    entry.openedAt = undefined;
    entry.probeInFlight = false;
  }

  /** Records the outcome of a failed call; only counted provider failures move the breaker. */
  recordFailure(employeeId: string, kind: ModelFailureKind): void {
    if (!this.counted.has(kind)) {
      // The provider answered; a bad answer proves it reachable.
      if (kind === "invalid_output") this.recordSuccess(employeeId);
      return;
    }
    const now = this.clock();
    const entry = this.entry(employeeId);
    entry.lastFailureKind = kind;
    if (this.state(employeeId) === "half_open") {
      // The probe failed: open again for a full cool-down.
      entry.openedAt = now;
      entry.probeInFlight = false;
      entry.failures = [now];
      return;
    }
    entry.failures = [...entry.failures.filter((at) => now - at < this.windowMs), now];
    if (entry.openedAt === undefined && entry.failures.length >= this.failureThreshold) entry.openedAt = now;
  }

  snapshot(employeeId: string): BreakerSnapshot {
    const entry = this.entries.get(employeeId);
    const now = this.clock();
    const state = this.state(employeeId);
    const snapshot: BreakerSnapshot = {
      employeeId,
      state,
      recentFailures: entry ? entry.failures.filter((at) => now - at < this.windowMs).length : 0,
    };
    if (entry?.openedAt !== undefined) {
      snapshot.openedAt = entry.openedAt;
      snapshot.retryAt = entry.openedAt + this.coolDownMs;
    }
    if (entry?.lastFailureKind) snapshot.lastFailureKind = entry.lastFailureKind;
    return snapshot;
  }
}

/**
 * Wraps an employee's client so every call (a structured reply or an agent turn) goes through the breaker:
 * refused with ModelCallError "unavailable" while open, and each outcome recorded. Errors that are not
 * ModelCallError (a schema the converter cannot express, a caller abort) say nothing about the provider and
 * are not recorded.
 */
export function withCircuitBreaker(client: ModelClient, breaker: CircuitBreaker, employeeId: string): ModelClient {
  const guarded = async <T>(call: () => Promise<T>): Promise<T> => {
    if (!breaker.tryAcquire(employeeId)) {
      const snapshot = breaker.snapshot(employeeId);
      throw new ModelCallError(
        "unavailable",
        `employee ${employeeId} is paused after repeated ${snapshot.lastFailureKind ?? "provider"} failures; retry after ${new Date(snapshot.retryAt ?? 0).toISOString()}`,
        { provider: client.provider, model: client.model, attempts: 0 },
      );
    }
    try {
      const result = await call();
      breaker.recordSuccess(employeeId);
      return result;
    } catch (error) {
      if (error instanceof ModelCallError) breaker.recordFailure(employeeId, error.kind);
      else breaker.release(employeeId);
      throw error;
    }
  };
  return {
    provider: client.provider,
    model: client.model,
    generate<S extends z.ZodType>(request: StructuredRequest<S>): Promise<StructuredResult<z.infer<S>>> {
      return guarded(() => client.generate(request));
    },
    turn(request: ToolTurnRequest): Promise<ToolTurnResult> {
      return guarded(() => client.turn(request));
    },
  };
}
