// Edit checks happen before anything is written: paths are hostile, scope and protected paths hold, and a
// search text must match exactly once.
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadProtectedPaths } from "../../src/config/policy-files.js";
import { applyEdits, planEdits, recordChange, type EditRules } from "../../src/employees/edits.js";
import { makeTempDir } from "../workspace/git-fixture.js";
import { edits, replace, write } from "./work-fixtures.js";

const protectedPaths = loadProtectedPaths().protected;
const rules: EditRules = { scope: ["src/**", "README.md", "package-lock.json", ".git/**", "../**"], protectedPaths, taskClass: "bugfix" };

let temp: ReturnType<typeof makeTempDir>;
let tree: string;
let keyFile: string;

beforeEach(() => {
  temp = makeTempDir("aura-edits-");
  tree = path.join(temp.dir, "tree");
  mkdirSync(path.join(tree, "src"), { recursive: true });
  mkdirSync(path.join(tree, ".git", "hooks"), { recursive: true });
  writeFileSync(path.join(tree, "src", "a.js"), "let x = 1;\nlet y = 1;\n");
  writeFileSync(path.join(tree, "package-lock.json"), "{}\n");
  keyFile = path.join(temp.dir, "app-key.pem");
  writeFileSync(keyFile, "-----BEGIN PRIVATE KEY-----\n");
  symlinkSync(keyFile, path.join(tree, "README.md"));
});

afterEach(() => {
  temp.cleanup();
});

async function reasonsFor(...list: Parameters<typeof edits>[1][]): Promise<string[]> {
  const plan = await planEdits(tree, edits("test", ...list), rules);
  return plan.ok ? [] : plan.refusals.map((refusal) => refusal.reason);
}

describe("planEdits", () => {
  it("refuses a symlink to the key file, a parent path and git hooks", async () => {
    const symlink = await reasonsFor(write("README.md", "pwned\n"));
    const parent = await reasonsFor(write("../x", "pwned\n"));
    const hook = await reasonsFor(write(".git/hooks/pre-commit", "#!/bin/sh\n"));

    expect(symlink.join()).toMatch(/symbolic link/);
    expect(parent.join()).toMatch(/`\.\.` segments/);
    expect(hook.join()).toMatch(/\.git/);
    expect(readFileSync(keyFile, "utf8")).toBe("-----BEGIN PRIVATE KEY-----\n");
    expect(existsSync(path.join(tree, ".git", "hooks", "pre-commit"))).toBe(false);
  });

  it("refuses paths outside the scope and protected paths unless the task class may touch them", async () => {
    const outside = await reasonsFor(write("docs/guide.md", "text\n"));
    const lockFile = await reasonsFor(write("package-lock.json", '{"x":1}\n'));
    const asDependencyTask = await planEdits(tree, edits("deps", write("package-lock.json", '{"x":1}\n')), { ...rules, taskClass: "dependency" });

    expect(outside.join()).toMatch(/outside the task's scope/);
    expect(lockFile.join()).toMatch(/protected path/);
    expect(asDependencyTask.ok).toBe(true);
  });

  it("requires each search text to match exactly once", async () => {
    const twice = await reasonsFor(replace("src/a.js", "= 1;", "= 2;"));
    const never = await reasonsFor(replace("src/a.js", "let z", "let w"));
    const once = await planEdits(tree, edits("ok", replace("src/a.js", "let y = 1;", "let y = 2;")), rules);

    expect(twice.join()).toMatch(/occurs 2 times/);
    expect(never.join()).toMatch(/does not occur/);
    expect(once).toEqual({ ok: true, writes: [{ path: "src/a.js", content: "let x = 1;\nlet y = 2;\n", before: 22 }] });
  });

  it("writes nothing when any edit of the set is refused", async () => {
    const plan = await planEdits(tree, edits("mixed", write("src/new.js", "new\n"), write("docs/x.md", "no\n")), rules);

    expect(plan.ok).toBe(false);
    expect(existsSync(path.join(tree, "src", "new.js"))).toBe(false);
  });

  it("applies successive edits of one file in order", async () => {
    const plan = await planEdits(tree, edits("two", replace("src/a.js", "let x = 1;", "let x = 3;"), replace("src/a.js", "let x = 3;", "let x = 4;")), rules);
    if (!plan.ok) throw new Error("expected the plan to pass");

    await applyEdits(tree, plan.writes);

    expect(readFileSync(path.join(tree, "src", "a.js"), "utf8")).toBe("let x = 4;\nlet y = 1;\n");
  });
});

describe("size limits on what an employee writes", () => {
  const limits = { maxFileBytes: 1024 * 1024, maxChangeBytes: 5 * 1024 * 1024 };
  const mib = (n: number, fill = "x") => fill.repeat(Math.round(n * 1024 * 1024));

  it("refuses a file over 1 MiB by default and writes nothing of the set", async () => {
    const plan = await planEdits(tree, edits("big", write("src/small.js", "ok\n"), write("src/big.bin", mib(50))), { ...rules, limits });

    expect(plan).toEqual({
      ok: false,
      refusals: [
        { path: "src/big.bin", reason: expect.stringContaining("the new content is 50 MiB, over the 1 MiB one file may have (AURA_EDIT_MAX_FILE_BYTES)") },
      ],
    });
    expect(existsSync(path.join(tree, "src", "small.js"))).toBe(false);
  });

  it("lets an existing file that is already larger be edited as long as it does not grow", async () => {
    writeFileSync(path.join(tree, "src", "data.txt"), `${mib(2)}\nend\n`);

    const plan = await planEdits(tree, edits("typo", replace("src/data.txt", "end\n", "END\n")), { ...rules, limits });

    expect(plan.ok).toBe(true);
  });

  it("counts the whole change across edit sets against the per-change limit", async () => {
    const change = new Map<string, { before: number; after: number }>();
    const first = await planEdits(tree, edits("one", write("src/a1.txt", mib(0.9)), write("src/a2.txt", mib(0.9)), write("src/a3.txt", mib(0.9))), {
      ...rules,
      limits,
      change,
    });
    if (!first.ok) throw new Error("expected the first set to pass");
    await applyEdits(tree, first.writes);
    recordChange(change, first.writes);

    const rewrite = await planEdits(tree, edits("same files", write("src/a1.txt", mib(0.5))), { ...rules, limits, change });
    const more = await planEdits(tree, edits("more", write("src/b1.txt", mib(0.9)), write("src/b2.txt", mib(0.9)), write("src/b3.txt", mib(0.9))), {
      ...rules,
      limits,
      change,
    });

    expect(rewrite.ok).toBe(true);
    expect(more).toEqual({
      ok: false,
      refusals: [
        {
          path: "(the whole change)",
          reason: expect.stringContaining("together the edits add 5.4 MiB, over the 5 MiB one task's change may add (AURA_EDIT_MAX_CHANGE_BYTES)"),
        },
      ],
    });
  });
});
