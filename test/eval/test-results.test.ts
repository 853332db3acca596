import { describe, expect, it } from "vitest";
import { classifyCommit, parseLog } from "../../src/eval/history.js";
import { judge } from "../../src/eval/judge.js";
import { pathKind } from "../../src/eval/test-paths.js";
import { parseTestResults } from "../../src/eval/test-results.js";

describe("per-test results from a runner's output", () => {
  it("reads node:test's TAP, nesting suites and naming a file that failed to load by its path in the tree", () => {
    const log = [
      "TAP version 13",
      "# Subtest: adds",
      "ok 1 - adds",
      "# Subtest: group",
      "    # Subtest: inner",
      "    not ok 1 - inner",
      "    # Subtest: later",
      "    ok 2 - later # SKIP",
      "    1..2",
      "not ok 2 - group",
      "# Subtest: /workspace/test/broken.test.js",
      "not ok 3 - /workspace/test/broken.test.js",
      "1..3",
    ].join("\n");

    const results = parseTestResults(log);

    expect(Object.fromEntries(results ?? [])).toEqual({
      adds: "pass",
      "group > inner": "fail",
      "group > later": "skip",
      group: "fail",
      "test/broken.test.js": "fail",
    });
  });

  it("reads pytest -rA, go test -v, cargo test and vitest's verbose check marks", () => {
    const pytest = parseTestResults("PASSED tests/test_a.py::test_adds\nFAILED tests/test_a.py::test_subs - AssertionError: 0 != 1\n");
    const go = parseTestResults("=== RUN   TestAdd\n--- PASS: TestAdd (0.00s)\n--- FAIL: TestSub (0.00s)\nFAIL\n");
    const cargo = parseTestResults("test tests::adds ... ok\ntest tests::subs ... FAILED\n");
    const vitest = parseTestResults(" ✓ test/a.test.ts > adds 2ms\n × test/a.test.ts > subs 3ms\n");

    expect(Object.fromEntries(pytest ?? [])).toEqual({ "tests/test_a.py::test_adds": "pass", "tests/test_a.py::test_subs": "fail" });
    expect(Object.fromEntries(go ?? [])).toEqual({ TestAdd: "pass", TestSub: "fail" });
    expect(Object.fromEntries(cargo ?? [])).toEqual({ "tests::adds": "pass", "tests::subs": "fail" });
    expect(Object.fromEntries(vitest ?? [])).toEqual({ "test/a.test.ts > adds": "pass", "test/a.test.ts > subs": "fail" });
  });

  it("is undefined when the output names no tests", () => {
    expect(parseTestResults("all good\n")).toBeUndefined();
  });
});

describe("judging a mined change", () => {
  const results = (entries: Record<string, "pass" | "fail">) => new Map(Object.entries(entries));

  it("falls back to whole test files when the runner names no tests: the run fails before and passes after", () => {
    const kept = judge({ exitCode: 1, timedOut: false, results: undefined }, { exitCode: 0, timedOut: false, results: undefined }, ["test/add.test.js"]);
    const stillFailing = judge({ exitCode: 1, timedOut: false, results: undefined }, { exitCode: 1, timedOut: false, results: undefined }, [
      "test/add.test.js",
    ]);

    expect(kept).toEqual({ kept: true, unit: "file", failToPass: ["test/add.test.js"], passToPass: [] });
    expect(stillFailing).toEqual({ kept: false, reason: "the tests fail with the whole change (exit 1)" });
  });

  it("leaves out tests that fail both before and after, and rejects new tests that never pass", () => {
    const kept = judge(
      { exitCode: 1, timedOut: false, results: results({ a: "fail", flaky: "fail", b: "pass" }) },
      { exitCode: 1, timedOut: false, results: results({ a: "pass", flaky: "fail", b: "pass" }) },
      [],
    );
    const never = judge(
      { exitCode: 1, timedOut: false, results: results({ a: "fail" }) },
      { exitCode: 1, timedOut: false, results: results({ a: "fail" }) },
      [],
    );

    expect(kept).toEqual({ kept: true, unit: "test", failToPass: ["a"], passToPass: ["b"] });
    expect(never).toEqual({ kept: false, reason: 'the new tests do not pass with the whole change: "a"' });
  });
});

describe("the history pass", () => {
  it("tells tests, docs and source apart by path", () => {
    const kinds = [
      "test/a.js",
      "src/__tests__/a.js",
      "lib/a.test.ts",
      "pkg/a_test.go",
      "tests/test_a.py",
      "spec/a_spec.rb",
      "README.md",
      "docs/x.html",
      "LICENSE",
      "src/a.ts",
      "package.json",
    ].map(pathKind);

    expect(kinds).toEqual(["test", "test", "test", "test", "test", "test", "doc", "doc", "doc", "source", "source"]);
  });

  it("parses one -z name-status log and classifies each commit from its paths", () => {
    const log =
      "\x1e" +
      "c".repeat(40) +
      " " +
      "b".repeat(40) +
      "\x1f1704110400\0\nM\0src/a.js\0A\0test/a.test.js\0" +
      "\x1e" +
      "b".repeat(40) +
      " " +
      "a".repeat(40) +
      "\x1f1704024000\0\nM\0README.md\0" +
      "\x1e" +
      "a".repeat(40) +
      "\x1f1703937600\0\nA\0src/a.js\0";

    const verdicts = parseLog(log).map(classifyCommit);

    expect(verdicts[0]).toMatchObject({ sha: "c".repeat(40), parent: "b".repeat(40), testFiles: ["test/a.test.js"], otherFiles: ["src/a.js"] });
    expect(verdicts.slice(1)).toEqual(["no test change", "root commit"]);
  });
});
