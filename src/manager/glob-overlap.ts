// Exact glob-versus-glob intersection for plan scopes: whether some repository path matches both of two globs,
// and whether a task scope reaches a protected path. Braces expand through `braces`; the rest is parsed here.
// A glob is a list of path segments; a segment is `**` (any number of whole segments, including none) or a
// pattern of literal characters, `?`, `*` and `[...]` classes. Wildcards are treated as matching dot-files too:
// for a safety check, over-matching is the safe side (picomatch's default `dot: false` would let `**` slip past
// `.github/**`).
import braces from "braces";
import { unsupportedGlobSyntax } from "../config/policy-files.js";

type CharToken = { kind: "literal"; char: string } | { kind: "any" } | { kind: "star" } | { kind: "class"; negated: boolean; ranges: [number, number][] };

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

/** Why the overlap check cannot analyse `glob` (a sentence fragment after the glob), or undefined when it can. */
export function globSyntaxProblem(glob: string): string | undefined {
  try {
    parseGlob(glob);
    return undefined;
  } catch (error) {
    return error instanceof GlobSyntaxError ? error.reason : String(error);
  }
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
  return sequencesIntersect(
    a,
    b,
    (segment) => segment.kind === "globstar",
    (x, y) => patternsIntersect(tokens(x), tokens(y)),
  );
}

/** True when some repository path matches both globs (wildcards match dot-files). Throws GlobSyntaxError. */
export function globsOverlap(a: string, b: string): boolean {
  const left = parseGlob(a);
  const right = parseGlob(b);
  return left.some((x) => right.some((y) => segmentListsIntersect(x, y)));
}

const isWildcardFree = (segment: Segment | undefined) => segment?.kind === "pattern" && segment.tokens.every((token) => token.kind === "literal");

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
