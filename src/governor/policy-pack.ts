// The HNSC policy pack: the strict schema of policies/policy-pack.yml, its loader, and the revision hash that
// every verdict records so a reader can tell exactly which rules judged a pull request.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { parseDocument } from "yaml";
import { z } from "zod";
import { loadProtectedPaths, type ProtectedPaths } from "../config/policy-files.js";

// The package is CommonJS whose typings claim an ES default export; require gives the function itself.
const canonicalize = createRequire(import.meta.url)("canonicalize") as (input: unknown) => string | undefined;

export const Severity = z.enum(["minor", "major", "critical"]);
export type Severity = z.infer<typeof Severity>;

/** Rule ids are typed in `/aura override <rule-id>` comments, so they stay short and shell-safe. */
export const RuleId = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "must be lower-case letters, digits and dashes (e.g. protected-paths)");

const Glob = z
  .string()
  .min(1)
  .refine((glob) => !glob.startsWith("/") && !glob.includes("\\"), {
    message: "must be a repository-relative glob with forward slashes (no leading /)",
  });

const TaskClass = z.string().min(1);

const RegexSource = z
  .string()
  .min(1)
  .refine(
    (source) => {
      try {
        new RegExp(source, "u");
        return true;
      } catch {
        return false;
      }
    },
    { message: "must be a valid JavaScript regular expression (u flag)" },
  );

const Limits = z.strictObject({
  maxFiles: z.number().int().positive(),
  maxChangedLines: z.number().int().positive(),
});
export type Limits = z.infer<typeof Limits>;

export const ProtectedPathsParams = z.strictObject({
  paths: z
    .array(
      z.strictObject({
        glob: Glob,
        exceptTaskClasses: z.array(TaskClass).default([]),
        /** Why the path is protected; shown with each finding. */
        reason: z.string().min(1).optional(),
      }),
    )
    .min(1),
  /** A change to `scripts.test` (or pre/post-test) in any package.json: test-runner configuration. */
  testScript: z.strictObject({ exceptTaskClasses: z.array(TaskClass).default([]) }).optional(),
});

export const ScopeParams = z.strictObject({
  /** Paths every task may touch in addition to its own scope globs. */
  allow: z.array(Glob).default([]),
});

export const DiffSizeParams = z.strictObject({
  default: Limits,
  byTaskClass: z.record(TaskClass, Limits).default({}),
});

export const SecretsParams = z.strictObject({});

export const TestTamperingParams = z.strictObject({
  testFiles: z.array(Glob).min(1),
  /** Matched against added lines of test files: newly skipped or focused tests. */
  skipMarkers: z.array(RegexSource).min(1),
  /** Matched against added and removed lines of test files to count assertions. */
  assertionPatterns: z.array(RegexSource).min(1),
});

export const DependencyChangeParams = z.strictObject({
  manifests: z.array(Glob).min(1),
  lockFiles: z.array(Glob).min(1),
  allowedTaskClasses: z.array(TaskClass).default(["dependency"]),
});

export const AssignmentParams = z.strictObject({
  /** When true a director's commit counts as human-assisted only if GitHub verified its signature. */
  directorCommitsMustBeVerified: z.boolean().default(false),
});

export const EvidenceParams = z.strictObject({});

const ruleFields = { id: RuleId, severity: Severity, message: z.string().min(1) };

export const PolicyRule = z.discriminatedUnion("kind", [
  z.strictObject({ ...ruleFields, kind: z.literal("protected-paths"), params: ProtectedPathsParams }),
  z.strictObject({ ...ruleFields, kind: z.literal("scope"), params: ScopeParams }),
  z.strictObject({ ...ruleFields, kind: z.literal("diff-size"), params: DiffSizeParams }),
  z.strictObject({ ...ruleFields, kind: z.literal("secrets"), params: SecretsParams }),
  z.strictObject({ ...ruleFields, kind: z.literal("test-tampering"), params: TestTamperingParams }),
  z.strictObject({ ...ruleFields, kind: z.literal("dependency-change"), params: DependencyChangeParams }),
  z.strictObject({ ...ruleFields, kind: z.literal("assignment"), params: AssignmentParams }),
  z.strictObject({ ...ruleFields, kind: z.literal("evidence"), params: EvidenceParams }),
]);
export type PolicyRule = z.infer<typeof PolicyRule>;
export type RuleKind = PolicyRule["kind"];
export type RuleOfKind<K extends RuleKind> = Extract<PolicyRule, { kind: K }>;

export const RULE_KINDS = [
  "protected-paths",
  "scope",
  "diff-size",
  "secrets",
  "test-tampering",
  "dependency-change",
  "assignment",
  "evidence",
] as const satisfies readonly RuleKind[];

export const PolicyPack = z
  .strictObject({
    version: z.literal(1),
    rules: z.array(PolicyRule).min(1),
  })
  .superRefine((pack, ctx) => {
    const seen = new Set<string>();
    pack.rules.forEach((rule, index) => {
      if (seen.has(rule.id)) {
        ctx.addIssue({ code: "custom", path: ["rules", index, "id"], message: `duplicate rule id "${rule.id}"` });
      }
      seen.add(rule.id);
    });
  });
export type PolicyPack = z.infer<typeof PolicyPack>;

export interface PolicyIssue {
  /** The rule the problem is in, when the problem is inside a rule that has a readable id. */
  ruleId: string | undefined;
  /** Dotted path to the offending field, e.g. `rules[2].params.maxFiles`. */
  field: string;
  message: string;
}

/** The policy pack (or a repo's rules) cannot be used; evaluation must end in `error`, never a pass. */
export class PolicyParseError extends Error {
  override name = "PolicyParseError";
  readonly issues: readonly PolicyIssue[];
  /** The first problem's rule and field, for callers that report just one. */
  readonly ruleId: string | undefined;
  readonly field: string;

  constructor(source: string, issues: readonly PolicyIssue[]) {
    const lines = issues.map((issue) => `${issue.ruleId ? `rule "${issue.ruleId}" ` : ""}${issue.field}: ${issue.message}`);
    super(`${source} is invalid; fix these and push to the base branch: ${lines.join("; ")}`);
    this.issues = issues;
    this.ruleId = issues[0]?.ruleId;
    this.field = issues[0]?.field ?? "";
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "(root)" : out;
}

/** Turns zod issues into PolicyIssues, naming the rule by the id written in the raw input when it has one. */
export function toPolicyIssues(
  error: z.ZodError,
  raw: unknown,
  rulesAt: readonly PropertyKey[] = ["rules"],
  prefix: readonly PropertyKey[] = [],
): PolicyIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path;
    let ruleId: string | undefined;
    const startsWithRules = rulesAt.every((key, i) => path[i] === key);
    const index = path[rulesAt.length];
    if (startsWithRules && typeof index === "number") {
      const rules = rulesAt.reduce<unknown>((node, key) => (node && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[key] : undefined), raw);
      const candidate = Array.isArray(rules) ? (rules[index] as { id?: unknown } | undefined)?.id : undefined;
      ruleId = typeof candidate === "string" ? candidate : undefined;
    }
    return { ruleId, field: formatPath([...prefix, ...path]), message: issue.message };
  });
}

/** The shared protected-path list (policies/protected-paths.yml) as the governor's `paths` entries. */
export function protectedPathEntries(list: ProtectedPaths): { glob: string; exceptTaskClasses: string[]; reason: string }[] {
  return list.protected.map((entry) => ({ glob: entry.glob, exceptTaskClasses: [...entry.allowTaskClasses], reason: entry.reason }));
}

/**
 * A `protected-paths` rule of the app's pack that lists no `paths` takes them from policies/protected-paths.yml,
 * so the Manager's plan rules and the governor refuse the same paths from one list (issue 7).
 */
function withSharedProtectedPaths(raw: unknown, protectedPaths: () => ProtectedPaths): unknown {
  if (typeof raw !== "object" || raw === null || !Array.isArray((raw as { rules?: unknown }).rules)) return raw;
  const pack = raw as { rules: unknown[] };
  let shared: ReturnType<typeof protectedPathEntries> | undefined;
  const rules = pack.rules.map((rule) => {
    if (typeof rule !== "object" || rule === null || (rule as { kind?: unknown }).kind !== "protected-paths") return rule;
    const params = (rule as { params?: unknown }).params;
    if (typeof params !== "object" || params === null || Array.isArray(params) || "paths" in params) return rule;
    shared ??= protectedPathEntries(protectedPaths());
    return { ...rule, params: { ...params, paths: shared } };
  });
  return { ...pack, rules };
}

export type PolicyPackSources = {
  /** The shared list; read from the app's policies/ directory when omitted and a rule needs it. */
  protectedPaths?: ProtectedPaths;
};

/**
 * Parses and validates policy-pack YAML; throws PolicyParseError naming every bad rule and field. A
 * `protected-paths` rule without `paths` gets the shared list (PolicyFileError when that file is invalid).
 */
export function loadPolicyPack(text: string, source = "policy pack", sources: PolicyPackSources = {}): PolicyPack {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (document.errors.length > 0) {
    throw new PolicyParseError(
      source,
      document.errors.map((error) => ({ ruleId: undefined, field: "(yaml)", message: error.message })),
    );
  }
  const raw: unknown = withSharedProtectedPaths(document.toJS(), () => sources.protectedPaths ?? loadProtectedPaths());
  const parsed = PolicyPack.safeParse(raw);
  if (!parsed.success) throw new PolicyParseError(source, toPolicyIssues(parsed.error, raw));
  return parsed.data;
}

/** sha256 of the RFC 8785 canonical JSON of the validated pack: equal content gives an equal revision. */
export function policyPackRevision(pack: PolicyPack): string {
  const text = canonicalize(pack);
  if (text === undefined) throw new Error("policy pack cannot be canonicalised");
  return createHash("sha256").update(text).digest("hex");
}
