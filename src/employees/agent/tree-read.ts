// The agent's read-only tools: read a file (line-numbered, capped), list a directory, search the tree. The
// whole repository is readable, but every path goes through the path-safe checks: no `..`, no absolute paths,
// no .git, no symlinks (a link could point at the app's own files), nothing that resolves outside the tree.
import { spawn } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { checkRelativePath, resolveInside, safeReadFile, UnsafePathError } from "../../workspace/index.js";
import { cutLine, cutMiddle } from "./observation.js";
import type { ToolOutcome } from "./types.js";

/** A tool's outcome before the toolbox adds its duration. */
export type Step = Omit<ToolOutcome, "durationMs">;

export type ReadLimits = {
  /** Lines one read_file call shows at most. */
  readMaxLines: number;
  /** Files larger than this are not read at all. */
  readMaxFileBytes: number;
  /** Characters of one line shown at most. */
  maxLineChars: number;
  observationBytes: number;
  searchMaxResults: number;
  listMaxEntries: number;
};

function refused(reason: string): Step {
  return { status: "refused", observation: reason };
}

/** An unsafe path's refusal in words for the model, or undefined when `error` is something else. */
export function unsafePathObservation(error: unknown): Step | undefined {
  if (error instanceof UnsafePathError) return refused(`Refused: ${error.message}. Use a repository-relative path inside the tree.`);
  return undefined;
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === "ENOENT" || code === "ENOTDIR";
}

export async function readFileTool(root: string, args: { path: string; start_line?: number; end_line?: number }, limits: ReadLimits): Promise<Step> {
  let text: string;
  let file: string;
  try {
    file = checkRelativePath(args.path).join("/");
    const target = await resolveInside(root, file);
    const stats = await stat(target);
    if (stats.isDirectory()) return { status: "error", observation: `${file} is a directory; use list_dir to see what it holds.` };
    if (stats.size > limits.readMaxFileBytes) {
      return {
        status: "error",
        observation: `${file} has ${stats.size} bytes, over the ${limits.readMaxFileBytes} read_file reads; search it for what you need instead.`,
      };
    }
    text = await safeReadFile(root, file, { maxBytes: limits.readMaxFileBytes });
  } catch (error) {
    if (isMissing(error)) return { status: "error", observation: `${args.path} does not exist; use list_dir or search to find the file you mean.` };
    const unsafe = unsafePathObservation(error);
    if (unsafe) return unsafe;
    throw error;
  }
  if (text.includes("\0")) return { status: "refused", observation: `${file} is a binary file; read_file shows text files only.`, read: [file] };
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return { status: "ok", observation: numbered(file, lines, args, limits), read: [file] };
}

function numbered(file: string, lines: string[], args: { start_line?: number; end_line?: number }, limits: ReadLimits): string {
  if (lines.length === 0) return `${file} is empty.`;
  const start = args.start_line ?? 1;
  if (start > lines.length) return `${file} has ${lines.length} lines; start_line ${start} is past its end.`;
  const wanted = Math.min(args.end_line ?? lines.length, lines.length);
  if (wanted < start) return `end_line ${wanted} is before start_line ${start}; nothing to show.`;
  const width = String(wanted).length;
  const shown: string[] = [];
  let bytes = 0;
  let last = start - 1;
  for (let number = start; number <= wanted && shown.length < limits.readMaxLines; number++) {
    const line = `${String(number).padStart(width)}\t${cutLine(lines[number - 1] ?? "", limits.maxLineChars)}`;
    bytes += Buffer.byteLength(line) + 1;
    if (bytes > limits.observationBytes && shown.length > 0) break;
    shown.push(line);
    last = number;
  }
  const header = `${file} (${lines.length} lines), lines ${start}-${last}:`;
  const rest = last < wanted ? `\n[… lines ${last + 1}-${wanted} not shown: read again with start_line=${last + 1}]` : "";
  return `${header}\n${shown.join("\n")}${rest}`;
}

export async function listDirTool(root: string, args: { path?: string }, limits: ReadLimits): Promise<Step> {
  const wanted = args.path === undefined || args.path === "" || args.path === "." || args.path === "./" ? undefined : args.path;
  let dir = root;
  let name = ".";
  try {
    if (wanted !== undefined) {
      name = checkRelativePath(wanted).join("/");
      dir = await resolveInside(root, name);
    }
    if (!(await stat(dir)).isDirectory()) return { status: "error", observation: `${name} is a file; use read_file to read it.` };
  } catch (error) {
    if (isMissing(error)) return { status: "error", observation: `${name} does not exist; list its parent directory to see what is there.` };
    const unsafe = unsafePathObservation(error);
    if (unsafe) return unsafe;
    throw error;
  }
  const entries = (await readdir(dir, { withFileTypes: true }))
    .filter((entry) => entry.name.toLowerCase() !== ".git")
    .map((entry) => (entry.isDirectory() ? `${entry.name}/` : entry.isSymbolicLink() ? `${entry.name} (symbolic link, not followed)` : entry.name))
    .sort();
  if (entries.length === 0) return { status: "ok", observation: `${name} is empty.` };
  const shown = entries.slice(0, limits.listMaxEntries);
  const more = entries.length > shown.length ? `\n[… ${entries.length - shown.length} more entries not shown]` : "";
  return { status: "ok", observation: cutMiddle(`${name}/ (${entries.length} entries):\n${shown.join("\n")}${more}`, limits.observationBytes).text };
}

const SEARCH_TIMEOUT_MS = 30_000;

/** `git grep` pathspecs for the optional path and glob (git's own glob rules: `**` crosses directories). */
function pathspecs(dir: string | undefined, glob: string | undefined): string[] {
  if (glob === undefined) return dir === undefined ? [] : [`:(literal)${dir}`];
  const prefix = dir === undefined ? "" : `${dir}/`;
  return [`:(glob)${prefix}${glob.includes("/") ? glob : `**/${glob}`}`];
}

export async function searchTool(root: string, args: { pattern: string; path?: string; glob?: string }, limits: ReadLimits): Promise<Step> {
  let dir: string | undefined;
  try {
    if (args.path !== undefined && args.path !== "." && args.path !== "") {
      dir = checkRelativePath(args.path).join("/");
      await resolveInside(root, dir);
    }
    if (args.glob !== undefined && (args.glob.includes("..") || args.glob.startsWith("/") || args.glob.startsWith(":"))) {
      return refused(`Refused: the glob ${JSON.stringify(args.glob)} must stay inside the repository (no .., no leading / or :).`);
    }
  } catch (error) {
    const unsafe = unsafePathObservation(error);
    if (unsafe) return unsafe;
    throw error;
  }
  const result = await gitGrep(root, args.pattern, pathspecs(dir, args.glob), limits.searchMaxResults);
  if (result.error !== undefined) return { status: "error", observation: result.error };
  if (result.matches.length === 0) return { status: "ok", observation: `No matches for ${JSON.stringify(args.pattern)}.` };
  const lines = result.matches.map((match) => `${match.file}:${match.line}: ${cutLine(match.text, limits.maxLineChars)}`);
  const capped = result.capped ? `\n[capped at ${limits.searchMaxResults} matches; there are more: narrow the pattern, or pass path or glob]` : "";
  const files = [...new Set(result.matches.map((match) => match.file))];
  const header = `${result.matches.length}${result.capped ? "+" : ""} matches in ${files.length} file(s):`;
  return { status: "ok", observation: cutMiddle(`${header}\n${lines.join("\n")}${capped}`, limits.observationBytes).text, read: files };
}

type Match = { file: string; line: number; text: string };

/**
 * `git grep --no-index` over the directory: it honours .gitignore, skips binary files and never follows
 * symbolic links (it reads regular files only). Hermetic like every git the app runs; stops reading after
 * `cap` matches.
 */
function gitGrep(root: string, pattern: string, specs: string[], cap: number): Promise<{ matches: Match[]; capped: boolean; error?: string }> {
  const argv = ["-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "grep", "--no-index", "--exclude-standard"];
  argv.push("-n", "-z", "-I", "-E", "--no-color", "-e", pattern, "--", ...specs);
  return new Promise((resolve, reject) => {
    const child = spawn("git", argv, {
      cwd: root,
      env: {
        PATH: "/usr/local/bin:/usr/bin:/bin",
        HOME: "/nonexistent",
        LANG: "C.UTF-8",
        GIT_CONFIG_NOSYSTEM: "1",
        GIT_CONFIG_GLOBAL: "/dev/null",
        GIT_CEILING_DIRECTORIES: path.dirname(root),
      },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: SEARCH_TIMEOUT_MS,
    });
    const matches: Match[] = [];
    let pending = "";
    let stderr = "";
    let capped = false;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (capped) return;
      pending += chunk;
      let newline = pending.indexOf("\n");
      while (newline !== -1) {
        const [file = "", line = "0", ...text] = pending.slice(0, newline).split("\0");
        pending = pending.slice(newline + 1);
        if (matches.length === cap) {
          capped = true;
          child.kill("SIGTERM");
          return;
        }
        matches.push({ file, line: Number(line), text: text.join("\0") });
        newline = pending.indexOf("\n");
      }
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < 4000) stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (capped || code === 0 || code === 1) return resolve({ matches, capped });
      if (signal === "SIGTERM")
        return resolve({
          matches,
          capped: false,
          error: `The search took longer than ${SEARCH_TIMEOUT_MS / 1000} s and was stopped; narrow it with path or glob.`,
        });
      const why = stderr.trim().replace(/^fatal: /, "") || `git grep exited with ${String(code)}`;
      resolve({
        matches: [],
        capped: false,
        error: `The search failed: ${why}. The pattern is a POSIX extended regular expression (no \\d or lookarounds; use [0-9]).`,
      });
    });
  });
}
