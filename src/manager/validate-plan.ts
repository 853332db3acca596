// The symbolic layer over the planner's output: code, not the model, decides whether a TaskPlan is allowed.
// It checks ids, dependencies (naming any cycle), the task count, every scope glob (inside the repository and
// clear of protected paths, by exact glob-versus-glob intersection) and the estimates against the budget.
import braces from "braces";
import picomatch from "picomatch";
import { unsupportedGlobSyntax } from "../config/policy-files.js";
import type { ChatMessage } from "../employees/model-client.js";
import type { ProtectedGlob, TaskClass, TaskPlan } from "./plan.js";

// ---------------------------------------------------------------------------------------------------------------
// Glob algebra. A glob is a list of path segments; a segment is `**` (any number of whole segments, including
// none) or a pattern of literal characters, `?`, `*` and `[...]` classes. Two globs overlap when some path
// matches both. Wildcards are treated as matching dot-files too: for a safety check, over-matching is the safe
// side (picomatch's default `dot: false` would let `**` slip past `.github/**`).
// ---------------------------------------------------------------------------------------------------------------

type CharToken =
  | { kind: "literal"; char: string }
  | { kind: "any" }
  | { kind: "star" }
  | { kind: "class"; negated: boolean; ranges: [number, number][] };

type Segment = { kind: "globstar" } | { kind: "pattern"; tokens: CharToken[] };

/** A glob the algebra cannot represent exactly; callers treat it as a problem, never as "no overlap". */
export class GlobSyntaxError extends Error {
  override name = "GlobSyntaxError";
  constructor(
    readonly glob: string,
    readonly reason: string,
  ) {
    super(`glob "${glob}" ${reason}`);
  }
}

const MAX_BRACE_EXPANSIONS = 256;

/** The parts of braces' syntax tree the expansion bound reads (its types do not declare `parse`). */
type BraceNode = { type: string; commas?: number; ranges?: number; nodes?: BraceNode[] };
const braceSyntax = braces as unknown as { parse: (input: string) => BraceNode; stringify: (node: BraceNode) => string };

/**
 * At least as many alternatives as `node` expands to, computed without expanding it: a list group multiplies by
 * its alternatives (nested groups multiply too, which over-counts and so fails closed), a range group by its length.
 */
function expansionBound(node: BraceNode): number {
  if (node.type === "brace" && (node.ranges ?? 0) > 0) {
    return braces(braceSyntax.stringify(node), { expand: true, rangeLimit: MAX_BRACE_EXPANSIONS }).length;
  }
  const inner = (node.nodes ?? []).reduce((product, child) => product * expansionBound(child), 1);
  return node.type === "brace" ? inner * ((node.commas ?? 0) + 1) : inner;
}

/**
 * Expands `{a,b}` alternatives and `{1..3}` ranges (nested allowed) the way picomatch reads them, keeping
 * backslash escapes for the segment parser; a group without a comma or range, or an unclosed `{`, is literal.
 */
function expandBraces(glob: string): string[] {
  let bound: number;
  try {
    bound = expansionBound(braceSyntax.parse(glob));
  } catch (error) {
    // braces refuses a range longer than rangeLimit with a RangeError.
    if (error instanceof RangeError) throw new GlobSyntaxError(glob, `has a brace range of more than ${MAX_BRACE_EXPANSIONS} values`);
    throw error;
  }
  if (bound > MAX_BRACE_EXPANSIONS) throw new GlobSyntaxError(glob, `may expand to more than ${MAX_BRACE_EXPANSIONS} alternatives; list fewer`);
  return braces(glob, { expand: true, keepEscaping: true, rangeLimit: MAX_BRACE_EXPANSIONS });
}

function parseClass(body: string): { negated: boolean; ranges: [number, number][] } {
  let negated = false;
  let i = 0;
  if (body[0] === "^") {
    negated = true;
    i = 1;
  }
  const chars: number[] = [];
  const escapedAt = new Set<number>();
  for (; i < body.length; i++) {
    if (body[i] === "\\" && i + 1 < body.length) {
      i++;
      escapedAt.add(chars.length);
    }
    chars.push(body.codePointAt(i) ?? 0);
    if ((body.codePointAt(i) ?? 0) > 0xffff) i++;
  }
  const ranges: [number, number][] = [];
  for (let k = 0; k < chars.length; k++) {
    const low = chars[k] ?? 0;
    const dash = chars[k + 1];
    const high = chars[k + 2];
    if (dash === 0x2d && !escapedAt.has(k + 1) && high !== undefined) {
      ranges.push([Math.min(low, high), Math.max(low, high)]);
      k += 2;
    } else {
      ranges.push([low, low]);
    }
  }
  return { negated, ranges };
}

function parseSegment(glob: string, segment: string): Segment {
  if (segment === "**") return { kind: "globstar" };
  const tokens: CharToken[] = [];
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i] ?? "";
    if (char === "\\") {
      const next = segment[i + 1];
      if (next === undefined) throw new GlobSyntaxError(glob, "ends with a lone backslash");
      tokens.push({ kind: "literal", char: next });
      i++;
    } else if (char === "*") {
      // Runs of stars inside a segment (`a**b`) behave like one star.
      if (tokens.at(-1)?.kind !== "star") tokens.push({ kind: "star" });
    } else if (char === "?") {
      tokens.push({ kind: "any" });
    } else if (char === "[") {
      let end = i + 1;
      if (segment[end] === "^") end++;
      if (segment[end] === "]") end++;
      while (end < segment.length && segment[end] !== "]") end += segment[end] === "\\" ? 2 : 1;
      if (end >= segment.length) {
        tokens.push({ kind: "literal", char: "[" });
      } else {
        tokens.push({ kind: "class", ...parseClass(segment.slice(i + 1, end)) });
        i = end;
      }
    } else {
      const code = segment.codePointAt(i) ?? 0;
      const full = String.fromCodePoint(code);
      tokens.push({ kind: "literal", char: full });
      i += full.length - 1;
    }
  }
  return { kind: "pattern", tokens };
}

/** Normalises a glob (`./`, duplicate and trailing slashes) and parses each brace alternative into segments. */
function parseGlob(glob: string): Segment[][] {
  const problem = unsupportedGlobSyntax(glob);
  if (problem) throw new GlobSyntaxError(glob, problem);
  return expandBraces(glob).map((alternative) => {
    let text = alternative.replace(/\/{2,}/g, "/");
    while (text.startsWith("./")) text = text.slice(2);
    // A trailing slash names a directory: everything below it.
    if (text.endsWith("/")) text += "**";
    const segments = text
      .split("/")
      .filter((segment) => segment !== "." && segment !== "")
      .map((segment) => parseSegment(glob, segment));
    if (segments.length === 0) throw new GlobSyntaxError(glob, "names no path");
    return segments;
  });
}

function classHas(token: { negated: boolean; ranges: [number, number][] }, code: number): boolean {
  const inRanges = token.ranges.some(([low, high]) => code >= low && code <= high);
  return token.negated ? !inRanges : inRanges;
}

function tokenAccepts(token: CharToken, code: number): boolean {
  if (code === 0x2f) return false;
  if (token.kind === "literal") return (token.char.codePointAt(0) ?? -1) === code;
  if (token.kind === "any" || token.kind === "star") return true;
  return classHas(token, code);
}

/**
 * One character from every class of characters that the given tokens cannot tell apart. Membership in a literal
 * or a range only changes at these boundaries, so checking the representatives decides every character.
 */
function representativeCodes(tokens: readonly CharToken[]): number[] {
  const points = new Set<number>([1, 0x2f, 0x30]);
  for (const token of tokens) {
    if (token.kind === "literal") {
      const c = token.char.codePointAt(0) ?? 0;
      points.add(c);
      points.add(c + 1);
    } else if (token.kind === "class") {
      for (const [low, high] of token.ranges) {
        points.add(low);
        points.add(high + 1);
      }
    }
  }
  return [...points].filter((code) => code !== 0x2f && code > 0 && code <= 0x10ffff).sort((a, b) => a - b);
}

/** Whether two single-character tokens accept a common character (never `/`). */
function charsIntersect(a: CharToken, b: CharToken): boolean {
  return representativeCodes([a, b]).some((code) => tokenAccepts(a, code) && tokenAccepts(b, code));
}

/** Positions reachable without consuming a character (a star may match nothing). */
function closure(tokens: readonly CharToken[], positions: Iterable<number>): Set<number> {
  const out = new Set<number>();
  for (let position of positions) {
    out.add(position);
    while (tokens[position]?.kind === "star") out.add(++position);
  }
  return out;
}

function step(tokens: readonly CharToken[], positions: ReadonlySet<number>, code: number): Set<number> {
  const next: number[] = [];
  for (const position of positions) {
    const token = tokens[position];
    if (!token || !tokenAccepts(token, code)) continue;
    next.push(token.kind === "star" ? position : position + 1);
  }
  return closure(tokens, next);
}

/** Whether every non-empty segment `inner` matches is also matched by `outer` (subset construction on both). */
function patternIncluded(inner: readonly CharToken[], outer: readonly CharToken[]): boolean {
  const codes = representativeCodes([...inner, ...outer]);
  const key = (a: ReadonlySet<number>, b: ReadonlySet<number>) => `${[...a].sort().join(",")}|${[...b].sort().join(",")}`;
  const queue: [Set<number>, Set<number>][] = [[closure(inner, [0]), closure(outer, [0])]];
  const seen = new Set<string>();
  while (queue.length > 0) {
    const [a, b] = queue.pop() ?? [new Set<number>(), new Set<number>()];
    for (const code of codes) {
      const nextA = step(inner, a, code);
      if (nextA.size === 0) continue;
      const nextB = step(outer, b, code);
      if (nextA.has(inner.length) && !nextB.has(outer.length)) return false;
      const id = key(nextA, nextB);
      if (seen.has(id)) continue;
      seen.add(id);
      queue.push([nextA, nextB]);
    }
  }
  return true;
}

/**
 * Whether two sequences with wildcards can produce a common sequence: a wildcard item either matches
 * nothing more, or swallows the next item the other side produces and stays. Used for characters within a
 * segment (`*`) and for segments within a path (`**`).
 */
function sequencesIntersect<T>(a: T[], b: T[], isWildcard: (item: T) => boolean, itemsIntersect: (x: T, y: T) => boolean): boolean {
  const memo = new Map<number, boolean>();
  const visit = (i: number, j: number): boolean => {
    const key = i * (b.length + 1) + j;
    const cached = memo.get(key);
    if (cached !== undefined) return cached;
    memo.set(key, false);
    const x = a[i];
    const y = b[j];
    let result: boolean;
    if (x === undefined && y === undefined) result = true;
    else if (x !== undefined && isWildcard(x)) result = visit(i + 1, j) || (y !== undefined && visit(i, j + 1));
    else if (y !== undefined && isWildcard(y)) result = visit(i, j + 1) || (x !== undefined && visit(i + 1, j));
    else if (x === undefined || y === undefined) result = false;
    else result = itemsIntersect(x, y) && visit(i + 1, j + 1);
    memo.set(key, result);
    return result;
  };
  return visit(0, 0);
}

/** Whether two segment patterns match a common (non-empty) segment. */
function patternsIntersect(a: CharToken[], b: CharToken[]): boolean {
  return sequencesIntersect(a, b, (token) => token.kind === "star", charsIntersect);
}

function segmentListsIntersect(a: Segment[], b: Segment[]): boolean {
  // Only pattern segments reach itemsIntersect: globstars are the wildcards.
  const tokens = (segment: Segment) => (segment.kind === "pattern" ? segment.tokens : []);
  return sequencesIntersect(a, b, (segment) => segment.kind === "globstar", (x, y) => patternsIntersect(tokens(x), tokens(y)));
}

/** True when some repository path matches both globs (wildcards match dot-files). Throws GlobSyntaxError. */
export function globsOverlap(a: string, b: string): boolean {
  const left = parseGlob(a);
  const right = parseGlob(b);
  return left.some((x) => right.some((y) => segmentListsIntersect(x, y)));
}

const isWildcardFree = (segment: Segment | undefined) =>
  segment?.kind === "pattern" && segment.tokens.every((token) => token.kind === "literal");

// Whether a task scope reaches a protected path.
// - Anchored protected globs (first segment a plain name, like `.github/workflows/**`): any overlap counts, and a
//   scope that ends in a plain name (`.github`) also counts everything below it, as a directory would.
// - Floating ones (`**/CODEOWNERS`, lock files, test-runner config): `src/**` or `src/**/*.ts` overlap some
//   possible `CODEOWNERS` or `vitest.config.ts` in the tree, and refusing them would refuse nearly every plan. So
//   the scope counts when it names such a file: its last segment (trailing `**` removed) has no `*` or matches
//   only protected names (`docs/CODEOWNERS`, `**/package-lock.json`, `vitest.config.*`). The governor and the
//   employee's edit check still refuse every changed path that is protected.
export function scopeReachesProtected(scope: string, protectedGlob: string): boolean {
  const protectedAlternatives = parseGlob(protectedGlob);
  const scopeAlternatives = parseGlob(scope);
  return protectedAlternatives.some((target) => {
    const anchored = isWildcardFree(target[0]);
    return scopeAlternatives.some((segments) => {
      if (anchored) {
        const asDirectory = isWildcardFree(segments.at(-1)) ? [...segments, { kind: "globstar" } as const] : segments;
        return segmentListsIntersect(asDirectory, target);
      }
      const trimmed = [...segments];
      while (trimmed.at(-1)?.kind === "globstar") trimmed.pop();
      const last = trimmed.at(-1);
      const targetLast = target.at(-1);
      if (targetLast?.kind !== "pattern") return segmentListsIntersect(segments, target);
      if (last?.kind !== "pattern") return false;
      if (!segmentListsIntersect(trimmed, target)) return false;
      return last.tokens.every((token) => token.kind !== "star") || patternIncluded(last.tokens, targetLast.tokens);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Plan rules
// ---------------------------------------------------------------------------------------------------------------

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

function findCycles(plan: TaskPlan): string[][] {
  const ids = plan.tasks.map((task) => task.id);
  const known = new Set(ids);
  const edges = new Map<string, string[]>();
  for (const task of plan.tasks) {
    if (!edges.has(task.id)) edges.set(task.id, task.dependsOn.filter((dependency) => known.has(dependency)));
  }
  // Tarjan's strongly connected components; every component with a loop holds at least one cycle.
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const connect = (node: string) => {
    index.set(node, counter);
    low.set(node, counter);
    counter++;
    stack.push(node);
    onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!index.has(next)) {
        connect(next);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(next) ?? 0));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(next) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      components.push(component);
    }
  };
  for (const id of new Set(ids)) if (!index.has(id)) connect(id);

  const cycles: string[][] = [];
  for (const component of components) {
    const members = new Set(component);
    const start = ids.find((id) => members.has(id));
    if (start === undefined) continue;
    if (component.length === 1 && !(edges.get(start) ?? []).includes(start)) continue;
    // Walk from the first member (in plan order) back to itself inside the component.
    const path: string[] = [start];
    const seen = new Set<string>([start]);
    const walk = (node: string): boolean => {
      for (const next of edges.get(node) ?? []) {
        if (next === start) return true;
        if (!members.has(next) || seen.has(next)) continue;
        seen.add(next);
        path.push(next);
        if (walk(next)) return true;
        path.pop();
      }
      return false;
    };
    walk(start);
    cycles.push([...path, start]);
  }
  return cycles.sort((a, b) => ids.indexOf(a[0] ?? "") - ids.indexOf(b[0] ?? ""));
}

function normaliseProtected(entry: ProtectedGlob): { glob: string; reason: string | undefined; allowTaskClasses: readonly TaskClass[] } {
  return typeof entry === "string"
    ? { glob: entry, reason: undefined, allowTaskClasses: [] }
    : { glob: entry.glob, reason: entry.reason, allowTaskClasses: entry.allowTaskClasses ?? [] };
}

const money = (usd: number) => `$${usd.toFixed(2)}`;

/** Checks a plan against the rules. Every problem found is reported, not only the first. */
export function validatePlan(plan: TaskPlan, limits: PlanLimits): PlanVerdict {
  const problems: PlanProblem[] = [];
  const ids = new Set<string>();

  if (plan.tasks.length > limits.maxTasks) {
    problems.push({
      kind: "too-many-tasks",
      taskId: null,
      message: `the plan has ${plan.tasks.length} tasks; this repository allows at most ${limits.maxTasks}`,
      fix: `merge related work into at most ${limits.maxTasks} tasks`,
    });
  }

  for (const task of plan.tasks) {
    if (ids.has(task.id)) {
      problems.push({ kind: "duplicate-task-id", taskId: task.id, message: `task id ${code(task.id)} is used more than once`, fix: "give every task its own id" });
    }
    ids.add(task.id);
  }

  for (const task of plan.tasks) {
    for (const dependency of task.dependsOn) {
      if (!ids.has(dependency)) {
        problems.push({
          kind: "unknown-dependency",
          taskId: task.id,
          message: `task ${code(task.id)} depends on ${code(dependency)}, which is not a task in this plan`,
          fix: `depend only on ids in this plan (${[...ids].map(code).join(", ")})`,
        });
      }
    }
  }

  for (const cycle of findCycles(plan)) {
    problems.push({
      kind: "dependency-cycle",
      taskId: cycle[0] ?? null,
      message:
        cycle.length === 2
          ? `task ${code(cycle[0] ?? "")} depends on itself`
          : `tasks depend on each other in a cycle: ${cycle.map(code).join(" → ")} (each arrow reads "depends on")`,
      fix: "remove one dependency so that the tasks can be done in some order",
    });
  }

  const protectedRules = [GIT_DIRECTORY, ...limits.protectedGlobs].map(normaliseProtected);
  const broken = new Set<string>();
  for (const task of plan.tasks) {
    for (const scope of task.scope) {
      const location = scopeLocationProblem(scope);
      if (location) {
        problems.push({ ...location, taskId: task.id, fix: "use a path glob relative to the repository root, such as `src/module/**`" });
        continue;
      }
      try {
        parseGlob(scope);
      } catch (error) {
        const reason = error instanceof GlobSyntaxError ? error.reason : String(error);
        problems.push({ kind: "scope-invalid", taskId: task.id, message: `scope ${code(scope)} ${reason}`, fix: "use plain globs: names, `*`, `**`, `?`, `[abc]` and `{a,b}`" });
        continue;
      }
      for (const rule of protectedRules) {
        if (rule.allowTaskClasses.includes(task.taskClass)) continue;
        let reaches: boolean;
        try {
          reaches = scopeReachesProtected(scope, rule.glob);
        } catch {
          // A protected glob we cannot analyse must refuse, not wave the scope through.
          if (!broken.has(rule.glob)) {
            broken.add(rule.glob);
            problems.push({
              kind: "scope-invalid",
              taskId: task.id,
              message: `protected path ${code(rule.glob)} cannot be checked, so no scope can be cleared against it`,
              fix: "a maintainer must fix policies/protected-paths.yml",
            });
          }
          continue;
        }
        if (reaches) {
          const allowed = rule.allowTaskClasses.length > 0 ? ` (only ${rule.allowTaskClasses.join(", ")} tasks may touch it)` : "";
          problems.push({
            kind: "scope-protected",
            taskId: task.id,
            message: `scope ${code(scope)} overlaps the protected path ${code(rule.glob)}${rule.reason ? `: ${rule.reason}` : ""}${allowed}`,
            fix: `narrow the scope so that it cannot match ${code(rule.glob)}`,
          });
        }
      }
    }

    if (limits.repoFiles && EXISTING_CODE_CLASSES.includes(task.taskClass)) {
      const matchers = task.scope.filter((scope) => !scopeLocationProblem(scope)).map((scope) => picomatch(scope, { dot: true }));
      if (matchers.length > 0 && !limits.repoFiles.some((file) => matchers.some((matches) => matches(file)))) {
        problems.push({
          kind: "scope-matches-nothing",
          taskId: task.id,
          message: `no file in the repository matches the scope of ${task.taskClass} task ${code(task.id)} (${task.scope.map(code).join(", ")})`,
          fix: "use paths that exist in the file tree you were shown",
        });
      }
    }

    const cap = limits.budget.perTask;
    if (task.estimate.tokens > cap.tokens) {
      problems.push({
        kind: "estimate-over-task-budget",
        taskId: task.id,
        message: `task ${code(task.id)} is estimated at ${task.estimate.tokens} tokens; the per-task cap is ${cap.tokens}`,
        fix: "split the task or narrow it",
      });
    }
    if (task.estimate.usd > cap.usd) {
      problems.push({
        kind: "estimate-over-task-budget",
        taskId: task.id,
        message: `task ${code(task.id)} is estimated at ${money(task.estimate.usd)}; the per-task cap is ${money(cap.usd)}`,
        fix: "split the task or narrow it",
      });
    }
  }

  const totalTokens = plan.tasks.reduce((sum, task) => sum + task.estimate.tokens, 0);
  // Sum in micro-dollars so that floating-point noise never decides a budget check.
  const totalMicros = plan.tasks.reduce((sum, task) => sum + Math.round(task.estimate.usd * 1e6), 0);
  const requirementCap = limits.budget.perRequirement;
  if (totalTokens > requirementCap.tokens) {
    problems.push({
      kind: "estimate-over-requirement-budget",
      taskId: null,
      message: `the tasks together are estimated at ${totalTokens} tokens; the per-requirement cap is ${requirementCap.tokens}`,
      fix: "plan less work for this requirement, or ask a director to raise the budget",
    });
  }
  if (totalMicros > Math.round(requirementCap.usd * 1e6)) {
    problems.push({
      kind: "estimate-over-requirement-budget",
      taskId: null,
      message: `the tasks together are estimated at ${money(totalMicros / 1e6)}; the per-requirement cap is ${money(requirementCap.usd)}`,
      fix: "plan less work for this requirement, or ask a director to raise the budget",
    });
  }

  return problems.length === 0 ? { ok: true } : { ok: false, problems };
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
