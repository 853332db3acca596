// The eval task file: SWE-bench instances as JSON lines (`instance_id`, `repo`, `base_commit`, `patch`,
// `test_patch`, `problem_statement`, `FAIL_TO_PASS`, `PASS_TO_PASS`), plus optional fields of ours. Files made by
// SWE-bench store the two test lists as JSON-encoded strings; ours store arrays; both are read. A file is read
// whole before anything runs: a bad line, a missing field or a repeated instance_id stops it with one message.
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { TaskClass } from "../config/policy-files.js";

/** A list of test names, as a JSON array or (SWE-bench's own files) a string holding one. */
const TestList = z.preprocess(
  (value) => {
    if (typeof value !== "string") return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  },
  z.array(z.string(), { error: "must be a list of test names (a JSON array, or a string holding one)" }),
);

export const EvalTask = z.object({
  instance_id: z.string().min(1),
  /** `owner/name` on GitHub, or the local repository's directory name for mined tasks. */
  repo: z.string().min(1),
  base_commit: z.string().regex(/^[0-9a-f]{7,40}$/, "must be a commit SHA"),
  /** The source part of the change: what the employee has to write. */
  patch: z.string(),
  /** The test part: hidden from the employee, applied only to grade. */
  test_patch: z.string().min(1),
  problem_statement: z.string().min(1),
  FAIL_TO_PASS: TestList,
  PASS_TO_PASS: TestList,
  /** Ours, all optional. When the task was made (ISO 8601), as in SWE-bench files. */
  created_at: z.string().optional(),
  /** The command that runs the tests in the sandbox (no network). */
  test_command: z.string().min(1).optional(),
  /** The command that prepares the tree before the tests (may reach the package registry when allowed). */
  setup_command: z.string().min(1).optional(),
  /** What FAIL_TO_PASS and PASS_TO_PASS name: single tests from the runner's output, or whole test files. */
  test_unit: z.enum(["test", "file"]).optional(),
  task_class: TaskClass.optional(),
  /** The commit the task was mined from (the change's own commit). */
  source_commit: z.string().optional(),
});
export type EvalTask = z.infer<typeof EvalTask>;

/** A task file that cannot be used; `line` is 1-based, `field` the first offending field when there is one. */
export class TaskFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly field: string | undefined,
    problem: string,
  ) {
    const where = line === undefined ? file : `${file}, line ${line}${field ? `, field ${field}` : ""}`;
    super(`${where}: ${problem}. Nothing was run; fix ${line === undefined ? "the path" : "the line"} and try again.`);
    this.name = "TaskFileError";
  }
}

function issueText(issue: z.core.$ZodIssue, value: unknown): { field: string | undefined; problem: string } {
  const field = issue.path.length > 0 ? issue.path.map(String).join(".") : undefined;
  const missing = field !== undefined && typeof value === "object" && value !== null && !(String(issue.path[0]) in value);
  return { field, problem: missing ? "missing (a SWE-bench instance needs it)" : issue.message };
}

/** Parses the text of a task file; throws TaskFileError at the first bad line. Blank lines are skipped. */
export function parseTaskLines(text: string, file = "tasks"): EvalTask[] {
  const tasks: EvalTask[] = [];
  const seen = new Map<string, number>();
  const lines = text.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    const number = index + 1;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new TaskFileError(file, number, undefined, `not valid JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new TaskFileError(file, number, undefined, "not a JSON object; each line holds one task instance");
    }
    const parsed = EvalTask.safeParse(value);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      const { field, problem } = first ? issueText(first, value) : { field: undefined, problem: "invalid" };
      throw new TaskFileError(file, number, field, problem);
    }
    const earlier = seen.get(parsed.data.instance_id);
    if (earlier !== undefined) {
      throw new TaskFileError(file, number, "instance_id", `${JSON.stringify(parsed.data.instance_id)} repeats the instance of line ${earlier}`);
    }
    seen.set(parsed.data.instance_id, number);
    tasks.push(parsed.data);
  }
  return tasks;
}

/** Reads and validates a whole task file (see parseTaskLines). */
export async function readTaskFile(file: string): Promise<EvalTask[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TaskFileError(file, undefined, undefined, code === "ENOENT" ? "no such file" : `cannot be read (${code ?? String(error)})`);
  }
  return parseTaskLines(text, file);
}

/** One task as a line of the file: validated, test lists as arrays, with a trailing newline. */
export function formatTaskLine(task: EvalTask): string {
  return `${JSON.stringify(EvalTask.parse(task))}\n`;
}
