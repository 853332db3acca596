// Whether a mined change makes a task: its tests fail on the parent with only the test changes applied and pass
// with the whole change (FAIL_TO_PASS), and the tests that passed before still pass (PASS_TO_PASS). With per-test
// results from the runner the tests are named one by one; without them the unit is the whole run over the
// changed test files (its exit status), and the task says so in `test_unit`.
import type { TestResults } from "./test-results.js";

export type TestRun = { exitCode: number | null; timedOut: boolean; results: TestResults | undefined };

export type Judgement = { kept: true; unit: "test" | "file"; failToPass: string[]; passToPass: string[] } | { kept: false; reason: string };

const SHOWN = 5;

function list(names: string[]): string {
  const shown = names.slice(0, SHOWN).map((name) => JSON.stringify(name));
  return names.length > SHOWN ? `${shown.join(", ")} and ${names.length - SHOWN} more` : shown.join(", ");
}

function byWholeRun(before: TestRun, after: TestRun, testFiles: string[]): Judgement {
  if (before.exitCode === 0) return { kept: false, reason: "the tests already pass on the parent with only the test changes applied" };
  if (after.exitCode !== 0) return { kept: false, reason: `the tests fail with the whole change (exit ${String(after.exitCode)})` };
  return { kept: true, unit: "file", failToPass: testFiles, passToPass: [] };
}

/** The verdict on one candidate from its two runs (before: parent + test patch; after: the whole change). */
export function judge(before: TestRun, after: TestRun, testFiles: string[]): Judgement {
  if (before.timedOut || after.timedOut) return { kept: false, reason: `the tests timed out ${before.timedOut ? "on the parent" : "with the whole change"}` };
  if (before.results === undefined || after.results === undefined) return byWholeRun(before, after, testFiles);
  const failToPass: string[] = [];
  const passToPass: string[] = [];
  const broken: string[] = [];
  const stillFailing: string[] = [];
  for (const [name, status] of after.results) {
    const earlier = before.results.get(name);
    if (status === "pass" && earlier === "pass") passToPass.push(name);
    else if (status === "pass" && earlier !== "skip") failToPass.push(name);
    else if (status === "fail" && earlier === "pass") broken.push(name);
    else if (status === "fail") stillFailing.push(name);
  }
  for (const [name, status] of before.results) {
    if (status === "pass" && !after.results.has(name)) broken.push(name);
  }
  if (broken.length > 0) {
    return {
      kept: false,
      reason: `PASS_TO_PASS violated: ${list(broken)} passed on the parent with the test changes and ${broken.length === 1 ? "fails or vanishes" : "fail or vanish"} with the whole change`,
    };
  }
  if (failToPass.length === 0) {
    return stillFailing.length > 0
      ? { kept: false, reason: `the new tests do not pass with the whole change: ${list(stillFailing)}` }
      : { kept: false, reason: "the tests already pass on the parent with only the test changes applied" };
  }
  return { kept: true, unit: "test", failToPass: failToPass.sort(), passToPass: passToPass.sort() };
}
