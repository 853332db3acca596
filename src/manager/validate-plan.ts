// The plan rules, the symbolic layer over the planner's output: code, not the model, decides whether a TaskPlan
// is allowed. It checks ids, dependencies (naming any cycle, via task-graph.ts), the task count, every scope
// glob (inside the repository and clear of protected paths, via glob-overlap.ts) and the estimates against the
// budget, and words each problem for the status comment and for the planner's re-ask.
import picomatch from "picomatch";
import type { ChatMessage } from "../models/model-client.js";
import { globSyntaxProblem, scopeReachesProtected } from "./glob-overlap.js";
import type { PlannedTask, ProtectedGlob, TaskClass, TaskPlan } from "./plan.js";
import { dependencyCycles } from "./task-graph.js";

export const PLAN_PROBLEM_KINDS = [
  "duplicate-task-id",
  "unknown-dependency",
  "dependency-cycle",
  "too-many-tasks",
  "scope-invalid",
  "scope-absolute",
  "scope-parent-traversal",
  "scope-outside-repo",
  "scope-protected",
  "scope-matches-nothing",
  "estimate-over-task-budget",
  "estimate-over-requirement-budget",
] as const;
export type PlanProblemKind = (typeof PLAN_PROBLEM_KINDS)[number];

/** One broken rule: what is wrong, which task, and what would fix it (also sent back to the model on a re-ask). */
export type PlanProblem = { kind: PlanProblemKind; taskId: string | null; message: string; fix: string };

export type PlanLimits = {
  maxTasks: number;
  protectedGlobs: readonly ProtectedGlob[];
  budget: { perTask: { tokens: number; usd: number }; perRequirement: { tokens: number; usd: number } };
  /** The repository's files; when given, bugfix, refactor and dependency scopes must match at least one. */
  repoFiles?: readonly string[];
};

export type PlanVerdict = { ok: true } | { ok: false; problems: PlanProblem[] };

/** Git's own directory is never a task's business: hooks and config there run code on the host. */
const GIT_DIRECTORY: ProtectedGlob = { glob: ".git/**", reason: "git metadata, hooks and configuration" };

/** Task classes that change existing code, so their scope must name something that exists. */
const EXISTING_CODE_CLASSES: readonly TaskClass[] = ["bugfix", "refactor", "dependency"];

/** Renders a model-supplied value as an inline code span that cannot break out of it or mention anyone. */
export function code(value: string): string {
  const clean = value.replace(/[\r\n]+/g, " ").slice(0, 200);
  return clean.includes("`") ? `\`\` ${clean.replace(/`{2,}/g, "`")} \`\`` : `\`${clean}\``;
}

function scopeLocationProblem(scope: string): { kind: PlanProblemKind; message: string } | undefined {
  const trimmed = scope.trim();
  if (trimmed.startsWith("/") || /^[A-Za-z]:[\\/]/.test(trimmed) || trimmed.startsWith("\\\\"))
    return { kind: "scope-absolute", message: `scope ${code(scope)} is an absolute path` };
  if (trimmed.split(/[\\/]/).some((segment) => segment === ".."))
    return { kind: "scope-parent-traversal", message: `scope ${code(scope)} uses ${code("..")} to leave the repository` };
  if (trimmed.startsWith("~") || trimmed.includes("\\") || /^[a-z][a-z0-9+.-]*:/i.test(trimmed))
    return { kind: "scope-outside-repo", message: `scope ${code(scope)} is not a path inside the repository` };
  if (trimmed.split("/").some((segment) => segment === ".git"))
    return { kind: "scope-outside-repo", message: `scope ${code(scope)} reaches into ${code(".git/")}, which is git's metadata, not repository content` };
  return undefined;
}

function normaliseProtected(entry: ProtectedGlob): { glob: string; reason: string | undefined; allowTaskClasses: readonly TaskClass[] } {
  return typeof entry === "string"
    ? { glob: entry, reason: undefined, allowTaskClasses: [] }
    : { glob: entry.glob, reason: entry.reason, allowTaskClasses: entry.allowTaskClasses ?? [] };
}

const money = (usd: number) => `$${usd.toFixed(2)}`;

type ProtectedRule = ReturnType<typeof normaliseProtected>;

/** Checks a plan against the rules. Every problem found is reported, not only the first. */
export function validatePlan(plan: TaskPlan, limits: PlanLimits): PlanVerdict {
  const protectedRules = [GIT_DIRECTORY, ...limits.protectedGlobs].map(normaliseProtected);
  // A protected glob that cannot be analysed is reported once, at the first scope it could not clear.
  const unanalysable = new Set<string>();
  const problems: PlanProblem[] = [
    ...taskCountProblems(plan, limits.maxTasks),
    ...dependencyProblems(plan),
    ...plan.tasks.flatMap((task) => [
      ...task.scope.flatMap((scope) => scopeProblems(task, scope, protectedRules, unanalysable)),
      ...existenceProblems(task, limits.repoFiles),
      ...taskEstimateProblems(task, limits.budget.perTask),
    ]),
    ...requirementEstimateProblems(plan, limits.budget.perRequirement),
  ];
  return problems.length === 0 ? { ok: true } : { ok: false, problems };
}

function taskCountProblems(plan: TaskPlan, maxTasks: number): PlanProblem[] {
  if (plan.tasks.length <= maxTasks) return [];
  return [
    {
      kind: "too-many-tasks",
      taskId: null,
      message: `the plan has ${plan.tasks.length} tasks; this repository allows at most ${maxTasks}`,
      fix: `merge related work into at most ${maxTasks} tasks`,
    },
  ];
}

/** Repeated ids, dependencies on ids not in the plan, and dependency cycles, in that order. */
function dependencyProblems(plan: TaskPlan): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const ids = new Set<string>();
  for (const task of plan.tasks) {
    if (ids.has(task.id)) {
      problems.push({
        kind: "duplicate-task-id",
        taskId: task.id,
        message: `task id ${code(task.id)} is used more than once`,
        fix: "give every task its own id",
      });
    }
    ids.add(task.id);
  }
  for (const task of plan.tasks) {
    for (const dependency of task.dependsOn.filter((id) => !ids.has(id))) {
      problems.push({
        kind: "unknown-dependency",
        taskId: task.id,
        message: `task ${code(task.id)} depends on ${code(dependency)}, which is not a task in this plan`,
        fix: `depend only on ids in this plan (${[...ids].map(code).join(", ")})`,
      });
    }
  }
  return [...problems, ...dependencyCycles(plan.tasks).map(cycleProblem)];
}

function cycleProblem(cycle: readonly string[]): PlanProblem {
  return {
    kind: "dependency-cycle",
    taskId: cycle[0] ?? null,
    message:
      cycle.length === 2
        ? `task ${code(cycle[0] ?? "")} depends on itself`
        : `tasks depend on each other in a cycle: ${cycle.map(code).join(" → ")} (each arrow reads "depends on")`,
    fix: "remove one dependency so that the tasks can be done in some order",
  };
}

/** One scope: outside the repository, not a glob we can analyse, or reaching a protected path the task may not touch. */
function scopeProblems(task: PlannedTask, scope: string, protectedRules: readonly ProtectedRule[], unanalysable: Set<string>): PlanProblem[] {
  const location = scopeLocationProblem(scope);
  if (location) return [{ ...location, taskId: task.id, fix: "use a path glob relative to the repository root, such as `src/module/**`" }];
  const syntax = globSyntaxProblem(scope);
  if (syntax !== undefined) {
    return [
      { kind: "scope-invalid", taskId: task.id, message: `scope ${code(scope)} ${syntax}`, fix: "use plain globs: names, `*`, `**`, `?`, `[abc]` and `{a,b}`" },
    ];
  }
  return protectedRules
    .filter((rule) => !rule.allowTaskClasses.includes(task.taskClass))
    .flatMap((rule) => protectedPathProblems(task, scope, rule, unanalysable));
}

function protectedPathProblems(task: PlannedTask, scope: string, rule: ProtectedRule, unanalysable: Set<string>): PlanProblem[] {
  let reaches: boolean;
  try {
    reaches = scopeReachesProtected(scope, rule.glob);
  } catch {
    // A protected glob we cannot analyse must refuse, not wave the scope through.
    if (unanalysable.has(rule.glob)) return [];
    unanalysable.add(rule.glob);
    return [
      {
        kind: "scope-invalid",
        taskId: task.id,
        message: `protected path ${code(rule.glob)} cannot be checked, so no scope can be cleared against it`,
        fix: "a maintainer must fix policies/protected-paths.yml",
      },
    ];
  }
  if (!reaches) return [];
  const allowed = rule.allowTaskClasses.length > 0 ? ` (only ${rule.allowTaskClasses.join(", ")} tasks may touch it)` : "";
  return [
    {
      kind: "scope-protected",
      taskId: task.id,
      message: `scope ${code(scope)} overlaps the protected path ${code(rule.glob)}${rule.reason ? `: ${rule.reason}` : ""}${allowed}`,
      fix: `narrow the scope so that it cannot match ${code(rule.glob)}`,
    },
  ];
}

/** With the repository's files known, a task that changes existing code must name at least one of them. */
function existenceProblems(task: PlannedTask, repoFiles: readonly string[] | undefined): PlanProblem[] {
  if (!repoFiles || !EXISTING_CODE_CLASSES.includes(task.taskClass)) return [];
  const matchers = task.scope.filter((scope) => !scopeLocationProblem(scope)).map((scope) => picomatch(scope, { dot: true }));
  if (matchers.length === 0 || repoFiles.some((file) => matchers.some((matches) => matches(file)))) return [];
  return [
    {
      kind: "scope-matches-nothing",
      taskId: task.id,
      message: `no file in the repository matches the scope of ${task.taskClass} task ${code(task.id)} (${task.scope.map(code).join(", ")})`,
      fix: "use paths that exist in the file tree you were shown",
    },
  ];
}

function taskEstimateProblems(task: PlannedTask, cap: { tokens: number; usd: number }): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const over = (message: string): PlanProblem => ({ kind: "estimate-over-task-budget", taskId: task.id, message, fix: "split the task or narrow it" });
  if (task.estimate.tokens > cap.tokens) {
    problems.push(over(`task ${code(task.id)} is estimated at ${task.estimate.tokens} tokens; the per-task cap is ${cap.tokens}`));
  }
  if (task.estimate.usd > cap.usd) {
    problems.push(over(`task ${code(task.id)} is estimated at ${money(task.estimate.usd)}; the per-task cap is ${money(cap.usd)}`));
  }
  return problems;
}

function requirementEstimateProblems(plan: TaskPlan, cap: { tokens: number; usd: number }): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const over = (message: string): PlanProblem => ({
    kind: "estimate-over-requirement-budget",
    taskId: null,
    message,
    fix: "plan less work for this requirement, or ask a director to raise the budget",
  });
  const totalTokens = plan.tasks.reduce((sum, task) => sum + task.estimate.tokens, 0);
  // Sum in micro-dollars so that floating-point noise never decides a budget check.
  const totalMicros = plan.tasks.reduce((sum, task) => sum + Math.round(task.estimate.usd * 1e6), 0);
  if (totalTokens > cap.tokens) {
    problems.push(over(`the tasks together are estimated at ${totalTokens} tokens; the per-requirement cap is ${cap.tokens}`));
  }
  if (totalMicros > Math.round(cap.usd * 1e6)) {
    problems.push(over(`the tasks together are estimated at ${money(totalMicros / 1e6)}; the per-requirement cap is ${money(cap.usd)}`));
  }
  return problems;
}

/** Markdown for the requirement's status comment: what the rules refused, task by task. */
export function formatPlanProblems(problems: readonly PlanProblem[]): string {
  if (problems.length === 0) return "The plan passed every rule.";
  const lines = [`**The plan was refused by Aura's rules** (${problems.length} problem${problems.length === 1 ? "" : "s"}):`, ""];
  for (const problem of problems) {
    const where = problem.taskId === null ? "Plan" : `Task ${code(problem.taskId)}`;
    lines.push(`- **${where}**: ${problem.message}. _Fix:_ ${problem.fix}.`);
  }
  return lines.join("\n");
}

/** The message sent back to the planner on a re-ask after the rules refused its plan. */
export function planProblemsFeedback(problems: readonly PlanProblem[]): ChatMessage {
  return {
    role: "user",
    content: [
      "Your TaskPlan broke these rules and was refused:",
      ...problems.map((problem, index) => `${index + 1}. ${problem.message}. Fix: ${problem.fix}.`),
      "Return a corrected TaskPlan that follows every rule. Do not plan anything on a protected path.",
    ].join("\n"),
  };
}
