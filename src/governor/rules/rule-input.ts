// What every rule evaluator receives and returns, plus the helpers they share: cached glob matchers, cached
// patch parsing, and the "never pass blind" checks for truncated file lists and missing patches.
import picomatch from "picomatch";
import { parsePatch, type ParsedPatch } from "../patch.js";
import type { ChangedFile, PullContext } from "../pull-context.js";
import type { Finding, RuleState } from "../verdict.js";

export interface RuleOutcome {
  state: Exclude<RuleState, "overridden">;
  summary: string;
  findings: Finding[];
  notes: string[];
}

export type Matcher = (path: string) => boolean;

// Packs are small and reused across evaluations, so compiling each glob list once per process is the cheap
// path to matching 3,000 files in a few milliseconds.
const matcherCache = new Map<string, Matcher>();

export function globMatcher(globs: readonly string[]): Matcher {
  if (globs.length === 0) return () => false;
  const key = JSON.stringify(globs);
  let matcher = matcherCache.get(key);
  if (!matcher) {
    matcher = picomatch([...globs], { dot: true });
    matcherCache.set(key, matcher);
  }
  return matcher;
}

const regexCache = new Map<string, RegExp>();

/** Compiles a pattern from the pack (already validated by the schema) once per process. */
export function patternRegex(source: string): RegExp {
  let regex = regexCache.get(source);
  if (!regex) {
    regex = new RegExp(source, "u");
    regexCache.set(source, regex);
  }
  return regex;
}

/**
 * A test for "does any of these patterns match?", as one alternation compiled once per process. Patterns with
 * back-references are tested one by one, because joining them would renumber their groups.
 */
export function anyOf(sources: readonly string[]): (text: string) => boolean {
  if (sources.some((source) => /\\(?:[1-9]|k<)/.test(source))) {
    const each = sources.map(patternRegex);
    return (text) => each.some((regex) => regex.test(text));
  }
  const combined = patternRegex(sources.map((source) => `(?:${source})`).join("|"));
  return (text) => combined.test(text);
}

/** Per-evaluation view of the context that the rule evaluators share. */
export class RuleInput {
  readonly ctx: PullContext;
  /** GitHub says more files changed than it listed, and no local diff filled the gap. */
  readonly filesIncomplete: boolean;
  private readonly parsed = new Map<ChangedFile, ParsedPatch>();

  constructor(ctx: PullContext) {
    this.ctx = ctx;
    this.filesIncomplete = ctx.diffSource === "api" && ctx.totalChangedFiles > ctx.files.length;
  }

  get taskClass(): string | undefined {
    return this.ctx.task?.taskClass;
  }

  /** The file has changed lines we cannot see: the API left its patch out. A local diff's are binaries. */
  lacksPatch(file: ChangedFile): boolean {
    return file.patch === undefined && this.ctx.diffSource === "api" && file.additions + file.deletions > 0;
  }

  /** The file's added and removed lines; empty when it has no patch. */
  patchOf(file: ChangedFile): ParsedPatch {
    let parsed = this.parsed.get(file);
    if (!parsed) {
      parsed = file.patch === undefined ? { added: [], removed: [] } : parsePatch(file.patch);
      this.parsed.set(file, parsed);
    }
    return parsed;
  }

  /** Where to pin a finding about a whole file: its first added line, else its first removed line. */
  locate(file: ChangedFile): Pick<Finding, "line" | "side"> {
    const { added, removed } = this.patchOf(file);
    const firstAdded = added[0];
    if (firstAdded) return { line: firstAdded.line, side: "RIGHT" };
    const firstRemoved = removed[0];
    if (firstRemoved) return { line: firstRemoved.line, side: "LEFT" };
    return {};
  }

  incompleteFilesReason(): string {
    return `GitHub listed ${this.ctx.files.length} of ${this.ctx.totalChangedFiles} changed files and no local diff was supplied`;
  }
}

export function missingPatchReason(files: readonly ChangedFile[]): string {
  const names = files.slice(0, 3).map((file) => file.filename);
  const more = files.length > 3 ? ` and ${files.length - 3} more` : "";
  return `GitHub gave no patch for ${names.join(", ")}${more} and no local diff was supplied`;
}

/** Both names of a renamed or copied file, so moving a file out of (or into) a guarded path counts. */
export function namesOf(file: ChangedFile): string[] {
  return file.previousFilename && file.previousFilename !== file.filename ? [file.filename, file.previousFilename] : [file.filename];
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}
