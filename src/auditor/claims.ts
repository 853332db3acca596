// What an employee's pull request claims about its own test run, read from a hidden machine-readable marker in
// the PR body, and the comparison with the Auditor's run (and with the base commit's run): every difference is
// a flag a person sees in the review.
//
// The marker the Employees' work loop writes, once, anywhere in the body:
//   <!-- aura:evidence {"exitCode":0,"passed":12,"failed":0,"skipped":1,"total":13,"headSha":"<40 hex>"} -->
// `exitCode` is required; counts and `headSha` (the commit the employee ran on) are optional.
import { z } from "zod";

export const EvidenceClaim = z.object({
  exitCode: z.number().int().nullable(),
  passed: z.number().int().nonnegative().optional(),
  failed: z.number().int().nonnegative().optional(),
  skipped: z.number().int().nonnegative().optional(),
  total: z.number().int().nonnegative().optional(),
  headSha: z.string().regex(/^[0-9a-f]{40}$/).optional(),
});
export type EvidenceClaim = z.infer<typeof EvidenceClaim>;

export const EVIDENCE_MARKER = /<!--\s*aura:evidence\s+(\{[\s\S]*?\})\s*-->/;

export type ClaimRead = { kind: "claim"; claim: EvidenceClaim } | { kind: "none" } | { kind: "invalid"; reason: string };

export function readEvidenceClaim(body: string | null): ClaimRead {
  const match = body ? EVIDENCE_MARKER.exec(body) : null;
  if (!match) return { kind: "none" };
  let raw: unknown;
  try {
    raw = JSON.parse(match[1] as string);
  } catch (error) {
    return { kind: "invalid", reason: `the aura:evidence marker is not JSON (${(error as Error).message})` };
  }
  const parsed = EvidenceClaim.safeParse(raw);
  if (!parsed.success) {
    return { kind: "invalid", reason: `the aura:evidence marker does not match the schema: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}` };
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
  if (claim.kind === "none") flags.push("The PR body has no machine-readable `aura:evidence` claim; nothing the employee ran can be compared.");
  if (claim.kind === "invalid") flags.push(`The PR body's evidence claim cannot be read: ${claim.reason}.`);
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
