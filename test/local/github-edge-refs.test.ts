// The GitHub edge reads branch refs from the repository's ref files instead of running `git rev-parse` on the
// app's event loop. What must hold: every answer is git's own (loose and packed refs, symbolic refs, git's order
// for a short name, tags peeled to their commit, a ref that moves or goes away), what it cannot read itself goes
// to git, and a branch read a second time runs no git process.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { edgeGitProcesses, objectType, resolveCommit, resolveCommits } from "../../src/local/github-edge/git.js";
import { readRef } from "../../src/local/github-edge/refs.js";
import { sh, useTempDir } from "../workspace/git-fixture.js";
import { edgeOn } from "./edge-fixture.js";

const temp = useTempDir("aura-edge-refs-");

function repository(name: string, options: { bare?: boolean } = {}) {
  const work = path.join(temp.dir, `${name}-work`);
  sh(temp.dir, "init", "--quiet", "--initial-branch=main", work);
  const commit = (file: string, message: string) => {
    writeFileSync(path.join(work, file), `${message}\n`);
    sh(work, "add", "-A");
    sh(work, "commit", "--quiet", "-m", message);
    return sh(work, "rev-parse", "HEAD").trim();
  };
  const first = commit("a.txt", "first");
  if (!options.bare) return { repo: work, work, first, commit };
  const repo = path.join(temp.dir, `${name}.git`);
  sh(temp.dir, "clone", "--quiet", "--bare", work, repo);
  return { repo, work, first, commit };
}

/** git's own answer for `ref^{commit}`, or undefined. */
function gitAnswer(repo: string, ref: string): string | undefined {
  try {
    return sh(repo, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`).trim();
  } catch {
    return undefined;
  }
}

describe("GitHub edge: refs read from files", () => {
  it("answers as git does for loose, packed and symbolic refs, tags and short names", () => {
    const { repo, first, commit } = repository("answers");
    sh(repo, "branch", "aura/1-fix");
    sh(repo, "tag", "-a", "-m", "release", "v1");
    sh(repo, "tag", "light");
    const second = commit("b.txt", "second");
    sh(repo, "branch", "packed");
    sh(repo, "pack-refs", "--all");
    const third = commit("c.txt", "third");
    // A tag and a branch of one name: git takes the tag (refs/tags comes before refs/heads).
    sh(repo, "branch", "v1");
    sh(repo, "symbolic-ref", "refs/heads/alias", "refs/heads/aura/1-fix");

    const refs = [
      "main",
      "refs/heads/main",
      "aura/1-fix",
      "refs/heads/aura/1-fix",
      "packed",
      "refs/heads/packed",
      "v1",
      "refs/tags/v1",
      "light",
      "HEAD",
      "alias",
      "refs/heads/alias",
      "missing",
      "refs/heads/missing",
      "refs/heads/aura",
      "aura",
    ];
    for (const ref of refs) expect(resolveCommit(repo, ref), ref).toBe(gitAnswer(repo, ref));
    expect(resolveCommit(repo, "main")).toBe(third);
    expect(resolveCommit(repo, "packed")).toBe(second);
    expect(resolveCommit(repo, "v1")).toBe(first);
    expect(resolveCommit(repo, "refs/heads/v1")).toBe(third);
    expect(resolveCommit(repo, "missing")).toBeUndefined();
    expect(resolveCommits(repo, ["refs/heads/aura/1-fix", "refs/heads/main"])).toEqual([first, third]);
  });

  it("follows a branch that moves, is packed, or is deleted", () => {
    const { repo, first, commit } = repository("moves");
    sh(repo, "branch", "topic");
    expect(resolveCommit(repo, "refs/heads/topic")).toBe(first);
    sh(repo, "checkout", "--quiet", "topic");
    const moved = commit("b.txt", "moved");
    expect(resolveCommit(repo, "refs/heads/topic")).toBe(moved);
    sh(repo, "pack-refs", "--all");
    expect(resolveCommit(repo, "refs/heads/topic")).toBe(moved);
    const again = commit("c.txt", "again");
    expect(resolveCommit(repo, "refs/heads/topic")).toBe(again);
    sh(repo, "checkout", "--quiet", "main");
    sh(repo, "branch", "-D", "topic");
    expect(resolveCommit(repo, "refs/heads/topic")).toBeUndefined();
    expect(gitAnswer(repo, "refs/heads/topic")).toBeUndefined();
  });

  it("reads a bare repository's refs, pushed to as the app pushes", () => {
    const { repo, work, commit } = repository("bare", { bare: true });
    sh(work, "checkout", "--quiet", "-b", "aura/2-fix");
    const pushed = commit("b.txt", "pushed");
    sh(work, "push", "--quiet", repo, "aura/2-fix");
    expect(readRef(repo, "refs/heads/aura/2-fix")).toBe(pushed);
    expect(resolveCommit(repo, "refs/heads/aura/2-fix")).toBe(pushed);
  });

  it("runs no git process for a branch read again, and one for a branch's new commit", () => {
    const { repo, commit } = repository("processes");
    resolveCommit(repo, "refs/heads/main");
    const before = edgeGitProcesses();
    for (let i = 0; i < 5; i++) resolveCommit(repo, "refs/heads/main");
    expect(edgeGitProcesses()).toBe(before);
    const next = commit("b.txt", "next");
    expect(resolveCommit(repo, "refs/heads/main")).toBe(next);
    expect(edgeGitProcesses()).toBe(before + 1);
    expect(resolveCommit(repo, "refs/heads/main")).toBe(next);
    expect(edgeGitProcesses()).toBe(before + 1);
  });

  it("leaves to git what it does not read itself", () => {
    const { repo, first, commit } = repository("to-git");
    const second = commit("b.txt", "second");
    // Revision syntax, an abbreviated SHA, a name git would reject: git answers, and the answers are git's.
    for (const ref of ["main~1", `${first.slice(0, 7)}`, "main^", "@{0}", "-main", "ma..in"]) {
      expect(readRef(repo, ref), ref).toBeUndefined();
      expect(resolveCommit(repo, ref), ref).toBe(gitAnswer(repo, ref));
    }
    expect(resolveCommit(repo, "main~1")).toBe(first);
    expect(resolveCommit(repo, second)).toBe(second);
    // Object names in capitals, and `git describe`'s form, name no ref: git reads them as SHAs.
    for (const ref of [second.toUpperCase(), second.slice(0, 8).toUpperCase(), `v1-1-g${second.slice(0, 8)}`]) {
      expect(resolveCommit(repo, ref), ref).toBe(second);
    }
    // A ref file with content git would not write: git decides.
    mkdirSync(path.join(repo, ".git", "refs", "heads", "odd"), { recursive: true });
    writeFileSync(path.join(repo, ".git", "refs", "heads", "odd", "file"), "not a sha\n");
    expect(readRef(repo, "refs/heads/odd/file")).toBeUndefined();
    expect(resolveCommit(repo, "refs/heads/odd/file")).toBe(gitAnswer(repo, "refs/heads/odd/file"));
    // A linked work tree's .git is a file: git reads it.
    const linked = path.join(temp.dir, "linked");
    sh(repo, "worktree", "add", "--quiet", linked, "-b", "linked");
    expect(readRef(linked, "refs/heads/main")).toBeUndefined();
    expect(resolveCommit(linked, "refs/heads/main")).toBe(second);
  });

  it("answers a commit's tree as git does (the root tree's SHA and every entry), a second time without git", () => {
    const { repo, commit } = repository("tree");
    mkdirSync(path.join(repo, "src"));
    writeFileSync(path.join(repo, "src", "b.js"), "exports.b = 2;\n");
    const head = commit("c.txt", "third");
    sh(repo, "tag", "-a", "-m", "release", "v2");
    const edge = edgeOn(repo, "tree");
    const read = (ref: string) => edge.respond("GET", new URL(`http://edge/repos/local/tree/git/trees/${ref}?recursive=1`), undefined);

    const byBranch = read("main");
    const before = edgeGitProcesses();
    const again = read("main");
    const repeated = edgeGitProcesses() - before;
    const byTag = read("v2");

    expect(byBranch.status).toBe(200);
    const json = byBranch.json as { sha: string; tree: { path: string; type: string; sha: string }[] };
    expect(json.sha).toBe(sh(repo, "rev-parse", `${head}^{tree}`).trim());
    expect(json.tree.map((entry) => [entry.path, entry.type])).toEqual([
      ["a.txt", "blob"],
      ["c.txt", "blob"],
      ["src", "tree"],
      ["src/b.js", "blob"],
    ]);
    expect(again.json).toEqual(byBranch.json);
    expect(repeated).toBe(0);
    expect((byTag.json as { sha: string }).sha).toBe(json.sha);
    expect(read("missing").status).toBe(404);
  });

  it("does not keep a missing object's answer: the object pushed later is found", () => {
    const { repo } = repository("later");
    const { repo: other, commit } = repository("elsewhere");
    const sha = commit("x.txt", "only elsewhere");

    expect(objectType(repo, sha)).toBeUndefined();
    sh(repo, "fetch", "--quiet", other, "main:refs/heads/fetched");

    expect(objectType(repo, sha)).toBe("commit");
    expect(resolveCommit(repo, "refs/heads/fetched")).toBe(sha);
  });
});
