// The per-employee circuit breaker, on an injected clock, and the client wrapper that routes calls through it.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { CircuitBreaker, withCircuitBreaker } from "../../src/models/circuit-breaker.js";
import { ModelCallError } from "../../src/models/model-client.js";
import { createModelClient } from "../../src/models/providers/index.js";
import { loadFixture, openAIReply, TEST_NOW, testPrices } from "./provider-fixtures.js";

function manualClock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("CircuitBreaker", () => {
  it("opens after N consecutive provider failures and refuses work", () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker({ failureThreshold: 3, windowMs: 60_000, coolDownMs: 30_000, clock: clock.now });

    breaker.recordFailure("e1", "server");
    breaker.recordFailure("e1", "timeout");
    const beforeThird = breaker.isAvailable("e1");
    breaker.recordFailure("e1", "server");

    expect(beforeThird).toBe(true);
    expect(breaker.state("e1")).toBe("open");
    expect(breaker.isAvailable("e1")).toBe(false);
    expect(breaker.isAvailable("e2")).toBe(true);
  });

  it("does not count invalid_output: a model that answers badly is reachable", () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, clock: manualClock().now });

    breaker.recordFailure("e1", "server");
    breaker.recordFailure("e1", "invalid_output");
    breaker.recordFailure("e1", "server");

    expect(breaker.state("e1")).toBe("closed");
    expect(breaker.snapshot("e1").recentFailures).toBe(1);
  });

  it("forgets failures older than the window", () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker({ failureThreshold: 3, windowMs: 60_000, clock: clock.now });

    breaker.recordFailure("e1", "server");
    breaker.recordFailure("e1", "server");
    clock.advance(61_000);
    breaker.recordFailure("e1", "server");

    expect(breaker.state("e1")).toBe("closed");
  });

  it("goes half-open after the cool-down, lets exactly one probe through, and closes on its success", () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 30_000, clock: clock.now });
    breaker.recordFailure("e1", "rate_limit");

    clock.advance(29_999);
    const stillOpen = breaker.tryAcquire("e1");
    clock.advance(1);
    const probe = breaker.tryAcquire("e1");
    const second = breaker.tryAcquire("e1");
    breaker.recordSuccess("e1");

    expect(stillOpen).toBe(false);
    expect(probe).toBe(true);
    expect(second).toBe(false);
    expect(breaker.state("e1")).toBe("closed");
    expect(breaker.isAvailable("e1")).toBe(true);
  });

  it("reopens for a full cool-down when the probe fails", () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 30_000, clock: clock.now });
    breaker.recordFailure("e1", "server");
    clock.advance(30_000);

    breaker.tryAcquire("e1");
    breaker.recordFailure("e1", "server");

    expect(breaker.state("e1")).toBe("open");
    expect(breaker.snapshot("e1").retryAt).toBe(clock.now() + 30_000);
  });
});

describe("withCircuitBreaker", () => {
  const Answer = z.object({ answer: z.string() });
  const request = { name: "Answer", schema: Answer, messages: [{ role: "user" as const, content: "hi" }] };

  function guardedClient(breaker: CircuitBreaker) {
    const client = createModelClient(
      { id: "openai-senior", provider: "openai", model: "gpt-4.1" },
      { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: "https://breaker.openai.test/v1" },
      { prices: testPrices(), now: () => TEST_NOW },
    );
    return withCircuitBreaker(client, breaker, "openai-senior");
  }

  it("stops sending requests after repeated 500s and fails fast with unavailable", async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, clock: manualClock().now });
    const scope = nock("https://breaker.openai.test").post("/v1/chat/completions").times(2).reply(500, loadFixture("openai-error-500.json"));
    const guarded = guardedClient(breaker);

    const outcomes: unknown[] = [];
    for (let call = 0; call < 3; call += 1) outcomes.push(await guarded.generate(request).catch((error: unknown) => error));

    expect(scope.isDone()).toBe(true);
    const kinds = outcomes.map((outcome) => (outcome instanceof ModelCallError ? outcome.kind : "not a ModelCallError"));
    expect(kinds).toEqual(["server", "server", "unavailable"]);
    expect(breaker.isAvailable("openai-senior")).toBe(false);
  });

  it("records a successful call as success and keeps the circuit closed", async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, clock: manualClock().now });
    breaker.recordFailure("openai-senior", "server");
    nock("https://breaker.openai.test").post("/v1/chat/completions").reply(200, openAIReply('{"answer":"ok"}'));

    const result = await guardedClient(breaker).generate(request);

    expect(result.value).toEqual({ answer: "ok" });
    expect(breaker.snapshot("openai-senior").recentFailures).toBe(0);
  });
});
