// Loads the app-level policy files in `policies/` (employees registry, budgets, protected paths), each through a
// strict zod schema. A file that is missing, unparsable or invalid stops the caller with PolicyFileError: the app
// fails closed rather than running with a guessed policy.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseDocument } from "yaml";
import { z } from "zod";

// The package is CommonJS whose typings claim an ES default export; require gives the function itself.
const canonicalize = createRequire(import.meta.url)("canonicalize") as (input: unknown) => string | undefined;

/** The kinds of work a plan may contain; routing, budgets and governor exemptions are keyed by these. */
export const TASK_CLASSES = ["bugfix", "feature", "docs", "test", "refactor", "dependency"] as const;
export const TaskClass = z.enum(TASK_CLASSES);
export type TaskClass = z.infer<typeof TaskClass>;

export const PROVIDERS = ["openai", "gemini", "ollama"] as const;
export const Provider = z.enum(PROVIDERS);
export type Provider = z.infer<typeof Provider>;

/** Every employee enters the company on probation; only HR (on evidence) promotes it. */
export const INITIAL_EMPLOYEE_STATUS = "probation" as const;

/**
 * How an employee works a task: `native` calls tools through its provider's own tool calling, `actions` answers
 * one JSON action per turn (models without tool calling), `none` writes one EditSet (the single-shot path).
 */
export const WORK_MODES = ["native", "actions", "none"] as const;
export type WorkMode = (typeof WORK_MODES)[number];

/** Employee ids appear in commands (`/aura reassign t2 gpt-4.1-mini`), branch trailers and scoreboards. */
export const EmployeeId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "use 1-63 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit");

export const Employee = z
  .strictObject({
    id: EmployeeId,
    provider: Provider,
    model: z.string().min(1).max(200),
    capabilities: z.array(TaskClass).min(1),
    limits: z.strictObject({
      maxTokensPerCall: z.number().int().positive().max(2_000_000),
      timeoutSeconds: z.number().int().positive().max(3600),
      /** The model's context window in tokens; the agent shortens older observations as a turn nears it. */
      contextTokens: z.number().int().min(4096).max(10_000_000).optional(),
    }),
    dataPolicy: z.strictObject({
      /** The model runs on infrastructure the operator controls; only such models may see private repos under `localModelsOnly`. */
      local: z.boolean(),
    }),
    /** How the employee works; unset: `native` for hosted providers, `actions` for Ollama (see workModeOf). */
    tools: z.enum(WORK_MODES).optional(),
  })
  .superRefine((employee, ctx) => {
    // A hosted API sends code to a third party; claiming otherwise would silently break the private-repo policy.
    if (employee.dataPolicy.local && employee.provider !== "ollama") {
      ctx.addIssue({
        code: "custom",
        path: ["dataPolicy", "local"],
        message: `provider ${employee.provider} is a hosted API and cannot be marked local`,
      });
    }
  });
export type Employee = z.infer<typeof Employee>;

/** The employee's work mode: its `tools` when set, else `native` for a hosted provider and `actions` for Ollama. */
export function workModeOf(employee: Pick<Employee, "provider" | "tools">): WorkMode {
  return employee.tools ?? (employee.provider === "ollama" ? "actions" : "native");
}

export const EmployeesRegistry = z
  .strictObject({
    version: z.literal(1),
    /** Employee ids, in order of preference, whose model plans requirements; the first with credentials is used. */
    manager: z.array(EmployeeId).min(1),
    employees: z.array(Employee).min(1),
  })
  .superRefine((registry, ctx) => {
    const ids = new Set<string>();
    registry.employees.forEach((employee, index) => {
      if (ids.has(employee.id)) {
        ctx.addIssue({ code: "custom", path: ["employees", index, "id"], message: `duplicate employee id "${employee.id}"` });
      }
      ids.add(employee.id);
    });
    registry.manager.forEach((id, index) => {
      if (!ids.has(id)) ctx.addIssue({ code: "custom", path: ["manager", index], message: `"${id}" is not an employee listed under employees` });
    });
  });
export type EmployeesRegistry = z.infer<typeof EmployeesRegistry>;

/** A token and dollar cap; both must hold. */
export const Cap = z.strictObject({
  tokens: z.number().int().positive(),
  usd: z.number().positive(),
});
export type Cap = z.infer<typeof Cap>;

export const Budgets = z
  .strictObject({
    version: z.literal(1),
    /** Fraction of a cap at which the status comment warns. */
    warnAtFraction: z.number().gt(0).lt(1).default(0.8),
    perTask: Cap,
    perRequirement: Cap,
    perDayPerInstallation: Cap,
  })
  .superRefine((budgets, ctx) => {
    const pairs = [
      ["perTask", "perRequirement"],
      ["perRequirement", "perDayPerInstallation"],
    ] as const;
    for (const [smaller, larger] of pairs) {
      for (const unit of ["tokens", "usd"] as const) {
        if (budgets[smaller][unit] > budgets[larger][unit]) {
          ctx.addIssue({ code: "custom", path: [smaller, unit], message: `must not exceed ${larger}.${unit} (${budgets[larger][unit]})` });
        }
      }
    }
  });
export type Budgets = z.infer<typeof Budgets>;

/**
 * Glob syntax the plan validator can reason about exactly (segments, `*`, `**`, `?`, `[...]`, `{a,b}`).
 * Negation and extglobs are refused because an overlap check over them could not be trusted.
 */
export function unsupportedGlobSyntax(glob: string): string | undefined {
  if (glob.trim() === "") return "is empty";
  if (glob.startsWith("!")) return "is a negated glob; list what is protected, not what is not";
  if (/[@!+*?]\(/.test(glob)) return "uses extglob syntax such as @(…) or !(…), which is not supported";
  if (glob.includes("[[:")) return "uses a POSIX character class, which is not supported";
  // picomatch reads `[!a]` as the class {!, a}, not as a negation; an ambiguous class cannot be checked safely.
  if (glob.includes("[!")) return "uses `[!...]`, which picomatch does not treat as a negated class; write `[^...]`";
  if (glob.startsWith("/") || /^[A-Za-z]:/.test(glob) || glob.startsWith("~")) return "is absolute; use a path relative to the repository root";
  if (glob.includes("\\\\") || /\\[^*?[\]{}()!@+\\]/.test(glob)) return "contains a backslash; use forward slashes";
  if (glob.split("/").some((segment) => segment === "..")) return "contains '..', which leaves the repository";
  return undefined;
}

export const GlobPattern = z.string().superRefine((glob, ctx) => {
  const problem = unsupportedGlobSyntax(glob);
  if (problem) ctx.addIssue({ code: "custom", message: `glob "${glob}" ${problem}` });
});

export const ProtectedPath = z.strictObject({
  glob: GlobPattern,
  reason: z.string().min(1),
  /** Task classes whose work legitimately touches this path (lock files for `dependency`, test config for `test`). */
  allowTaskClasses: z.array(TaskClass).default([]),
});
export type ProtectedPath = z.infer<typeof ProtectedPath>;

export const ProtectedPaths = z.strictObject({
  version: z.literal(1),
  protected: z.array(ProtectedPath).min(1),
});
export type ProtectedPaths = z.infer<typeof ProtectedPaths>;

/** One thing wrong in a configuration file: where, what, and how to fix it. */
export type ConfigProblem = { path: string; message: string; fix: string };

/** A policy file is missing or invalid; the app must not act on it. */
export class PolicyFileError extends Error {
  override name = "PolicyFileError";
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(
      [
        `Policy file ${file} is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}); Aura refuses to run on a guessed policy.`,
        ...problems.map((p) => `  - ${p.path}: ${p.message}. Fix: ${p.fix}.`),
      ].join("\n"),
    );
  }
}

/** Parses YAML text into plain data, reporting syntax errors, duplicate keys and multiple documents as problems. */
export function parseYamlText(text: string): { ok: true; value: unknown } | { ok: false; problems: ConfigProblem[] } {
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => ({
        path: error.linePos ? `line ${error.linePos[0].line}, column ${error.linePos[0].col}` : "(document)",
        message: (error.message.split("\n")[0] ?? error.message).replace(/:$/, "").replace(/ at line \d+, column \d+$/, ""),
        fix: "correct the YAML syntax at that position",
      })),
    };
  }
  return { ok: true, value: document.toJS({ maxAliasCount: 50 }) };
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0] ?? 0;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j] ?? 0;
      row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length] ?? 0;
}

function suggest(key: string, known: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(key.toLowerCase(), name.toLowerCase());
    if (distance <= Math.max(2, Math.floor(name.length / 3)) && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function formatPath(segments: readonly PropertyKey[]): string {
  if (segments.length === 0) return "(top level)";
  return segments.map((segment, index) => (typeof segment === "number" ? `[${segment}]` : `${index === 0 ? "" : "."}${String(segment)}`)).join("");
}

/** Allowed keys of a strict object schema at a path, used to suggest a fix for an unknown key. */
function knownKeysAt(schema: z.ZodType, segments: readonly PropertyKey[]): string[] {
  let current: z.ZodType | undefined = schema;
  for (const segment of [...segments, null]) {
    while (current) {
      const def: { type: string; innerType?: z.ZodType; in?: z.ZodType; element?: z.ZodType } = (current as unknown as { _zod: { def: { type: string } } })._zod
        .def;
      if (def.type === "optional" || def.type === "default" || def.type === "nullable" || def.type === "prefault") current = def.innerType;
      else if (def.type === "pipe") current = def.in;
      else break;
    }
    if (!current) return [];
    if (segment === null) break;
    if (current instanceof z.ZodObject) current = (current.shape as Record<string, z.ZodType>)[String(segment)];
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else return [];
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

/** Turns zod issues into problems a person can act on, with a fix for each. */
export function zodProblems(schema: z.ZodType, error: z.ZodError): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of error.issues) {
    if (issue.code === "unrecognized_keys") {
      const known = knownKeysAt(schema, issue.path);
      for (const key of issue.keys) {
        const close = suggest(key, known);
        problems.push({
          path: formatPath([...issue.path, key]),
          message: "is not a known key",
          fix: close ? `did you mean "${close}"? Otherwise remove it` : `remove it; allowed keys here: ${known.join(", ") || "none"}`,
        });
      }
      continue;
    }
    let fix = "correct the value";
    if (issue.code === "invalid_type") fix = `use a value of type ${issue.expected}`;
    else if (issue.code === "invalid_value") fix = `use one of: ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    else if (issue.code === "too_big") fix = `use at most ${String(issue.maximum)}`;
    else if (issue.code === "too_small")
      fix = issue.origin === "array" ? `list at least ${String(issue.minimum)} item(s)` : `use at least ${String(issue.minimum)}`;
    else if (issue.code === "invalid_format") fix = "match the required format";
    problems.push({ path: formatPath(issue.path), message: issue.message, fix });
  }
  return problems;
}

/** Parses one policy file's text with its schema; throws PolicyFileError naming every problem. */
export function parsePolicyText<S extends z.ZodType>(schema: S, text: string, file: string): z.infer<S> {
  const yaml = parseYamlText(text);
  if (!yaml.ok) throw new PolicyFileError(file, yaml.problems);
  const result = schema.safeParse(yaml.value ?? {});
  if (!result.success) throw new PolicyFileError(file, zodProblems(schema, result.error));
  return result.data;
}

/** Finds the app's `policies/` directory from this module, so it works from `src/` (tsx) and `dist/` alike. */
export function defaultPoliciesDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, "policies");
    if (existsSync(path.join(candidate, "employees.yml"))) return candidate;
    dir = path.dirname(dir);
  }
  return path.resolve("policies");
}

function readPolicyFile(dir: string, name: string): string {
  const file = path.join(dir, name);
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new PolicyFileError(file, [{ path: "(file)", message: `cannot be read (${reason})`, fix: `restore ${name} in the policies directory` }]);
  }
}

export function parseEmployeesRegistry(text: string, file = "policies/employees.yml"): EmployeesRegistry {
  return parsePolicyText(EmployeesRegistry, text, file);
}

export function parseBudgets(text: string, file = "policies/budgets.yml"): Budgets {
  return parsePolicyText(Budgets, text, file);
}

export function parseProtectedPaths(text: string, file = "policies/protected-paths.yml"): ProtectedPaths {
  return parsePolicyText(ProtectedPaths, text, file);
}

export function loadEmployeesRegistry(dir = defaultPoliciesDir()): EmployeesRegistry {
  return parseEmployeesRegistry(readPolicyFile(dir, "employees.yml"), path.join(dir, "employees.yml"));
}

export function loadBudgets(dir = defaultPoliciesDir()): Budgets {
  return parseBudgets(readPolicyFile(dir, "budgets.yml"), path.join(dir, "budgets.yml"));
}

export function loadProtectedPaths(dir = defaultPoliciesDir()): ProtectedPaths {
  return parseProtectedPaths(readPolicyFile(dir, "protected-paths.yml"), path.join(dir, "protected-paths.yml"));
}

export type PolicySet = { employees: EmployeesRegistry; budgets: Budgets; protectedPaths: ProtectedPaths; revision: string };

/**
 * Loads all three files and derives the policy revision: a sha256 over their canonical JSON, so a change to any
 * policy changes every routing seed and every verdict records which policy it was made under.
 */
export function loadPolicySet(dir = defaultPoliciesDir()): PolicySet {
  const employees = loadEmployeesRegistry(dir);
  const budgets = loadBudgets(dir);
  const protectedPaths = loadProtectedPaths(dir);
  return { employees, budgets, protectedPaths, revision: policyRevision({ employees, budgets, protectedPaths }) };
}

/** A short, stable fingerprint of parsed policy data (RFC 8785 canonical JSON, sha256, first 16 hex digits). */
export function policyRevision(policies: unknown): string {
  const canonical = canonicalize(policies);
  if (canonical === undefined) throw new TypeError("policy data cannot be canonicalised");
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}
