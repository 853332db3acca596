// What `aura run` reads of the user's repository before anything starts (one git process in the usual case):
// the same answers from the top level, from a subdirectory and from a linked work tree, and the one-line
// refusals for a detached HEAD and a repository without commits.
import { mkdirSync, realpathSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadPolicySet } from "../../src/config/policy-files.js";
import { inspectRepository, LocalRunInputError } from "../../src/local/repository.js";
import { sh, useTempDir } from "../workspace/git-fixture.js";

const temp = useTempDir("aura-local-repo-");
const policies = loadPolicySet();

function project(name: string, commit = true): string {
  const root = path.join(temp.dir, name);
  sh(temp.dir, "init", "--quiet", "--initial-branch=trunk", root);
  mkdirSync(path.join(root, "src", "deep"), { recursive: true });
  writeFileSync(path.join(root, "package.json"), JSON.stringify({ scripts: { test: "node --test" } }));
  writeFileSync(path.join(root, "src", "deep", "a.js"), "exports.a = 1;\n");
  if (commit) {
    sh(root, "add", "-A");
    sh(root, "commit", "--quiet", "-m", "start");
  }
  return realpathSync(root);
}

describe("inspectRepository", () => {
  it("answers the same from the top level, a subdirectory and a linked work tree", () => {
    const root = project("widgets");
    const head = sh(root, "rev-parse", "HEAD").trim();
    const top = inspectRepository(root, policies);
    const fromSub = inspectRepository(path.join(root, "src", "deep"), policies);
    const linked = path.join(temp.dir, "linked");
    sh(root, "worktree", "add", "--quiet", "-b", "side", linked);
    const fromLinked = inspectRepository(linked, policies);

    expect(top).toMatchObject({ root, gitDir: path.join(root, ".git"), head, branch: "trunk", testCommand: "npm test", dirty: [] });
    expect(fromSub).toEqual(top);
    expect(fromLinked).toMatchObject({ root: realpathSync(linked), gitDir: path.join(root, ".git"), head, branch: "side" });
  });

  it("refuses a detached HEAD and a repository without commits, saying what to do", () => {
    const root = project("detached");
    sh(root, "checkout", "--quiet", "--detach");
    const head = sh(root, "rev-parse", "HEAD").trim();
    const empty = project("empty", false);

    expect(() => inspectRepository(root, policies)).toThrow(
      new LocalRunInputError(
        `${root} has no branch checked out (detached HEAD at ${head.slice(0, 12)}). Check out the branch the work should be based on, then run again.`,
      ),
    );
    expect(() => inspectRepository(empty, policies)).toThrow(LocalRunInputError);
    expect(() => inspectRepository(empty, policies)).toThrow(/has no commits yet/);
  });
});
