import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { readTaskFile } from "../../src/eval/task-file.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { hermeticGitEnv, sh, useTempDir } from "../workspace/git-fixture.js";
import { buildMinedHistory, type MinedHistory } from "./mine-fixture.js";

const execFileAsync = promisify(execFile);
const probe = probeBwrap();
const temp = useTempDir("aura-eval-mine-");
const AURA = path.resolve("bin/aura.js");

type CliRun = { code: number; stdout: string; stderr: string };

/** `aura eval mine …` as a person runs it: a child process in a folder of its own, with a plain environment. */
async function mine(...args: string[]): Promise<CliRun> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [AURA, "eval", "mine", ...args], {
      cwd: temp.dir,
      env: { PATH: hermeticGitEnv.PATH, HOME: temp.dir, LOG_LEVEL: "silent" },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function summaryOf(run: CliRun): {
  examined: number;
  candidates: number;
  kept: string[];
  notTried: number;
  sandboxRuns: number;
  rejected: { sha: string; reason: string }[];
  skipped: Record<string, number>;
} {
  return JSON.parse(run.stdout) as ReturnType<typeof summaryOf>;
}

function repoState(repo: string): string {
  return [
    sh(repo, "status", "--porcelain=v1", "--untracked-files=all"),
    sh(repo, "for-each-ref"),
    sh(repo, "worktree", "list", "--porcelain"),
    readFileSync(path.join(repo, "README.md"), "utf8"),
  ].join("\n");
}

describe.skipIf(!probe.ok)(`aura eval mine in the sandbox${probe.ok ? "" : " (skipped: bubblewrap does not work here)"}`, () => {
  let history: MinedHistory;
  const id = (sha: string) => `calc-${sha.slice(0, 12)}`;

  beforeAll(() => {
    history = buildMinedHistory(temp.dir);
    // A person's uncommitted work, which mining must leave alone.
    writeFileSync(path.join(history.repo, "README.md"), "# calc, being edited\n");
    writeFileSync(path.join(history.repo, "notes.txt"), "untracked\n");
  });

  it("keeps the fixes with their new tests as FAIL_TO_PASS and rejects, with reasons, a test that already passed and a change that breaks another test", async () => {
    const before = repoState(history.repo);
    const out = path.join(temp.dir, "all.jsonl");

    const run = await mine(history.repo, "--out", out, "--json");

    expect(run.code, run.stderr).toBe(0);
    const summary = summaryOf(run);
    expect(summary).toMatchObject({ examined: 6, candidates: 4, kept: [id(history.shas.fixMul), id(history.shas.fixAdd)], notTried: 0, sandboxRuns: 8 });
    expect(summary.skipped).toMatchObject({ "root commit": 1, "no test change": 1 });
    expect(summary.rejected).toEqual([
      {
        sha: history.shas.square,
        reason: expect.stringMatching(/^PASS_TO_PASS violated: "multiplies" passed on the parent with the test changes and fails/) as string,
      },
      { sha: history.shas.tidy, reason: "the tests already pass on the parent with only the test changes applied" },
    ]);
    const tasks = await readTaskFile(out);
    const fixAdd = tasks.find((task) => task.source_commit === history.shas.fixAdd);
    expect(fixAdd).toMatchObject({
      instance_id: id(history.shas.fixAdd),
      repo: "calc",
      base_commit: history.shas.root,
      problem_statement: "Fix add: it subtracted\n\nadd(2, 3) returned -1.",
      FAIL_TO_PASS: ["adds"],
      PASS_TO_PASS: ["multiplies"],
      test_command: "node --test",
      test_unit: "test",
      task_class: "bugfix",
      created_at: "2024-01-02T12:00:00.000Z",
    });
    expect(fixAdd?.test_patch).toMatch(/^diff --git a\/test\/add\.test\.js b\/test\/add\.test\.js/);
    expect(fixAdd?.test_patch).not.toContain("diff --git a/src/");
    expect(fixAdd?.patch).toMatch(/^diff --git a\/src\/math\.js b\/src\/math\.js/);
    expect(fixAdd?.patch).not.toContain("diff --git a/test/");
    expect(tasks.find((task) => task.source_commit === history.shas.fixMul)?.FAIL_TO_PASS).toEqual(["multiplies", "multiplies negatives"]);
    expect(repoState(history.repo)).toBe(before);
  }, 60_000);

  it("--limit stops once that many tasks are kept; without --out the tasks go to standard output and the summary to standard error", async () => {
    const run = await mine(history.repo, "--limit", "1");

    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? "")).toMatchObject({ instance_id: id(history.shas.fixMul), FAIL_TO_PASS: ["multiplies", "multiplies negatives"] });
    expect(run.stderr).toContain("Examined 6 commits of calc");
    expect(run.stderr).toContain("Kept 1 task; rejected 0; 3 not tried (--limit reached). 2 sandbox runs");
  }, 30_000);

  it("--since examines only the commits made from that date on", async () => {
    const run = await mine(history.repo, "--since", "2024-01-05", "--json", "--out", path.join(temp.dir, "since.jsonl"));

    expect(run.code, run.stderr).toBe(0);
    const summary = summaryOf(run);
    expect(summary).toMatchObject({ examined: 2, candidates: 2, kept: [id(history.shas.fixMul)], sandboxRuns: 4 });
    expect(summary.skipped["before --since"]).toBe(4);
    expect(summary.rejected.map((rejection) => rejection.sha)).toEqual([history.shas.square]);
  }, 30_000);
});

describe("aura eval mine refuses input it cannot use, with one message, before anything runs", () => {
  function repoWith(name: string, files: Record<string, string>[]): string {
    const repo = path.join(temp.dir, name);
    mkdirSync(repo);
    sh(repo, "init", "--quiet", "--initial-branch=main");
    for (const [index, commitFiles] of files.entries()) {
      for (const [file, content] of Object.entries(commitFiles)) {
        mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
        writeFileSync(path.join(repo, file), content);
      }
      sh(repo, "add", "--all");
      sh(repo, "commit", "--quiet", "-m", `commit ${index + 1}`);
    }
    return repo;
  }

  async function refused(name: string, ...args: string[]): Promise<string> {
    const out = path.join(temp.dir, `${name}.jsonl`);
    const run = await mine(...args, "--out", out);
    expect(run.code, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toBe("");
    expect(existsSync(out)).toBe(false);
    return run.stderr.trim();
  }

  it("a path that is not a git repository", async () => {
    const plain = path.join(temp.dir, "plain");
    mkdirSync(plain);

    const message = await refused("plain", plain);

    expect(message).toBe(`${plain} is not a git repository (no .git found there). Give the path of a repository's top folder.`);
  });

  it("a repository without a test command", async () => {
    const repo = repoWith("no-tests", [
      { "package.json": '{"scripts":{"test":"echo \\"Error: no test specified\\" && exit 1"}}\n', "src/a.js": "1\n" },
      { "src/a.js": "2\n", "test/a.test.js": "3\n" },
    ]);

    const message = await refused("no-tests", repo);

    expect(message).toBe(
      `${repo} has no test command at HEAD: set \`test:\` in .github/aura.yml (and \`setup:\` if the tests need one), or add a "test" script to package.json. Nothing was run.`,
    );
  });

  it("a history with no commit that changes tests and source together", async () => {
    const repo = repoWith("docs-only", [
      { ".github/aura.yml": "test: node --test\n", "src/a.js": "1\n" },
      { "README.md": "# a\n" },
      { "test/a.test.js": "3\n" },
    ]);

    const message = await refused("docs-only", repo);

    expect(message).toMatch(/^No candidate in 3 commits of .*docs-only: none changes tests \(test\/, tests\/.*\) and source together\. Nothing was written\.$/);
  });

  it("a malformed --limit or --since", async () => {
    const repo = path.join(temp.dir, "any");

    const [zero, words, notDate, badDate] = await Promise.all([
      refused("limit-zero", repo, "--limit", "0"),
      refused("limit-words", repo, "--limit", "ten"),
      refused("since-words", repo, "--since", "yesterday"),
      refused("since-bad", repo, "--since", "2024-13-45"),
    ]);

    expect(zero).toBe("--limit 0 is not a whole number of tasks from 1 to 999999; use e.g. --limit 20.");
    expect(words).toBe("--limit ten is not a whole number of tasks from 1 to 999999; use e.g. --limit 20.");
    expect(notDate).toBe("--since yesterday is not a date; use an ISO date such as 2026-01-31 (or 2026-01-31T12:00:00Z).");
    expect(badDate).toBe("--since 2024-13-45 is not a date; use an ISO date such as 2026-01-31 (or 2026-01-31T12:00:00Z).");
  });
});
