// Bottleneck's zero-delay yields (src/github/bottleneck-yield.ts): a GitHub request through the app's client no
// longer waits on a dozen 1 ms timers of the throttling and retry plugins' scheduler; yields with a real delay,
// and the throttling plugin's pacing, still use timers.
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
    // Bottleneck still times the job itself (its _run), but no longer each datastore step: 10 zero-delay timers
    // per request before, those of _run (one per limiter the request passes) after.
    expect(delays.length).toBeLessThanOrEqual(4);
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
