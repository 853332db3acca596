// HNSC evaluation: every rule of the effective policy pack judged against one PullContext, ending in exactly one
// state each, then director overrides for this head SHA, then the overall conclusion. No I/O: the only await is
// secretlint, which scans in memory.
import { policyPackRevision, type PolicyPack, type PolicyRule, type RuleKind } from "./policy-pack.js";
import type { PullContext } from "./pull-context.js";
import { evaluateAssignment } from "./rules/assignment.js";
import { evaluateDependencyChange } from "./rules/dependency-change.js";
import { evaluateDiffSize } from "./rules/diff-size.js";
import { evaluateEvidence } from "./rules/evidence.js";
import { evaluateProtectedPaths } from "./rules/protected-paths.js";
import { RuleInput, type RuleOutcome } from "./rules/rule-input.js";
import { evaluateScope } from "./rules/scope.js";
import { evaluateSecrets } from "./rules/secrets.js";
import { evaluateTestTampering } from "./rules/test-tampering.js";
import { concludeVerdict, type RuleResult, type Verdict } from "./verdict.js";

/** Kinds that judge an agent's task; a human pull request has no task, so they are skipped for it. */
export const TASK_BOUND_KINDS = ["scope", "diff-size", "dependency-change", "assignment", "evidence"] as const satisfies readonly RuleKind[];

const taskBound = new Set<RuleKind>(TASK_BOUND_KINDS);

const revisions = new WeakMap<PolicyPack, string>();

function revisionOf(pack: PolicyPack): string {
  let revision = revisions.get(pack);
  if (revision === undefined) {
    revision = policyPackRevision(pack);
    revisions.set(pack, revision);
  }
  return revision;
}

async function runRule(rule: PolicyRule, input: RuleInput): Promise<RuleOutcome> {
  switch (rule.kind) {
    case "protected-paths":
      return evaluateProtectedPaths(rule, input);
    case "scope":
      return evaluateScope(rule, input);
    case "diff-size":
      return evaluateDiffSize(rule, input);
    case "secrets":
      return evaluateSecrets(rule, input);
    case "test-tampering":
      return evaluateTestTampering(rule, input);
    case "dependency-change":
      return evaluateDependencyChange(rule, input);
    case "assignment":
      return evaluateAssignment(rule, input);
    case "evidence":
      return evaluateEvidence(rule, input);
  }
}

async function judge(rule: PolicyRule, input: RuleInput): Promise<RuleOutcome> {
  if (!input.ctx.isAgentPr && taskBound.has(rule.kind)) {
    return { state: "skip", summary: "human pull request: task-bound rule does not apply", findings: [], notes: [] };
  }
  try {
    return await runRule(rule, input);
  } catch (error) {
    // A rule that cannot finish must never read as a pass.
    return { state: "error", summary: `evaluation failed: ${(error as Error).message}`, findings: [], notes: [] };
  }
}

/**
 * The rule's result once the director overrides recorded against it are weighed: the first one from a director,
 * for this head, of a rule that did not pass makes it `overridden`; every other one leaves a note saying why not.
 * (Recording an override is `applyOverride` in overrides.ts; this only reads the ones in the PullContext.)
 */
function resultAfterOverrides(result: RuleResult, ctx: PullContext): RuleResult {
  const directors = new Set(ctx.directors.map((login) => login.toLowerCase()));
  const notes = [...result.notes];
  let applied: RuleResult | undefined;
  for (const override of ctx.overrides) {
    if (override.ruleId !== result.ruleId) continue;
    if (!directors.has(override.by.toLowerCase())) {
      notes.push(`override by @${override.by} ignored: not a director`);
    } else if (override.headSha !== ctx.headSha) {
      notes.push(`override by @${override.by} was for ${override.headSha.slice(0, 7)}, not this head; re-evaluated`);
    } else if (result.state === "pass" || result.state === "skip") {
      notes.push(`override by @${override.by} not needed: the rule is ${result.state}`);
    } else if (!applied) {
      applied = {
        ...result,
        state: "overridden",
        summary: `overridden by @${override.by}: ${override.reason}`,
        override: { by: override.by, reason: override.reason, originalState: result.state },
      };
    }
  }
  return applied ? { ...applied, notes } : { ...result, notes };
}

/**
 * Judges the pull request against the effective pack (after mergeRepoRules). Rules run in pack order; each
 * ends pass, fail, skip, error, pending or overridden; findings carry file and diff line.
 */
export async function evaluate(pack: PolicyPack, ctx: PullContext): Promise<Verdict> {
  const input = new RuleInput(ctx);
  const rules: RuleResult[] = [];
  for (const rule of pack.rules) {
    const outcome = await judge(rule, input);
    const result: RuleResult = { ruleId: rule.id, kind: rule.kind, severity: rule.severity, ...outcome };
    rules.push(resultAfterOverrides(result, ctx));
  }
  return {
    conclusion: concludeVerdict(rules),
    pullNumber: ctx.pullNumber,
    headSha: ctx.headSha,
    packRevision: revisionOf(pack),
    rules,
  };
}
