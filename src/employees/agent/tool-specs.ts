// The agent's tools as the model sees them: a snake_case name, a description written for the model, and a
// strict zod object schema for the arguments. The same specs go to every provider (tool-calling.ts).
import { z } from "zod";
import type { ToolSpec } from "../../models/tool-calling.js";

const RepoPath = z.string().min(1).max(1000);

export const RunCommandArgs = z.strictObject({
  command: z.string().min(1).max(8000).describe("A shell command (POSIX sh), run from the repository root"),
});
export const ReadFileArgs = z.strictObject({
  path: RepoPath.describe("Repository-relative path with forward slashes, e.g. src/login.js"),
  start_line: z.number().int().min(1).optional().describe("First line to show (1-based); default 1"),
  end_line: z.number().int().min(1).optional().describe("Last line to show (inclusive); default: as far as the cap allows"),
});
export const SearchArgs = z.strictObject({
  pattern: z.string().min(1).max(1000).describe("A POSIX extended regular expression (as `grep -E`), e.g. login\\(|signIn"),
  path: RepoPath.optional().describe("Search only under this file or directory; default: the whole repository"),
  glob: z.string().min(1).max(200).optional().describe("Search only files whose path matches this glob, e.g. *.ts or test/**/*.js"),
});
export const ListDirArgs = z.strictObject({
  path: RepoPath.optional().describe("Repository-relative directory; default: the repository root"),
});
export const EditFileArgs = z.strictObject({
  path: RepoPath.describe("Repository-relative path of an existing file"),
  search: z.string().min(1).describe("Exact current text of the file, whitespace included; must occur exactly once"),
  replace: z.string().describe("The text that takes its place"),
});
export const CreateFileArgs = z.strictObject({
  path: RepoPath.describe("Repository-relative path; missing directories are created"),
  content: z.string().describe("The complete content of the file"),
});
export const DeleteFileArgs = z.strictObject({
  path: RepoPath.describe("Repository-relative path of the file to delete"),
});
export const RunTestsArgs = z.strictObject({});
export const RequestScopeArgs = z.strictObject({
  paths: z.array(RepoPath).min(1).max(20).describe("Repository-relative files or globs you need to edit, e.g. src/auth/email.js"),
  reason: z.string().min(1).max(2000).describe("Why the task needs to change them"),
});
export const SubmitArgs = z.strictObject({
  summary: z.string().min(1).max(4000).describe("What you changed and why"),
  tested: z.string().min(1).max(2000).describe("What you ran to check it, and what it showed"),
  remaining: z.string().max(2000).describe("What is left undone or uncertain; empty when nothing is"),
});

/** Every tool name, in the order the model sees them. */
export const TOOL_NAMES = [
  "run_command",
  "read_file",
  "search",
  "list_dir",
  "edit_file",
  "create_file",
  "delete_file",
  "run_tests",
  "request_scope",
  "submit",
] as const;
export type ToolName = (typeof TOOL_NAMES)[number];

export const TOOL_ARGS = {
  run_command: RunCommandArgs,
  read_file: ReadFileArgs,
  search: SearchArgs,
  list_dir: ListDirArgs,
  edit_file: EditFileArgs,
  create_file: CreateFileArgs,
  delete_file: DeleteFileArgs,
  run_tests: RunTestsArgs,
  request_scope: RequestScopeArgs,
  submit: SubmitArgs,
} as const satisfies Record<ToolName, z.ZodObject>;

export type ToolArgs<Name extends ToolName> = z.infer<(typeof TOOL_ARGS)[Name]>;

/** The descriptions name the limits the toolbox was built with, so the model knows what it will see. */
export type SpecLimits = { commandTimeoutMs: number; observationBytes: number; readMaxLines: number; searchMaxResults: number };

export function toolSpecs(limits: SpecLimits): ToolSpec[] {
  const seconds = Math.round(limits.commandTimeoutMs / 1000);
  const kib = Math.round(limits.observationBytes / 1024);
  const descriptions: Record<ToolName, string> = {
    run_command:
      `Run one shell command in a sandbox at the repository root: no network, stopped after ${seconds} s. ` +
      "Each call is a fresh process: cd, exports and shell variables do not carry over to the next call (chain with && instead). " +
      `You get the exit code and the output (stdout and stderr together); output over ${kib} KiB keeps its start and end. ` +
      "Files a command changes are NOT part of your work: change files only with edit_file, create_file and delete_file.",
    read_file:
      `Read a text file of the repository with line numbers, at most ${limits.readMaxLines} lines per call; ` +
      "use start_line and end_line for a part of a long file. Any file of the repository may be read.",
    search:
      `Search the repository's text files for a regular expression (POSIX extended, like grep -E); ` +
      `returns path:line: text, at most ${limits.searchMaxResults} matches. Ignored files (.gitignore) and binary files are skipped.`,
    list_dir: "List a directory of the repository; directories end in /.",
    edit_file:
      "Replace text in an existing file: `search` must be copied exactly from the current file (read it first) and occur exactly once; " +
      "include enough surrounding lines to make it unique. Only files inside the task's scope may be edited.",
    create_file: "Create a file, or replace a whole file with new content. Only paths inside the task's scope may be written.",
    delete_file: "Delete a file inside the task's scope.",
    run_tests:
      "Run the repository's setup and test commands in the sandbox and see the result. The app runs them again itself after you submit; that run is what counts.",
    request_scope:
      "Ask to widen the task's edit scope when the fix needs files outside it. Each path is granted or refused with a reason; granted paths can then be edited.",
    submit:
      "Finish the task: say what you changed, what you tested, and what is left. Call it once, when your change is complete (or when you cannot go further).",
  };
  return TOOL_NAMES.map((name) => ({ name, description: descriptions[name], parameters: TOOL_ARGS[name] }));
}
