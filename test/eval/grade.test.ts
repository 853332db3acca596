// Grading one attempt in the sandbox on a real history (mine-fixture.ts): where its scratch repository lives and
// that a caller can take over its removal (aura eval run removes it while the slot's next attempt starts).
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { gradeAttempt } from "../../src/eval/grade.js";
import type { EvalTask } from "../../src/eval/task-file.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { hermeticGitEnv, useTempDir } from "../workspace/git-fixture.js";
import { buildMinedHistory } from "./mine-fixture.js";

const temp = useTempDir("aura-grade-");
const probe = probeBwrap();

describe.skipIf(!probe.ok)(`grading an attempt${probe.ok ? "" : " (skipped: bubblewrap does not work here)"}`, () => {
  it("makes its scratch repository under the folder it is given and hands its removal to the caller", async () => {
    const history = buildMinedHistory(temp.dir);
    const diff = (...paths: string[]) =>
      execFileSync("git", ["diff", "--no-color", "--full-index", history.shas.root, history.shas.fixAdd, "--", ...paths], {
        cwd: history.repo,
        env: hermeticGitEnv,
        encoding: "utf8",
      });
    const task: EvalTask = {
      instance_id: "calc-add",
      repo: "calc",
      base_commit: history.shas.root,
      patch: diff("src"),
      test_patch: diff("test"),
      problem_statement: "add() subtracts.",
      FAIL_TO_PASS: ["adds"],
      PASS_TO_PASS: ["multiplies"],
      test_command: "node --test",
    };
    const work = path.join(temp.dir, "work");
    mkdirSync(work);
    const removals: Promise<void>[] = [];

    const grade = await gradeAttempt({
      task,
      source: { gitDir: path.join(history.repo, ".git"), protocols: [] },
      heads: [history.shas.fixAdd],
      sandbox: { allowUnsandboxed: false },
      scratchParent: work,
      deferRemoval: (removal) => removals.push(removal),
    });
    const [scratch] = readdirSync(work);
    const scratchBefore = scratch !== undefined && existsSync(path.join(work, scratch));
    await Promise.all(removals);

    expect(grade).toMatchObject({ resolved: true, reason: "all 1 FAIL_TO_PASS and 1 PASS_TO_PASS tests pass" });
    expect(scratch).toMatch(/^aura-eval-/);
    expect(scratchBefore).toBe(true);
    expect(removals).toHaveLength(1);
    expect(readdirSync(work)).toEqual([]);
  });
});
