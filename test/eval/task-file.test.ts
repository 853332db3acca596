import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatTaskLine, parseTaskLines, readTaskFile, TaskFileError, type EvalTask } from "../../src/eval/task-file.js";
import { useTempDir } from "../workspace/git-fixture.js";

const temp = useTempDir("aura-eval-tasks-");

/** One instance as SWE-bench's own files hold it: the two test lists are JSON-encoded strings. */
const sweBenchLine = {
  repo: "astropy/astropy",
  instance_id: "astropy__astropy-12907",
  base_commit: "d16bfe05a744909de4b27f5875fe0d4ed41ce607",
  patch: "diff --git a/astropy/modeling/separable.py b/astropy/modeling/separable.py\n",
  test_patch: "diff --git a/astropy/modeling/tests/test_separable.py b/astropy/modeling/tests/test_separable.py\n",
  problem_statement: "Modeling's `separability_matrix` does not compute separability correctly for nested CompoundModels",
  hints_text: "",
  created_at: "2022-03-03T15:14:54Z",
  version: "4.3",
  FAIL_TO_PASS: '["astropy/modeling/tests/test_separable.py::test_separable[compound_model6-result6]"]',
  PASS_TO_PASS: '["astropy/modeling/tests/test_separable.py::test_coord_matrix", "astropy/modeling/tests/test_separable.py::test_cdot"]',
  environment_setup_commit: "298ccb478e6bf092953bca67a3d29dc6c35f6752",
};

function fileWith(lines: string[]): string {
  const file = path.join(temp.dir, `tasks-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

async function failure(file: string): Promise<TaskFileError> {
  const error = await readTaskFile(file).catch((caught: unknown) => caught);
  if (!(error instanceof TaskFileError)) throw new Error(`expected a TaskFileError, got ${String(error)}`);
  return error;
}

describe("the eval task file", () => {
  it("reads a SWE-bench file whose test lists are JSON-encoded strings, keeping unknown fields out", async () => {
    const file = fileWith([JSON.stringify(sweBenchLine), "", JSON.stringify({ ...sweBenchLine, instance_id: "astropy__astropy-13033" })]);

    const tasks = await readTaskFile(file);

    expect(tasks.map((task) => task.instance_id)).toEqual(["astropy__astropy-12907", "astropy__astropy-13033"]);
    expect(tasks[0]?.FAIL_TO_PASS).toEqual(["astropy/modeling/tests/test_separable.py::test_separable[compound_model6-result6]"]);
    expect(tasks[0]?.PASS_TO_PASS).toHaveLength(2);
    expect(tasks[0]?.created_at).toBe("2022-03-03T15:14:54Z");
    expect(tasks[0]).not.toHaveProperty("hints_text");
  });

  it("writes lines that read back the same, the test lists as arrays", () => {
    const task: EvalTask = {
      instance_id: "demo-1",
      repo: "demo",
      base_commit: "a".repeat(40),
      patch: "p",
      test_patch: "t",
      problem_statement: "Fix add",
      FAIL_TO_PASS: ["adds"],
      PASS_TO_PASS: [],
      test_command: "node --test",
      test_unit: "test",
      task_class: "bugfix",
    };

    const line = formatTaskLine(task);

    expect(line.endsWith("\n")).toBe(true);
    expect(JSON.parse(line)).toMatchObject({ FAIL_TO_PASS: ["adds"], PASS_TO_PASS: [] });
    expect(parseTaskLines(line)).toEqual([task]);
  });

  it("names the line and the field that is missing", async () => {
    const { problem_statement: _dropped, ...withoutStatement } = sweBenchLine;
    const file = fileWith([JSON.stringify(sweBenchLine), JSON.stringify({ ...withoutStatement, instance_id: "x-2" })]);

    const error = await failure(file);

    expect(error.line).toBe(2);
    expect(error.field).toBe("problem_statement");
    expect(error.message).toBe(
      `${file}, line 2, field problem_statement: missing (a SWE-bench instance needs it). Nothing was run; fix the line and try again.`,
    );
  });

  it("names a line that is not JSON, one that is not an object, and a test list that is not a list", async () => {
    const badJson = await failure(fileWith([JSON.stringify(sweBenchLine), "{not json"]));
    const notObject = await failure(fileWith(["[1, 2]"]));
    const badList = await failure(fileWith([JSON.stringify({ ...sweBenchLine, FAIL_TO_PASS: "test_a" })]));

    expect(badJson.line).toBe(2);
    expect(badJson.message).toMatch(/line 2: not valid JSON/);
    expect(notObject.message).toMatch(/line 1: not a JSON object/);
    expect(badList.field).toBe("FAIL_TO_PASS");
    expect(badList.message).toMatch(/must be a list of test names/);
  });

  it("refuses a repeated instance_id, naming both lines", async () => {
    const file = fileWith([JSON.stringify(sweBenchLine), JSON.stringify({ ...sweBenchLine, problem_statement: "again" })]);

    const error = await failure(file);

    expect(error.message).toMatch(/line 2, field instance_id: "astropy__astropy-12907" repeats the instance of line 1/);
  });

  it("says when the file does not exist", async () => {
    const error = await failure(path.join(temp.dir, "nowhere.jsonl"));

    expect(error.message).toMatch(/nowhere\.jsonl: no such file\. Nothing was run; fix the path/);
  });
});
