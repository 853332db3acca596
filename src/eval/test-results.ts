// Per-test results read from a test run's output, for FAIL_TO_PASS and PASS_TO_PASS. Runners that name each
// test are read: TAP (node:test's default reporter when its output is not a terminal, tape, node-tap), pytest
// with -rA (its "PASSED path::name" summary), `go test -v`, cargo test, and the check-mark lines of vitest and
// jest verbose and node:test's spec reporter. When none of these is found the result is undefined and mining
// falls back to whole test files as the unit (the run's exit status), and says so in the task.

export type TestStatus = "pass" | "fail" | "skip";
export type TestResults = Map<string, TestStatus>;

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
/** node:test names a file that failed to load by its path in the sandbox; the task names it from the tree. */
const SANDBOX_TREE = /^\/workspace\//;

function record(results: TestResults, name: string, status: TestStatus): void {
  const clean = name.trim().replace(SANDBOX_TREE, "");
  if (clean === "") return;
  // A name reported twice (the same title in two files, or a reporter's closing list of failures): a failure wins.
  const earlier = results.get(clean);
  if (earlier === "fail" || (earlier === "pass" && status === "skip")) return;
  results.set(clean, status);
}

function tap(lines: string[]): TestResults | undefined {
  const results: TestResults = new Map();
  const open: { indent: number; name: string }[] = [];
  for (const line of lines) {
    const subtest = line.match(/^(\s*)# Subtest: (.*)$/);
    if (subtest) {
      const indent = subtest[1]?.length ?? 0;
      while (open.length > 0 && (open.at(-1)?.indent ?? 0) >= indent) open.pop();
      open.push({ indent, name: subtest[2] ?? "" });
      continue;
    }
    const point = line.match(/^(\s*)(not ok|ok)\b(?:\s+\d+)?(?:\s*-?\s*)(.*?)(?:\s+#\s*(SKIP|TODO)\b.*)?$/i);
    if (!point) continue;
    const indent = point[1]?.length ?? 0;
    while (open.length > 0 && (open.at(-1)?.indent ?? 0) > indent) open.pop();
    const own = open.at(-1)?.indent === indent ? open.pop() : undefined;
    const name = (own?.name ?? point[3] ?? "").replace(/\\#/g, "#");
    const parents = open.filter((entry) => entry.indent < indent).map((entry) => entry.name.replace(SANDBOX_TREE, ""));
    const status: TestStatus = point[4] ? "skip" : point[2]?.toLowerCase() === "ok" ? "pass" : "fail";
    record(results, [...parents, name.replace(SANDBOX_TREE, "")].join(" > "), status);
  }
  return results.size > 0 ? results : undefined;
}

type LinePattern = { pattern: RegExp; name: number; status: number; read: (text: string) => TestStatus | undefined };

function byPattern(lines: string[], { pattern, name, status, read }: LinePattern): TestResults | undefined {
  const results: TestResults = new Map();
  for (const line of lines) {
    const match = line.match(pattern);
    const value = match ? read(match[status] ?? "") : undefined;
    if (match && value) record(results, match[name] ?? "", value);
  }
  return results.size > 0 ? results : undefined;
}

function word(text: string): TestStatus | undefined {
  const upper = text.toUpperCase();
  if (["PASSED", "PASS", "OK", "XPASS"].includes(upper)) return "pass";
  if (["FAILED", "FAIL", "ERROR"].includes(upper)) return "fail";
  if (["SKIPPED", "SKIP", "IGNORED", "XFAIL"].includes(upper)) return "skip";
  return undefined;
}

function mark(symbol: string): TestStatus | undefined {
  if ("✓✔√".includes(symbol)) return "pass";
  if ("×✕✖✗".includes(symbol)) return "fail";
  if ("↓○".includes(symbol)) return "skip";
  return undefined;
}

const parsers: ((lines: string[]) => TestResults | undefined)[] = [
  (lines) => (lines.some((line) => /^TAP version \d+/.test(line)) ? tap(lines) : undefined),
  // pytest -rA: "PASSED tests/test_a.py::test_adds", "FAILED tests/test_a.py::test_subs - AssertionError"
  (lines) => byPattern(lines, { pattern: /^(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS) (\S+::\S+?)(?: - .*)?$/, name: 2, status: 1, read: word }),
  // go test -v: "--- PASS: TestAdd (0.00s)"
  (lines) => byPattern(lines, { pattern: /^\s*--- (PASS|FAIL|SKIP): (\S+)/, name: 2, status: 1, read: word }),
  // cargo test: "test tests::adds ... ok"
  (lines) => byPattern(lines, { pattern: /^test (\S+) \.\.\. (ok|FAILED|ignored)$/, name: 1, status: 2, read: word }),
  // vitest / jest verbose, node:test spec: "✓ test/a.test.ts > adds 2ms", "✕ subs (3 ms)"
  (lines) => byPattern(lines, { pattern: /^\s*([✓✔√×✕✖✗↓○])\s+(.+?)(?:\s+\(?\d+(?:\.\d+)?\s*m?s\)?)?$/, name: 2, status: 1, read: mark }),
];

/** The per-test results of a run's output, or undefined when the output names no tests in a format read here. */
export function parseTestResults(log: string): TestResults | undefined {
  const lines = log.replace(ANSI, "").replace(/\r\n?/g, "\n").split("\n");
  for (const parse of parsers) {
    const results = parse(lines);
    if (results) return results;
  }
  return undefined;
}
