// Reads test counts from the summary lines that common runners print, so a PR can state how many tests the
// sandbox run passed and failed. Only what a runner printed is reported; no summary means no counts.

export type TestRunner = "vitest" | "jest" | "mocha" | "node:test" | "tap" | "pytest" | "go" | "cargo";

export type TestCounts = {
  runner: TestRunner;
  passed: number;
  failed: number;
  skipped: number;
  total: number;
  /** `packages` for `go test` without -v, which only reports per-package ok/FAIL. */
  unit: "tests" | "packages";
};

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;

function count(text: string | undefined): number {
  return text === undefined ? 0 : Number.parseInt(text, 10);
}

function lastMatch(lines: string[], pattern: RegExp): RegExpMatchArray | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const match = lines[i]?.match(pattern);
    if (match) return match;
  }
  return undefined;
}

function labelled(text: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/(\d+)\s+([a-z]+)/gi)) {
    const label = (match[2] ?? "").toLowerCase();
    counts[label] = (counts[label] ?? 0) + count(match[1]);
  }
  return counts;
}

function make(runner: TestRunner, passed: number, failed: number, skipped: number, total?: number, unit: TestCounts["unit"] = "tests"): TestCounts {
  return { runner, passed, failed, skipped, total: total ?? passed + failed + skipped, unit };
}

function vitest(lines: string[]): TestCounts | undefined {
  // "Tests  3 passed | 1 failed (4)"; the "Test Files" line counts files, not tests.
  const match = lastMatch(lines, /^\s*Tests\s{2,}(.*\d.*?)\s*\((\d+)\)\s*$/);
  if (!match) return undefined;
  const c = labelled(match[1] ?? "");
  return make("vitest", c.passed ?? 0, c.failed ?? 0, (c.skipped ?? 0) + (c.todo ?? 0), count(match[2]));
}

function jest(lines: string[]): TestCounts | undefined {
  // "Tests:       1 failed, 3 passed, 4 total"
  const match = lastMatch(lines, /^\s*Tests:\s+(.*\d+ total)\s*$/);
  if (!match) return undefined;
  const c = labelled(match[1] ?? "");
  return make("jest", c.passed ?? 0, c.failed ?? 0, (c.skipped ?? 0) + (c.todo ?? 0), c.total);
}

function pytest(lines: string[]): TestCounts | undefined {
  // "==== 3 passed, 1 failed, 2 skipped in 0.12s ====" (also "no tests ran in 0.01s")
  const match = lastMatch(lines, /^=*\s*((?:\d+ [a-z]+(?:, )?)+) in [\d.]+s\b/);
  if (!match) return undefined;
  const c = labelled(match[1] ?? "");
  if (c.passed === undefined && c.failed === undefined && c.error === undefined && c.errors === undefined) return undefined;
  return make("pytest", c.passed ?? 0, (c.failed ?? 0) + (c.error ?? 0) + (c.errors ?? 0), (c.skipped ?? 0) + (c.xfailed ?? 0));
}

function cargo(lines: string[]): TestCounts | undefined {
  // One "test result:" line per test binary; the run's counts are their sum.
  let found = false;
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const line of lines) {
    const match = line.match(/^test result: \w+\. (\d+) passed; (\d+) failed; (\d+) ignored/);
    if (!match) continue;
    found = true;
    passed += count(match[1]);
    failed += count(match[2]);
    skipped += count(match[3]);
  }
  return found ? make("cargo", passed, failed, skipped) : undefined;
}

function mocha(lines: string[]): TestCounts | undefined {
  const passing = lastMatch(lines, /^\s*(\d+) passing\b/);
  if (!passing) return undefined;
  const failing = lastMatch(lines, /^\s*(\d+) failing\b/);
  const pending = lastMatch(lines, /^\s*(\d+) pending\b/);
  return make("mocha", count(passing[1]), count(failing?.[1]), count(pending?.[1]));
}

function tapLike(lines: string[]): TestCounts | undefined {
  // TAP (node:test's tap reporter, tape, node-tap): "# tests 4", "# pass 3", "# fail 1";
  // node:test's spec reporter prints the same with "ℹ".
  const tests = lastMatch(lines, /^(#|ℹ) tests\s+(\d+)\s*$/);
  if (!tests) return undefined;
  const marker = tests[1] === "#" ? "#" : "ℹ";
  const get = (label: string) => count(lastMatch(lines, new RegExp(`^${marker} ${label}\\s+(\\d+)\\s*$`))?.[1]);
  const runner: TestRunner = marker === "ℹ" || lastMatch(lines, /^# (suites|duration_ms) /) ? "node:test" : "tap";
  return make(runner, get("pass"), get("fail"), get("skip") + get("skipped") + get("todo"), count(tests[2]));
}

function goTest(lines: string[]): TestCounts | undefined {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const line of lines) {
    const match = line.match(/^\s*--- (PASS|FAIL|SKIP): /);
    if (match?.[1] === "PASS") passed++;
    if (match?.[1] === "FAIL") failed++;
    if (match?.[1] === "SKIP") skipped++;
  }
  if (passed + failed + skipped > 0) return make("go", passed, failed, skipped);
  // Without -v only packages are reported: "ok  \tpkg\t0.01s" and "FAIL\tpkg\t0.01s".
  let okPackages = 0;
  let failedPackages = 0;
  for (const line of lines) {
    if (/^ok\s+\S+\s+(\(cached\)|[\d.]+s)/.test(line)) okPackages++;
    if (/^FAIL\s+\S+\s+(\(cached\)|[\d.]+s|\[build failed\]|\[setup failed\])/.test(line)) failedPackages++;
  }
  return okPackages + failedPackages > 0 ? make("go", okPackages, failedPackages, 0, undefined, "packages") : undefined;
}

const parsers = [vitest, jest, pytest, cargo, mocha, tapLike, goTest];

/** The counts from the first runner summary found in the log, or undefined when none is recognised. */
export function parseTestCounts(log: string): TestCounts | undefined {
  const lines = log.replace(ANSI, "").replace(/\r\n?/g, "\n").split("\n");
  for (const parse of parsers) {
    const counts = parse(lines);
    if (counts) return counts;
  }
  return undefined;
}
