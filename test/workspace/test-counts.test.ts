import { describe, expect, it } from "vitest";
import { parseTestCounts } from "../../src/workspace/test-counts.js";

const cases: { name: string; log: string; expected: ReturnType<typeof parseTestCounts> }[] = [
  {
    name: "vitest",
    log: " Test Files  1 failed | 2 passed (3)\n      Tests  3 passed | 1 failed (4)\n   Start at  10:00:00\n",
    expected: { runner: "vitest", passed: 3, failed: 1, skipped: 0, total: 4, unit: "tests" },
  },
  {
    name: "vitest with colours and skips",
    log: "\u001b[2m      Tests \u001b[22m \u001b[1m\u001b[31m1 failed\u001b[39m\u001b[22m\u001b[2m | \u001b[22m\u001b[1m\u001b[32m5 passed\u001b[39m\u001b[22m\u001b[2m | \u001b[22m\u001b[33m2 skipped\u001b[39m\u001b[90m (8)\u001b[39m\n",
    expected: { runner: "vitest", passed: 5, failed: 1, skipped: 2, total: 8, unit: "tests" },
  },
  {
    name: "jest",
    log: "Test Suites: 1 failed, 1 passed, 2 total\nTests:       1 failed, 1 skipped, 3 passed, 5 total\nSnapshots:   0 total\n",
    expected: { runner: "jest", passed: 3, failed: 1, skipped: 1, total: 5, unit: "tests" },
  },
  {
    name: "mocha",
    log: "  ✓ adds\n\n  3 passing (12ms)\n  2 pending\n  1 failing\n\n  1) fails:\n",
    expected: { runner: "mocha", passed: 3, failed: 1, skipped: 2, total: 6, unit: "tests" },
  },
  {
    name: "node:test (tap reporter)",
    log: "TAP version 13\nok 1 - a\nnot ok 2 - b\n1..2\n# tests 4\n# suites 0\n# pass 3\n# fail 1\n# cancelled 0\n# skipped 0\n# todo 0\n# duration_ms 50\n",
    expected: { runner: "node:test", passed: 3, failed: 1, skipped: 0, total: 4, unit: "tests" },
  },
  {
    name: "node:test (spec reporter)",
    log: "✔ a (1ms)\nℹ tests 2\nℹ suites 0\nℹ pass 2\nℹ fail 0\nℹ cancelled 0\nℹ skipped 0\nℹ todo 0\n",
    expected: { runner: "node:test", passed: 2, failed: 0, skipped: 0, total: 2, unit: "tests" },
  },
  {
    name: "tape / TAP",
    log: "TAP version 13\n# add\nok 1 should be equal\n\n1..4\n# tests 4\n# pass  4\n\n# ok\n",
    expected: { runner: "tap", passed: 4, failed: 0, skipped: 0, total: 4, unit: "tests" },
  },
  {
    name: "pytest",
    log: "tests/test_a.py ..F.\n=========================== short test summary info ===\nFAILED tests/test_a.py::test_c\n==================== 1 failed, 3 passed, 2 skipped in 0.12s ====================\n",
    expected: { runner: "pytest", passed: 3, failed: 1, skipped: 2, total: 6, unit: "tests" },
  },
  {
    name: "pytest (short summary, -q)",
    log: "....\n4 passed in 0.01s\n",
    expected: { runner: "pytest", passed: 4, failed: 0, skipped: 0, total: 4, unit: "tests" },
  },
  {
    name: "go test -v",
    log: "=== RUN   TestA\n--- PASS: TestA (0.00s)\n=== RUN   TestB\n    --- FAIL: TestB/sub (0.00s)\n--- FAIL: TestB (0.00s)\n--- SKIP: TestC (0.00s)\nFAIL\nFAIL\texample.com/m\t0.002s\n",
    expected: { runner: "go", passed: 1, failed: 2, skipped: 1, total: 4, unit: "tests" },
  },
  {
    name: "go test (packages only)",
    log: "ok  \texample.com/m/a\t0.002s\nFAIL\texample.com/m/b\t0.003s\nok  \texample.com/m/c\t(cached)\nFAIL\n",
    expected: { runner: "go", passed: 2, failed: 1, skipped: 0, total: 3, unit: "packages" },
  },
  {
    name: "cargo (two test binaries)",
    log: "running 3 tests\ntest result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\nrunning 2 tests\ntest result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n",
    expected: { runner: "cargo", passed: 4, failed: 1, skipped: 1, total: 6, unit: "tests" },
  },
  { name: "no recognisable summary", log: "npm ERR! missing script: test\n", expected: undefined },
];

describe("parseTestCounts", () => {
  it.each(cases)("reads $name", ({ log, expected }) => {
    const counts = parseTestCounts(log);

    expect(counts).toEqual(expected);
  });
});
