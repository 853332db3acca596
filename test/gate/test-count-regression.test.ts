import { describe, expect, it } from "vitest";
import type { RunSummary } from "../../src/auditor/evidence-store.js";
import { fewerTestsThanBase, runPassed } from "../../src/auditor/run-tests.js";

const run = (counts?: { passed: number; failed: number; total: number }): RunSummary => ({
  command: "npm test",
  exitCode: 0,
  timedOut: false,
  sandbox: "bwrap",
  counts: counts ? { ...counts, skipped: 0, runner: "node:test" } : undefined,
  logSha256: null,
  durationMs: 10,
  problem: undefined,
  logTail: "",
});

describe("the Auditor's run on the head compared with the base", () => {
  it.each([
    ["fewer tests run on the head", run({ passed: 8, failed: 0, total: 8 }), run({ passed: 10, failed: 0, total: 10 }), true],
    ["fewer tests pass on the head", run({ passed: 9, failed: 0, total: 10 }), run({ passed: 10, failed: 0, total: 10 }), true],
    ["the same tests", run({ passed: 10, failed: 0, total: 10 }), run({ passed: 10, failed: 0, total: 10 }), false],
    ["a test was added", run({ passed: 11, failed: 0, total: 11 }), run({ passed: 10, failed: 0, total: 10 }), false],
    ["the base printed no summary", run({ passed: 3, failed: 0, total: 3 }), run(), false],
  ])("%s", (_name, head, base, regressed) => {
    expect(runPassed(head)).toBe(true);

    expect(fewerTestsThanBase(head, base)).toBe(regressed);
  });
});
