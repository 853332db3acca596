// A repository's `rules:` section of .github/aura.yml: it may add rules or tighten the pack's (lower limits, more
// protected paths, higher severity). Any relaxation is refused unless a director override accompanies it
// (`/aura override repo-rules <reason>`, see repo-rules-approval.ts), and a verdict that relies on one says so.
import { z } from "zod";
import type { Verdict } from "./verdict.js";
import { PolicyPack, PolicyParseError, PolicyRule, RuleId, Severity, toPolicyIssues, type PolicyIssue, type RuleOfKind } from "./policy-pack.js";

/**
 * One entry: a new rule (id not in the pack: kind, severity, params and message all required) or a change to a
 * pack rule (kind optional but must match; params are merged: lists gain entries, numbers and flags replace).
 */
export const RepoRule = z.strictObject({
  id: RuleId,
  kind: z.string().optional(),
  severity: Severity.optional(),
  params: z.record(z.string(), z.unknown()).optional(),
  message: z.string().min(1).optional(),
});
export type RepoRule = z.infer<typeof RepoRule>;

/** The `rules:` section of .github/aura.yml. */
export const RepoRules = z.array(RepoRule);
export type RepoRules = z.infer<typeof RepoRules>;

export interface Relaxation {
  ruleId: string;
  /** What got weaker, e.g. "maxFiles for feature raised from 40 to 80". */
  change: string;
}

export interface DirectorOverride {
  by: string;
  reason: string;
}

/** The repo's rules would weaken the policy and no director override was given. */
export class PolicyRelaxationRefused extends Error {
  override name = "PolicyRelaxationRefused";
  readonly relaxations: readonly Relaxation[];

  constructor(relaxations: readonly Relaxation[]) {
    super(
      `.github/aura.yml may only add or tighten rules; these relax the policy: ${relaxations
        .map((r) => `${r.ruleId}: ${r.change}`)
        .join(
          "; ",
        )}. Undo them, or have a director approve these exact rules by writing \`/aura override repo-rules <reason>\` on any issue or pull request of the repository (a later change to the rules needs a new approval).`,
    );
    this.relaxations = relaxations;
  }
}

export type MergeResult =
  | { ok: true; pack: PolicyPack; relaxations: Relaxation[]; approvedBy: DirectorOverride | undefined }
  | { ok: false; error: PolicyRelaxationRefused | PolicyParseError };

/** The id `/aura override repo-rules` names; no rule may take it, so the command is never ambiguous. */
const RESERVED_RULE_ID = "repo-rules";

const SEVERITY_RANK = { minor: 0, major: 1, critical: 2 } as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Lists union (by JSON equality, base order first), objects merge key by key, anything else replaces. */
function mergeParams(base: unknown, change: unknown): unknown {
  if (Array.isArray(base) && Array.isArray(change)) {
    const seen = new Set(base.map((item) => JSON.stringify(item)));
    return [...base, ...change.filter((item) => !seen.has(JSON.stringify(item)))];
  }
  if (isPlainObject(base) && isPlainObject(change)) {
    const merged: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(change)) merged[key] = key in base ? mergeParams(base[key], value) : value;
    return merged;
  }
  return change;
}

const notIn = (list: readonly string[], of: readonly string[]) => list.filter((item) => !of.includes(item));

function paramRelaxations(base: PolicyRule, next: PolicyRule): string[] {
  const out: string[] = [];
  const lost = (label: string, items: string[]) => {
    if (items.length > 0) out.push(`${label} no longer includes ${items.join(", ")}`);
  };
  const gained = (label: string, items: string[]) => {
    if (items.length > 0) out.push(`${label} now also allows ${items.join(", ")}`);
  };
  switch (base.kind) {
    case "protected-paths": {
      const n = next as RuleOfKind<"protected-paths">;
      for (const entry of base.params.paths) {
        const same = n.params.paths.filter((candidate) => candidate.glob === entry.glob);
        if (same.length === 0) {
          out.push(`${entry.glob} is no longer protected`);
          continue;
        }
        // Protected for a class while any entry for the glob does not except it.
        const exceptedEverywhere = same.map((candidate) => candidate.exceptTaskClasses).reduce((common, list) => common.filter((cls) => list.includes(cls)));
        gained(`${entry.glob} exceptions`, notIn(exceptedEverywhere, entry.exceptTaskClasses));
      }
      if (base.params.testScript && !n.params.testScript) out.push("the test script is no longer protected");
      if (base.params.testScript && n.params.testScript) {
        gained("testScript exceptions", notIn(n.params.testScript.exceptTaskClasses, base.params.testScript.exceptTaskClasses));
      }
      break;
    }
    case "scope":
      gained("allow", notIn((next as RuleOfKind<"scope">).params.allow, base.params.allow));
      break;
    case "diff-size": {
      const n = next as RuleOfKind<"diff-size">;
      const classes = new Set([...Object.keys(base.params.byTaskClass), ...Object.keys(n.params.byTaskClass)]);
      for (const cls of [undefined, ...classes]) {
        const before = (cls === undefined ? undefined : base.params.byTaskClass[cls]) ?? base.params.default;
        const after = (cls === undefined ? undefined : n.params.byTaskClass[cls]) ?? n.params.default;
        for (const key of ["maxFiles", "maxChangedLines"] as const) {
          if (after[key] > before[key]) {
            out.push(`${key} for ${cls ?? "the default"} raised from ${before[key]} to ${after[key]}`);
          }
        }
      }
      break;
    }
    case "test-tampering": {
      const n = next as RuleOfKind<"test-tampering">;
      lost("testFiles", notIn(base.params.testFiles, n.params.testFiles));
      lost("skipMarkers", notIn(base.params.skipMarkers, n.params.skipMarkers));
      lost("assertionPatterns", notIn(base.params.assertionPatterns, n.params.assertionPatterns));
      break;
    }
    case "dependency-change": {
      const n = next as RuleOfKind<"dependency-change">;
      lost("manifests", notIn(base.params.manifests, n.params.manifests));
      lost("lockFiles", notIn(base.params.lockFiles, n.params.lockFiles));
      gained("allowedTaskClasses", notIn(n.params.allowedTaskClasses, base.params.allowedTaskClasses));
      break;
    }
    case "assignment":
      if (base.params.directorCommitsMustBeVerified && !(next as RuleOfKind<"assignment">).params.directorCommitsMustBeVerified) {
        out.push("director commits no longer need verified signatures");
      }
      break;
    case "secrets":
    case "evidence":
      break;
  }
  return out;
}

/** Every way `next` is weaker than `base`, for a rule with the same id and kind. */
export function findRelaxations(base: PolicyRule, next: PolicyRule): Relaxation[] {
  const changes: string[] = [];
  if (SEVERITY_RANK[next.severity] < SEVERITY_RANK[base.severity]) {
    changes.push(`severity lowered from ${base.severity} to ${next.severity}`);
  }
  changes.push(...paramRelaxations(base, next));
  return changes.map((change) => ({ ruleId: base.id, change }));
}

/**
 * Applies a repo's rules to the pack. Returns the effective pack, or a typed error: PolicyParseError for
 * invalid entries, PolicyRelaxationRefused listing every relaxation when no director override is given.
 */
export function mergeRepoRules(pack: PolicyPack, repoRules: unknown, directorOverride?: DirectorOverride): MergeResult {
  const source = ".github/aura.yml rules";
  const parsedRules = RepoRules.safeParse(repoRules);
  if (!parsedRules.success) {
    return { ok: false, error: new PolicyParseError(source, toPolicyIssues(parsedRules.error, repoRules, [], ["rules"])) };
  }
  const issues: PolicyIssue[] = [];
  const relaxations: Relaxation[] = [];
  const rules = [...pack.rules];
  const seen = new Set<string>();

  parsedRules.data.forEach((entry, index) => {
    const field = `rules[${index}]`;
    if (seen.has(entry.id)) {
      issues.push({ ruleId: entry.id, field: `${field}.id`, message: "the same rule id appears twice" });
      return;
    }
    seen.add(entry.id);
    if (entry.id === RESERVED_RULE_ID) {
      issues.push({
        ruleId: entry.id,
        field: `${field}.id`,
        message: `"${RESERVED_RULE_ID}" is reserved for \`/aura override repo-rules\`; choose another id`,
      });
      return;
    }
    const at = rules.findIndex((rule) => rule.id === entry.id);
    const base = at >= 0 ? rules[at] : undefined;
    if (base && entry.kind !== undefined && entry.kind !== base.kind) {
      issues.push({ ruleId: entry.id, field: `${field}.kind`, message: `cannot change kind ${base.kind} to ${entry.kind}` });
      return;
    }
    const candidate = base
      ? {
          ...base,
          severity: entry.severity ?? base.severity,
          message: entry.message ?? base.message,
          params: entry.params === undefined ? base.params : mergeParams(base.params, entry.params),
        }
      : entry;
    const parsed = PolicyRule.safeParse(candidate);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = issue.path.map((part) => (typeof part === "number" ? `[${part}]` : `.${String(part)}`)).join("");
        issues.push({ ruleId: entry.id, field: `${field}${path}`, message: issue.message });
      }
      return;
    }
    if (base) {
      relaxations.push(...findRelaxations(base, parsed.data));
      rules[at] = parsed.data;
    } else {
      rules.push(parsed.data);
    }
  });

  if (issues.length > 0) return { ok: false, error: new PolicyParseError(source, issues) };
  const merged = PolicyPack.safeParse({ ...pack, rules });
  if (!merged.success) return { ok: false, error: new PolicyParseError(source, toPolicyIssues(merged.error, { rules })) };
  if (relaxations.length > 0 && !directorOverride) return { ok: false, error: new PolicyRelaxationRefused(relaxations) };
  return { ok: true, pack: merged.data, relaxations, approvedBy: relaxations.length > 0 ? directorOverride : undefined };
}

/** The line a verdict shows for each relaxation a director approved: overrides are never silent. */
export function describeApprovedRelaxation(relaxation: Relaxation, approval: DirectorOverride): string {
  return `repo rules relax ${relaxation.ruleId} (${relaxation.change}): approved by @${approval.by}: ${approval.reason}`;
}

/**
 * Marks a verdict judged under approved relaxations: each relaxed rule's row gets a note, and the verdict lists
 * them (the review shows them with the director overrides).
 */
export function withApprovedRelaxations(verdict: Verdict, relaxations: readonly Relaxation[], approval: DirectorOverride | undefined): Verdict {
  if (!approval || relaxations.length === 0) return verdict;
  return {
    ...verdict,
    rules: verdict.rules.map((rule) => {
      const mine = relaxations.filter((relaxation) => relaxation.ruleId === rule.ruleId);
      return mine.length === 0 ? rule : { ...rule, notes: [...rule.notes, ...mine.map((relaxation) => describeApprovedRelaxation(relaxation, approval))] };
    }),
    approvedRelaxations: relaxations.map((relaxation) => ({ ...relaxation, by: approval.by, reason: approval.reason })),
  };
}
