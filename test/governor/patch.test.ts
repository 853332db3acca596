import { readdirSync, readFileSync } from "node:fs";
import parseDiff from "parse-diff";
import { describe, expect, it } from "vitest";
import { changedFilesFromUnifiedDiff } from "../../src/github/local-diff.js";
import { parsePatch } from "../../src/governor/patch.js";

const fixtures = new URL("../fixtures/diffs/", import.meta.url);
const diffNames = readdirSync(fixtures).filter((name) => name.endsWith(".diff"));

describe("parsePatch", () => {
  it("numbers added lines in the new file and removed lines in the old file", () => {
    const patch = "@@ -3,4 +3,5 @@ function f() {\n a\n-b\n+c\n+d\n e\n@@ -20,2 +21,2 @@\n x\n-y\n+z";

    const parsed = parsePatch(patch);

    expect(parsed.added).toEqual([
      { line: 4, text: "c" },
      { line: 5, text: "d" },
      { line: 22, text: "z" },
    ]);
    expect(parsed.removed).toEqual([
      { line: 4, text: "b" },
      { line: 21, text: "y" },
    ]);
  });

  it("reads `+++` and `---` content inside a hunk as lines, and skips no-newline markers", () => {
    const patch = "@@ -1,2 +1,2 @@\n--- old heading\n+++ new heading\n-last\n\\ No newline at end of file\n+last\n\\ No newline at end of file";

    const parsed = parsePatch(patch);

    expect(parsed.added).toEqual([
      { line: 1, text: "++ new heading" },
      { line: 2, text: "last" },
    ]);
    expect(parsed.removed.map((line) => line.line)).toEqual([1, 2]);
  });

  it.each(diffNames)("agrees with parse-diff on every file of %s", (name) => {
    const diff = readFileSync(new URL(name, fixtures), "utf8");

    const ours = changedFilesFromUnifiedDiff(diff).map((file) => parsePatch(file.patch ?? ""));
    const theirs = parseDiff(diff).map((file) => {
      const changes = file.chunks.flatMap((chunk) => chunk.changes).filter((change) => !change.content.startsWith("\\"));
      return {
        added: changes.flatMap((c) => (c.type === "add" ? [{ line: c.ln, text: c.content.slice(1) }] : [])),
        removed: changes.flatMap((c) => (c.type === "del" ? [{ line: c.ln, text: c.content.slice(1) }] : [])),
      };
    });

    expect(ours).toEqual(theirs);
  });
});

describe("changedFilesFromUnifiedDiff", () => {
  it("gives GitHub-style entries for added, removed and renamed files", () => {
    const read = (name: string) => readFileSync(new URL(`${name}.diff`, fixtures), "utf8");

    const secret = changedFilesFromUnifiedDiff(read("secret"));
    const deleted = changedFilesFromUnifiedDiff(read("deleted-test"));
    const renamed = changedFilesFromUnifiedDiff(read("rename-test-away"));

    expect(secret.map(({ filename, status, additions, deletions }) => ({ filename, status, additions, deletions }))).toEqual([
      { filename: "src/deploy.ts", status: "added", additions: 3, deletions: 0 },
      { filename: "src/server.ts", status: "modified", additions: 3, deletions: 0 },
    ]);
    expect(secret[0]?.patch?.startsWith("@@ -0,0 +1,3 @@\n+// Deployment settings.")).toBe(true);
    expect(deleted[1]).toMatchObject({ filename: "test/math.test.ts", status: "removed", deletions: 14 });
    expect(renamed).toEqual([
      {
        filename: "test/math.helpers.txt",
        previousFilename: "test/math.test.ts",
        status: "renamed",
        additions: 0,
        deletions: 0,
        patch: undefined,
      },
    ]);
  });
});
