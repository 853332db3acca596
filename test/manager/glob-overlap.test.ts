import picomatch from "picomatch";
import { describe, expect, it } from "vitest";
import { globSyntaxProblem, globsOverlap, scopeReachesProtected } from "../../src/manager/glob-overlap.js";
import { seededRandom } from "../../src/manager/seeded-random.js";

describe("brace expansion in globs", () => {
  it.each([
    ["src/{1..3}/**", "src/2/x.ts", true],
    ["src/{1..3}/**", "src/4/**", false],
    ["src/{a..c}.ts", "src/b.ts", true],
    [".github/{actions,{work,flow}s}/x.yml", ".github/works/**", true],
    [".github/{actions,{work,flow}s}/x.yml", ".github/workflows/**", false],
    // An escaped brace, a group without a comma and an unclosed brace are literal, as picomatch reads them.
    ["a/\\{b,c\\}/d", "a/b/d", false],
    ["a/{b}/d", "a/b/d", false],
    ["a/{b}/d", "a/\\{b\\}/d", true],
    ["a{b/c", "a\\{b/c", true],
    // A comma inside a class separates no alternatives.
    ["a/{[b,c],d}", "a/,", true],
    ["a/{[b,c],d}", "a/[b", false],
    ["a/{,b}/c", "a/c", true],
  ])("%s and %s overlap: %s", (a, b, expected) => {
    const result = [globsOverlap(a, b), globsOverlap(b, a)];

    expect(result).toEqual([expected, expected]);
  });

  it("agrees with picomatch on the paths a brace glob matches", () => {
    const globs = ["src/{1..3}/**", "{a,b/{c,d}}/*.ts", "x/{[ab],c}y", "a/\\{b,c\\}", "a/{b}"];
    const paths = ["src/1/x", "src/3/a/b", "src/4/x", "a/z.ts", "b/c/z.ts", "b/e/z.ts", "x/ay", "x/cy", "x/,y", "a/{b,c}", "a/b", "a/{b}"];

    for (const glob of globs) {
      const expected = paths.filter((p) => picomatch(glob, { dot: true })(p));
      const reached = paths.filter((p) => globsOverlap(glob, p.replace(/[{}[\]*?]/g, "\\$&")));
      expect(reached, glob).toEqual(expected);
    }
  });

  it("refuses, rather than expands, a glob of more than 256 alternatives or a range longer than 256 values", () => {
    const tooMany = "src/{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}/**";
    const longRange = "src/{1..100000}/**";
    const atLimit = "src/{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}/**";

    expect(() => globsOverlap(tooMany, "src/x")).toThrow(/may expand to more than 256 alternatives/);
    expect(() => globsOverlap(longRange, "src/x")).toThrow(/has a brace range of more than 256 values/);
    expect(globsOverlap(atLimit, "src/abababab/x")).toBe(true);
  });
});

describe("glob overlap", () => {
  it.each([
    ["**", ".github/workflows/**", true],
    [".github/**", ".github/workflows/**", true],
    [".github/*/ci.yml", ".github/workflows/**", true],
    ["*/workflows/deploy.yml", ".github/workflows/**", true],
    [".github/workflow[s]/x.yml", ".github/workflows/**", true],
    [".github/{actions,workflows}/x.yml", ".github/workflows/**", true],
    ["./.github//workflows/", ".github/workflows/**", true],
    [".github/workflow[^s]/x.yml", ".github/workflows/**", false],
    [".github/ISSUE_TEMPLATE/**", ".github/workflows/**", false],
    ["src/**", ".github/workflows/**", false],
    ["a/**/c", "a/c", true],
    ["a/*/c", "a/b/*", true],
    ["*.ts", "*.js", false],
    ["src/[a-c]*.ts", "src/d*.ts", false],
    ["src/[a-d]*.ts", "src/d*.ts", true],
  ])("%s and %s overlap: %s", (a, b, expected) => {
    const result = [globsOverlap(a, b), globsOverlap(b, a)];

    expect(result).toEqual([expected, expected]);
  });

  it.each([
    [".github", ".github/workflows/**", true],
    ["docs/CODEOWNERS", "**/CODEOWNERS", true],
    ["CODEOWNER?", "**/CODEOWNERS", true],
    ["{src/index.ts,CODEOWNERS}", "**/CODEOWNERS", true],
    ["**/package-lock.json", "**/package-lock.json", true],
    ["vitest.config.*", "**/vitest.config.*", true],
    ["src/**", "**/CODEOWNERS", false],
    ["src/*", "**/CODEOWNERS", false],
    ["src/**/*.ts", "**/vitest.config.*", false],
    ["*.json", "**/package-lock.json", false],
  ])("scope %s reaches protected %s: %s", (scope, protectedGlob, expected) => {
    const result = scopeReachesProtected(scope, protectedGlob);

    expect(result).toBe(expected);
  });

  it("never misses an overlap picomatch (dot: true) can witness, and rarely over-reports, over 400 random glob pairs", () => {
    const random = seededRandom("glob-universe");
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
    const segmentPieces = ["a", "b", ".", "*", "?", "[ab]", "[^a]"];
    const randomSegment = () => {
      if (random() < 0.2) return "**";
      const segment = Array.from({ length: 1 + Math.floor(random() * 2) }, () => pick(segmentPieces)).join("");
      return segment === "." || segment === ".." ? "a" : segment;
    };
    const randomGlob = () => Array.from({ length: 1 + Math.floor(random() * 3) }, randomSegment).join("/");
    // Every name of one or two characters over {a, b, .}, in paths of up to four segments: enough to contain a
    // common path whenever two globs of up to three two-token segments overlap at all.
    const letters = ["a", "b", "."];
    const names = [...letters, ...letters.flatMap((x) => letters.map((y) => x + y))].filter((name) => name !== "." && name !== "..");
    let paths = names;
    for (let depth = 1; depth < 4; depth++) paths = [...names, ...paths.flatMap((p) => names.map((n) => `${p}/${n}`))];
    paths = [...new Set(paths)];

    const missed: string[] = [];
    let disjoint = 0;
    let overReported = 0;
    for (let i = 0; i < 400; i++) {
      const left = randomGlob();
      const right = randomGlob();
      const l = picomatch(left, { dot: true });
      const r = picomatch(right, { dot: true });
      const witness = paths.some((p) => l(p) && r(p));
      const overlap = globsOverlap(left, right);
      if (witness && !overlap) missed.push(`${left} ∩ ${right}`);
      if (!witness) disjoint++;
      if (!witness && overlap) overReported++;
    }

    // Over-reporting is the safe side and comes from picomatch quirks (`*/**` does not match `a` though `a/**`
    // does) and from segments that could only be "." or "..". Missing an overlap would be a hole.
    expect(missed).toEqual([]);
    expect(disjoint).toBeGreaterThan(100);
    expect(overReported / disjoint).toBeLessThan(0.05);
  });
});

describe("globSyntaxProblem", () => {
  it.each([
    ["src/**/*.ts", undefined],
    ["!src/**", "is a negated glob"],
    ["src/{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}{a,b}/**", "may expand to more than 256 alternatives"],
    ["src/@(a|b).ts", "extglob"],
    ["./", "names no path"],
  ])("says why %s cannot be analysed: %s", (glob, expected) => {
    const problem = globSyntaxProblem(glob);

    if (expected === undefined) expect(problem).toBeUndefined();
    else expect(problem).toContain(expected);
  });
});
