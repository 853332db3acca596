// The schema of a repository's `.github/aura.yml`, read from the default/base branch. Unknown keys are errors (a
// typo must not silently drop a safety setting), a missing file means the defaults, and budgets may only tighten
// what the app allows.
import { z } from "zod";
import {
  type Budgets,
  type ConfigProblem,
  type EmployeesRegistry,
  EmployeeId,
  TASK_CLASSES,
  type TaskClass,
  parseYamlText,
  zodProblems,
} from "./policy-files.js";

export const REPO_CONFIG_PATH = ".github/aura.yml";

/** GitHub logins: letters, digits and single hyphens, at most 39 characters; `[bot]` accounts cannot direct. */
const GitHubLogin = z.string().regex(/^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/, "must be a GitHub user login (letters, digits, hyphens)");

/** A cap a repository may set: either unit may be omitted to keep the app's value. */
const RepoCap = z.strictObject({
  tokens: z.number().int().positive().optional(),
  usd: z.number().positive().optional(),
});

const ShellCommand = z.string().trim().min(1).max(2000);

/** Value in dollars of a merged PR of each task class; routing maximises sampled quality × value − expected cost. */
export const DEFAULT_TASK_VALUES = {
  bugfix: 20,
  feature: 30,
  docs: 5,
  test: 10,
  refactor: 10,
  dependency: 8,
} as const satisfies Record<TaskClass, number>;

const TaskValues = z.strictObject(
  Object.fromEntries(TASK_CLASSES.map((taskClass) => [taskClass, z.number().nonnegative().max(100_000).optional()])) as Record<
    TaskClass,
    z.ZodOptional<z.ZodNumber>
  >,
);

/** The agent loop's step cap when neither the repository nor the task class sets one. */
export const DEFAULT_AGENT_MAX_STEPS = 50;
/** Minutes one agent run may take in all (model turns and commands) before it stops and keeps its work. */
export const DEFAULT_AGENT_MAX_MINUTES = 30;
/** Turns in a row without a tool call that worked (only text, or only refused or failed calls) before the run stops. */
export const DEFAULT_AGENT_MAX_IDLE_TURNS = 6;

const StepCap = z.number().int().min(1).max(500);

/** The agent loop's limits for this repository; every one optional (see agentLimits for the defaults). */
export const AgentConfig = z.strictObject({
  /** Model turns one run may take. */
  maxSteps: StepCap.optional(),
  /** A cap per task class, over maxSteps (e.g. `{ docs: 15, feature: 80 }`). */
  maxStepsByClass: z
    .strictObject(Object.fromEntries(TASK_CLASSES.map((taskClass) => [taskClass, StepCap.optional()])) as Record<TaskClass, z.ZodOptional<typeof StepCap>>)
    .optional(),
  maxMinutes: z.number().int().min(1).max(600).optional(),
  maxIdleTurns: z.number().int().min(1).max(100).optional(),
  /** When true, only employees that work with tools (`tools: native | actions`) are routed this repository's tasks. */
  requireTools: z.boolean().optional(),
});
export type AgentConfig = z.infer<typeof AgentConfig>;

export const RepoConfig = z.strictObject({
  /** The issue label that turns an issue into a requirement. */
  requirementLabel: z.string().trim().min(1).max(50).default("aura:requirement"),
  /** Installs dependencies before tests (run in the sandbox; may reach the package registry only). */
  setup: ShellCommand.nullable().default(null),
  /** Runs the test suite (in the sandbox, no network). */
  test: ShellCommand.nullable().default(null),
  /** Extra directors besides admins and maintainers; each must already have write access or more. */
  directors: z.array(GitHubLogin).max(100).default([]),
  /** Narrows the app's employees registry to these ids; empty means every registered employee. */
  employees: z.array(EmployeeId).default([]),
  /** Lower caps than the app's `policies/budgets.yml`; never higher. `perDay` caps this repository's daily spend. */
  budgets: z
    .strictObject({
      perTask: RepoCap.optional(),
      perRequirement: RepoCap.optional(),
      perDay: RepoCap.optional(),
    })
    .default({}),
  maxOpenAgentPrs: z.number().int().min(1).max(50).default(5),
  maxTasks: z.number().int().min(1).max(20).default(5),
  /** When true, a director's `/aura approve` is needed before any task of a plan starts. */
  planApproval: z.boolean().default(false),
  /** When true, the governor also evaluates pull requests opened by people. */
  governAllPullRequests: z.boolean().default(false),
  dataPolicy: z
    .strictObject({
      /** When true and the repository is private, only employees marked `dataPolicy.local` get work. */
      privateRepoLocalModelsOnly: z.boolean().default(false),
    })
    .default({ privateRepoLocalModelsOnly: false }),
  auditor: z
    .strictObject({
      /** Employee id that adds an advisory LLM review (never the PR's author; never gates). Null: none. */
      reviewer: EmployeeId.nullable().default(null),
    })
    .default({ reviewer: null }),
  taskValues: TaskValues.default({}),
  /** The agent loop's limits (step caps, time, idle turns) and whether tools are required; defaults when absent. */
  agent: AgentConfig.optional(),
  /** Extra governor rules; the governor owns their schema and may only tighten. */
  rules: z.array(z.unknown()).default([]),
});
export type RepoConfig = z.infer<typeof RepoConfig>;
export type RepoConfigInput = z.input<typeof RepoConfig>;

/** `.github/aura.yml` is invalid; its message lists every problem with its path and fix. */
export class RepoConfigError extends Error {
  override name = "RepoConfigError";
  constructor(readonly problems: ConfigProblem[]) {
    super(
      [
        `${REPO_CONFIG_PATH} is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):`,
        ...problems.map((p) => `  - ${p.path}: ${p.message}. Fix: ${p.fix}.`),
      ].join("\n"),
    );
  }
}

/** What the repo config is checked against: the app's budgets and registry. Both optional for schema-only use. */
export type RepoConfigContext = { appBudgets?: Budgets; registry?: EmployeesRegistry };

/** Problems that need the app's policies to see: raised budgets, unknown employee ids. */
export function tightenOnlyProblems(config: RepoConfig, context: RepoConfigContext): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const { appBudgets, registry } = context;
  if (appBudgets) {
    const limits = { perTask: appBudgets.perTask, perRequirement: appBudgets.perRequirement, perDay: appBudgets.perDayPerInstallation };
    for (const scope of ["perTask", "perRequirement", "perDay"] as const) {
      for (const unit of ["tokens", "usd"] as const) {
        const value = config.budgets[scope]?.[unit];
        const limit = limits[scope][unit];
        if (value !== undefined && value > limit) {
          problems.push({
            path: `budgets.${scope}.${unit}`,
            message: `${value} is higher than the app's limit of ${limit}; a repository may only lower budgets`,
            fix: `use ${limit} or less, or ask a director for a one-off raise with /aura budget`,
          });
        }
      }
    }
  }
  if (registry) {
    const known = new Set(registry.employees.map((employee) => employee.id));
    config.employees.forEach((id, index) => {
      if (!known.has(id)) {
        problems.push({ path: `employees[${index}]`, message: `"${id}" is not in the app's employees registry`, fix: `use one of: ${[...known].join(", ")}` });
      }
    });
    const reviewer = config.auditor.reviewer;
    if (reviewer !== null && !known.has(reviewer)) {
      problems.push({
        path: "auditor.reviewer",
        message: `"${reviewer}" is not in the app's employees registry`,
        fix: `use one of: ${[...known].join(", ")}, or null`,
      });
    }
  }
  return problems;
}

/**
 * Parses `.github/aura.yml`. `null`/`undefined` (no file on the default branch) gives the defaults; an empty file
 * too. Throws RepoConfigError listing every problem, including budgets above the app's when `context` is given.
 */
export function parseRepoConfig(yamlText: string | null | undefined, context: RepoConfigContext = {}): RepoConfig {
  if (yamlText === null || yamlText === undefined) return RepoConfig.parse({});
  const yaml = parseYamlText(yamlText);
  if (!yaml.ok) throw new RepoConfigError(yaml.problems);
  const raw = yaml.value ?? {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new RepoConfigError([{ path: "(top level)", message: "must be a mapping of keys to values", fix: "write `key: value` lines, e.g. `maxTasks: 3`" }]);
  }
  const result = RepoConfig.safeParse(raw);
  if (!result.success) throw new RepoConfigError(zodProblems(RepoConfig, result.error));
  const problems = tightenOnlyProblems(result.data, context);
  if (problems.length > 0) throw new RepoConfigError(problems);
  return result.data;
}

/** The caps in force for a repository: the lower of the app's and the repository's, unit by unit. */
export type EffectiveBudgets = {
  warnAtFraction: number;
  perTask: { tokens: number; usd: number };
  perRequirement: { tokens: number; usd: number };
  perDayPerInstallation: { tokens: number; usd: number };
  perDayPerRepo: { tokens: number; usd: number };
};

export function effectiveBudgets(app: Budgets, config: RepoConfig): EffectiveBudgets {
  const lower = (limit: { tokens: number; usd: number }, repo: { tokens?: number | undefined; usd?: number | undefined } | undefined) => ({
    tokens: Math.min(limit.tokens, repo?.tokens ?? limit.tokens),
    usd: Math.min(limit.usd, repo?.usd ?? limit.usd),
  });
  return {
    warnAtFraction: app.warnAtFraction,
    perTask: lower(app.perTask, config.budgets.perTask),
    perRequirement: lower(app.perRequirement, config.budgets.perRequirement),
    perDayPerInstallation: { ...app.perDayPerInstallation },
    perDayPerRepo: lower(app.perDayPerInstallation, config.budgets.perDay),
  };
}

/** Dollar value of a merged PR for a task class, from repo config or the defaults. */
export function taskValue(config: RepoConfig, taskClass: TaskClass): number {
  return config.taskValues[taskClass] ?? DEFAULT_TASK_VALUES[taskClass];
}

/** The registry narrowed by the repo's allow-list (an empty list keeps everyone). */
export function allowedEmployeeIds(config: RepoConfig, registry: EmployeesRegistry): string[] {
  const all = registry.employees.map((employee) => employee.id);
  if (config.employees.length === 0) return all;
  const allowed = new Set(config.employees);
  return all.filter((id) => allowed.has(id));
}

/** The limits one agent run of a task works under. */
export type AgentLimits = { maxSteps: number; maxMinutes: number; maxIdleTurns: number; requireTools: boolean };

/** The agent limits for a task of `taskClass`: the class's step cap, else the repository's, else the defaults. */
export function agentLimits(config: RepoConfig, taskClass: TaskClass): AgentLimits {
  const agent = config.agent ?? {};
  return {
    maxSteps: agent.maxStepsByClass?.[taskClass] ?? agent.maxSteps ?? DEFAULT_AGENT_MAX_STEPS,
    maxMinutes: agent.maxMinutes ?? DEFAULT_AGENT_MAX_MINUTES,
    maxIdleTurns: agent.maxIdleTurns ?? DEFAULT_AGENT_MAX_IDLE_TURNS,
    requireTools: agent.requireTools ?? false,
  };
}
