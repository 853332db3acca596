// What an employee's work run showed about its own tests, as the app recorded it (the work loop's sandbox run,
// in `task_run_claims`, read by evidence-store.ts), and the comparison with the Auditor's run (and with the
// base commit's run): every difference is a flag a person sees in the review.
//
// The claim is never read from the pull request body: the body carries model-written text, and a marker there
// could speak for the app. A recorded claim looks like
//   {"exitCode":0,"passed":12,"failed":0,"skipped":1,"total":13,"headSha":"<40 hex>"}
// `exitCode` is required; counts and `headSha` (the commit the run tested) are optional.
import { z } from "zod";

export const EvidenceClaim = z.object({
  exitCode: z.number().int().nullable(),
  passed: z.number().int().nonnegative().optional(),
  failed: z.number().int().nonnegative().optional(),
  skipped: z.number().int().nonnegative().optional(),
  total: z.number().int().nonnegative().optional(),
  headSha: z
    .string()
    .regex(/^[0-9a-f]{40}$/)
    .optional(),
});
export type EvidenceClaim = z.infer<typeof EvidenceClaim>;

export type ClaimRead = { kind: "claim"; claim: EvidenceClaim } | { kind: "none" } | { kind: "invalid"; reason: string };

/** A recorded claim (a jsonb value) checked against the schema; `none` when nothing was recorded. */
export function parseEvidenceClaim(raw: unknown): ClaimRead {
  if (raw === undefined || raw === null) return { kind: "none" };
  const parsed = EvidenceClaim.safeParse(raw);
  if (!parsed.success) {
    return {
      kind: "invalid",
      reason: `the recorded claim does not match the schema: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`,
    };
  }
  return { kind: "claim", claim: parsed.data };
}

/** What the Auditor itself observed on one commit. */
export type ObservedRun = {
  exitCode: number | null;
  timedOut: boolean;
  counts: { passed: number; failed: number; skipped: number; total: number } | undefined;
};

const COUNT_KEYS = ["passed", "failed", "skipped", "total"] as const;

/** Every way the claim disagrees with the head run, and the head run falls short of the base run. */
export function compareEvidence(input: { claim: ClaimRead; head: ObservedRun; base: ObservedRun | undefined; headSha: string }): string[] {
  const flags: string[] = [];
  const { claim, head, base } = input;
  if (claim.kind === "none") flags.push("The app has no record of a test run by the employee for this PR; nothing the employee ran can be compared.");
  if (claim.kind === "invalid") flags.push(`The employee's recorded test run cannot be read: ${claim.reason}.`);
  if (claim.kind === "claim") {
    const stated = claim.claim;
    if (stated.headSha !== undefined && stated.headSha !== input.headSha) {
      flags.push(`The claim is about commit \`${stated.headSha.slice(0, 7)}\`, not the head \`${input.headSha.slice(0, 7)}\`.`);
    }
    if (head.timedOut) flags.push("The Auditor's run timed out; the claimed result cannot be confirmed.");
    else if (stated.exitCode !== head.exitCode) {
      flags.push(`Claimed exit status ${String(stated.exitCode)}, but the Auditor's run exited with ${String(head.exitCode)}.`);
    }
    for (const key of COUNT_KEYS) {
      const value = stated[key];
      if (value === undefined) continue;
      if (!head.counts) {
        flags.push(`Claimed ${value} ${key}, but the Auditor's run printed no test summary it could read.`);
        break;
      }
      if (head.counts[key] !== value) flags.push(`Claimed ${value} ${key}, but the Auditor counted ${head.counts[key]}.`);
    }
  }
  if (base?.counts && head.counts) {
    if (head.counts.total < base.counts.total) {
      flags.push(`The head runs ${head.counts.total} tests, ${base.counts.total - head.counts.total} fewer than the base commit (${base.counts.total}).`);
    }
    if (head.counts.passed < base.counts.passed) {
      flags.push(`${head.counts.passed} tests pass on the head, fewer than the ${base.counts.passed} that pass on the base commit.`);
    }
  } else if (base?.counts && !head.counts) {
    flags.push(`The base commit's run reported ${base.counts.total} tests; the head's run reported none the Auditor could read.`);
  }
  return flags;
}
