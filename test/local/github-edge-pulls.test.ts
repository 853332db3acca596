// The GitHub edge keeps the answers of git commands that name only commit SHAs (merge base, diff, commit count),
// because it runs git on the app's event loop. What must hold: a pull request's JSON follows its branches as
// they move (a new push, a moved base), and a command that names a ref is never answered from what was kept.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { edgeGitProcesses, gitOnCommits } from "../../src/local/github-edge/git.js";
import { sh, useTempDir } from "../workspace/git-fixture.js";
import { edgeOn } from "./edge-fixture.js";

const temp = useTempDir("aura-edge-pulls-");

function repository(name: string): { repo: string; commit: (file: string, text: string, message: string) => string } {
  const repo = path.join(temp.dir, name);
  sh(temp.dir, "init", "--quiet", "--initial-branch=main", repo);
  const commit = (file: string, text: string, message: string) => {
    writeFileSync(path.join(repo, file), text);
    sh(repo, "add", "-A");
    sh(repo, "commit", "--quiet", "-m", message);
    return sh(repo, "rev-parse", "HEAD").trim();
  };
  commit("README.md", "# widgets\n", "widgets");
  return { repo, commit };
}

type PullJson = { head: { sha: string }; base: { sha: string }; commits: number; additions: number; changed_files: number };

describe("GitHub edge: a pull request's JSON follows its branches", () => {
  it("after a second push to the head branch: the new head, two commits, both files", () => {
    const { repo, commit } = repository("pushed");
    sh(repo, "checkout", "--quiet", "-b", "aura/1-fix");
    const first = commit("a.js", "exports.a = 1;\n", "first");
    sh(repo, "checkout", "--quiet", "main");
    const edge = edgeOn(repo);
    const opened = edge.respond("POST", new URL("http://edge/repos/local/widgets/pulls"), { title: "Fix", head: "aura/1-fix", base: "main" });
    const number = (opened.json as { number: number }).number;

    const before = edge.pullJson(number) as PullJson;
    sh(repo, "checkout", "--quiet", "aura/1-fix");
    const second = commit("b.js", "exports.b = 2;\nexports.c = 3;\n", "second");
    sh(repo, "checkout", "--quiet", "main");
    const after = edge.pullJson(number) as PullJson;

    expect(opened.status).toBe(201);
    expect(before).toMatchObject({ head: { sha: first }, commits: 1, additions: 1, changed_files: 1 });
    expect(after).toMatchObject({ head: { sha: second }, commits: 2, additions: 3, changed_files: 2 });
    expect(edge.pullHeadSha(number)).toBe(second);
  });

  it("after the base moves: the new base SHA, and the diff still from the merge base", () => {
    const { repo, commit } = repository("based");
    sh(repo, "checkout", "--quiet", "-b", "aura/2-fix");
    const head = commit("a.js", "exports.a = 1;\n", "work");
    sh(repo, "checkout", "--quiet", "main");
    const edge = edgeOn(repo);
    const number = (
      edge.respond("POST", new URL("http://edge/repos/local/widgets/pulls"), { title: "Fix", head: "aura/2-fix", base: "main" }).json as { number: number }
    ).number;
    edge.pullJson(number);

    const moved = commit("docs.md", "one\ntwo\n", "docs on main");
    const after = edge.pullJson(number) as PullJson;

    expect(after).toMatchObject({ head: { sha: head }, base: { sha: moved }, commits: 1, additions: 1, changed_files: 1 });
  });
});

describe("GitHub edge: contents at a ref follow the ref", () => {
  it("a file changed on the branch reads anew, and a path missing before is found once committed", () => {
    const { repo, commit } = repository("contents");
    const edge = edgeOn(repo);
    const read = (file: string) => edge.respond("GET", new URL(`http://edge/repos/local/widgets/contents/${file}?ref=main`), undefined);
    const text = (reply: { json: unknown }) => Buffer.from((reply.json as { content: string }).content, "base64").toString("utf8");

    const before = read("README.md");
    const missing = read("a.js");
    commit("README.md", "# widgets, second\n", "readme");
    commit("a.js", "exports.a = 1;\n", "a");
    const after = read("README.md");
    const found = read("a.js");

    expect(text(before)).toBe("# widgets\n");
    expect(missing.status).toBe(404);
    expect(text(after)).toBe("# widgets, second\n");
    expect([found.status, text(found)]).toEqual([200, "exports.a = 1;\n"]);
  });

  it("a binary file byte for byte, a directory and a missing path 404, in one git process per file read first", () => {
    const { repo } = repository("binary");
    const bytes = Buffer.from([0, 1, 2, 10, 255, 10, 13, 0, 128]);
    mkdirSync(path.join(repo, "assets"));
    writeFileSync(path.join(repo, "assets", "logo.bin"), bytes);
    writeFileSync(path.join(repo, "line\nbreak.txt"), "odd name\n");
    writeFileSync(path.join(repo, "README.md\r"), "carriage return\n");
    sh(repo, "add", "-A");
    sh(repo, "commit", "--quiet", "-m", "assets");
    const edge = edgeOn(repo);
    const read = (file: string) => edge.respond("GET", new URL(`http://edge/repos/local/widgets/contents/${encodeURIComponent(file)}?ref=main`), undefined);
    read("README.md");

    const before = edgeGitProcesses();
    const binary = read("assets/logo.bin");
    const first = edgeGitProcesses() - before;
    const again = read("assets/logo.bin");
    const second = edgeGitProcesses() - before - first;

    expect(binary.status).toBe(200);
    expect(Buffer.from((binary.json as { content: string }).content, "base64")).toEqual(bytes);
    expect((binary.json as { sha: string; size: number }).sha).toBe(sh(repo, "rev-parse", "HEAD:assets/logo.bin").trim());
    expect((binary.json as { size: number }).size).toBe(bytes.length);
    expect(again.json).toEqual(binary.json);
    expect([first, second]).toEqual([1, 0]);
    expect(read("assets").status).toBe(404);
    expect(read("assets/none.bin").status).toBe(404);
    expect(Buffer.from((read("line\nbreak.txt").json as { content: string }).content, "base64").toString("utf8")).toBe("odd name\n");
    // A carriage return ends a line of git's batch input too: that file is not README.md.
    expect(Buffer.from((read("README.md\r").json as { content: string }).content, "base64").toString("utf8")).toBe("carriage return\n");
  });
});

describe("gitOnCommits", () => {
  it("runs git again for a command that names a ref, so a moved branch is seen", () => {
    const { repo, commit } = repository("refs");
    const first = gitOnCommits(repo, ["main"], "rev-parse", "main").trim();

    const second = commit("a.js", "exports.a = 1;\n", "more");

    expect(gitOnCommits(repo, ["main"], "rev-parse", "main").trim()).toBe(second);
    expect(first).not.toBe(second);
  });

  it("answers the same for the same commits, and differently for others", () => {
    const { repo, commit } = repository("shas");
    const base = sh(repo, "rev-parse", "HEAD").trim();
    const one = commit("a.js", "1\n", "one");
    const two = commit("a.js", "1\n2\n", "two");

    const count = (to: string) => gitOnCommits(repo, [base, to], "rev-list", "--count", `${base}..${to}`).trim();

    expect([count(one), count(two), count(one)]).toEqual(["1", "2", "1"]);
  });
});
