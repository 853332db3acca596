// What the work loop's own sandbox run showed, recorded for the Auditor in `task_run_claims` before the branch is
// pushed (so the Auditor, started by the push, finds it). The Auditor compares its own run with this record
// (src/auditor/claims.ts); nothing in the pull request body, which carries model text, can stand in for it.
// The claim is stored by recordRunClaim in store.ts.
import type { RunEvidence } from "./pull-request.js";

/** The claim for a run on `headSha` (the commit that holds the tested tree); undefined when no tests ran. */
export function runClaim(evidence: RunEvidence, headSha: string | undefined): Record<string, unknown> | undefined {
  const test = evidence.test;
  if (!test) return undefined;
  const counts = test.testCounts;
  return {
    exitCode: test.timedOut ? null : test.exitCode,
    ...(counts && counts.unit === "tests" ? { passed: counts.passed, failed: counts.failed, skipped: counts.skipped, total: counts.total } : {}),
    ...(headSha ? { headSha } : {}),
  };
}
