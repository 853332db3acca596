// Bottleneck's zero-delay yields and job starts (src/github/bottleneck-yield.ts): a GitHub request through the
// app's client no longer waits on any 1 ms timer of the throttling and retry plugins' scheduler; yields and jobs
// with a real delay (the plugins' pacing, minTime) still use timers, and a job scheduled at once can still be
// dropped by stop() before it runs.
import { createRequire } from "node:module";
import Bottleneck from "bottleneck";
import nock from "nock";
import { afterEach, describe, expect, it, vi } from "vitest";
import { useImmediateYields } from "../../src/github/bottleneck-yield.js";
import { mockInstallationTokens, unthrottledGitHub } from "../helpers/harness.js";

const api = "https://api.github.com";

/** The delays of the timers started while `work` runs from Bottleneck's code (by the caller's stack). */
async function bottleneckTimers(work: () => Promise<unknown>): Promise<number[]> {
  const original = globalThis.setTimeout;
  const delays: number[] = [];
  const spy = vi.spyOn(globalThis, "setTimeout").mockImplementation(((handler: () => void, delay?: number, ...rest: unknown[]) => {
    if (/node_modules\/bottleneck\//.test(new Error().stack ?? "")) delays.push(delay ?? 0);
    return original(handler, delay, ...rest);
  }) as typeof setTimeout);
  try {
    await work();
    return delays;
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => {
  nock.cleanAll();
});

describe("Bottleneck's yields", () => {
  it("patches the datastore of both module files of the package, once", () => {
    const first = useImmediateYields();
    const second = useImmediateYields();

    expect(first).toHaveLength(2);
    expect(new Set(first).size).toBe(2);
    expect(second).toEqual(first);
    const light = createRequire(import.meta.url)("bottleneck/light.js") as typeof Bottleneck;
    for (const Class of [Bottleneck, light]) {
      const limiter = new Class() as unknown as { _store: object };
      expect(first).toContain(Object.getPrototypeOf(limiter._store));
    }
  });

  it("a request through the app's client starts no zero-delay timer in Bottleneck, and still succeeds", async () => {
    const github = unthrottledGitHub();
    mockInstallationTokens();
    nock(api).get("/repos/o/r/pulls/1").twice().reply(200, { number: 1 });
    const octokit = github.forInstallation(7);
    await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner: "o", repo: "r", pull_number: 1 });
    let response: { data: unknown } | undefined;

    const delays = await bottleneckTimers(async () => {
      response = await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { owner: "o", repo: "r", pull_number: 1 });
    });

    expect(response?.data).toEqual({ number: 1 });
    // 13 zero-delay timers per request before (ten datastore steps, three job starts), none after.
    expect(delays.filter((delay) => delay === 0)).toEqual([]);
  });

  it("a job with a wait (minTime) still starts on its timer, in order", async () => {
    useImmediateYields();
    const limiter = new Bottleneck({ maxConcurrent: 1, minTime: 40 });
    const started: number[] = [];
    const at = Date.now();

    const delays = await bottleneckTimers(() => Promise.all([1, 2].map((n) => limiter.schedule(async () => void started.push(n)))));

    expect(started).toEqual([1, 2]);
    expect(delays.some((delay) => delay > 0)).toBe(true);
    expect(Date.now() - at).toBeGreaterThanOrEqual(35);
  });

  it("a job scheduled to start at once is cancelled by clearTimeout on its handle, as Bottleneck's stop() cancels one", async () => {
    useImmediateYields();
    const light = createRequire(import.meta.url)("bottleneck/light.js") as typeof Bottleneck;
    for (const Class of [Bottleneck, light]) {
      const limiter = new Class();
      const instance = limiter as unknown as { _run: (...args: unknown[]) => { timeout: Parameters<typeof clearTimeout>[0] } };
      const original = instance._run;
      // Cancel each start as soon as it is scheduled (stop({ dropWaitingJobs }) clears `timeout` the same way).
      instance._run = function (this: unknown, ...args: unknown[]) {
        const scheduled = original.apply(this, args);
        clearTimeout(scheduled.timeout);
        return scheduled;
      };
      let ran = false;
      void limiter
        .schedule(async () => {
          ran = true;
        })
        .catch(() => undefined);

      for (let turn = 0; turn < 50; turn++) await new Promise((resolve) => setImmediate(resolve));

      expect(limiter.counts().RUNNING).toBe(1);
      expect(ran).toBe(false);
    }
  });

  it("a yield with a delay still waits on a timer", async () => {
    const [prototype] = useImmediateYields() as { yieldLoop: (this: unknown, t?: number) => Promise<void> }[];
    const spy = vi.spyOn(globalThis, "setTimeout");

    await prototype?.yieldLoop.call({ Promise }, 5);
    const delays = spy.mock.calls.map(([, delay]) => delay);
    spy.mockRestore();

    expect(delays).toEqual([5]);
  });
});
