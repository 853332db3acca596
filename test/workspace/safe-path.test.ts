import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UnsafePathError } from "../../src/workspace/errors.js";
import { resolveInside, safeDeleteFile, safeReadFile, safeWriteFile } from "../../src/workspace/safe-path.js";
import { makeTempDir } from "./git-fixture.js";

let temp: ReturnType<typeof makeTempDir>;
let root: string;
let keyPath: string;

beforeEach(() => {
  temp = makeTempDir("aura-path-");
  root = path.join(temp.dir, "tree");
  mkdirSync(path.join(root, "src"), { recursive: true });
  mkdirSync(path.join(root, ".git", "hooks"), { recursive: true });
  writeFileSync(path.join(root, "src", "index.js"), "export {};\n");
  keyPath = path.join(temp.dir, "app.private-key.pem");
  writeFileSync(keyPath, "-----BEGIN RSA PRIVATE KEY-----\nKEYMATERIAL\n");
});

afterEach(() => {
  temp.cleanup();
});

async function reasonFor(action: Promise<unknown>): Promise<string> {
  const error = await action.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UnsafePathError);
  return (error as UnsafePathError).reason;
}

describe("path safety", () => {
  it("refuses a symlinked README that points at the key file, for reads and writes", async () => {
    symlinkSync(keyPath, path.join(root, "README.md"));

    const read = await reasonFor(safeReadFile(root, "README.md"));
    const write = await reasonFor(safeWriteFile(root, "README.md", "overwritten"));

    expect([read, write]).toEqual(["symlink", "symlink"]);
    expect(readFileSync(keyPath, "utf8")).toContain("KEYMATERIAL");
  });

  it("refuses a path through a symlinked directory", async () => {
    mkdirSync(path.join(temp.dir, "elsewhere"));
    symlinkSync(path.join(temp.dir, "elsewhere"), path.join(root, "linked"));

    const reason = await reasonFor(safeWriteFile(root, "linked/new.txt", "x"));

    expect(reason).toBe("symlink");
    expect(existsSync(path.join(temp.dir, "elsewhere", "new.txt"))).toBe(false);
  });

  it.each([
    ["../x", "parent-segment"],
    ["src/../../x", "parent-segment"],
    [".git/hooks/pre-commit", "git-dir"],
    ["sub/.GIT/config", "git-dir"],
    ["/etc/passwd", "absolute"],
    ["", "empty"],
    ["./", "empty"],
    ["src\\index.js", "invalid-character"],
  ])("refuses %j (%s)", async (relPath, expected) => {
    const write = await reasonFor(safeWriteFile(root, relPath, "#!/bin/sh\ntouch pwned\n"));
    const read = await reasonFor(safeReadFile(root, relPath));

    expect([write, read]).toEqual([expected, expected]);
    expect(existsSync(path.join(root, ".git", "hooks", "pre-commit"))).toBe(false);
    expect(existsSync(path.join(temp.dir, "x"))).toBe(false);
  });

  it("refuses to read a FIFO or a directory instead of blocking on it", async () => {
    execFileSync("mkfifo", [path.join(root, "pipe")]);

    const fifo = await reasonFor(safeReadFile(root, "pipe"));
    const dir = await reasonFor(safeReadFile(root, "src"));

    expect([fifo, dir]).toEqual(["not-a-file", "not-a-file"]);
  });

  it("reads, writes into new directories and deletes ordinary files inside the root", async () => {
    await safeWriteFile(root, "src/deep/new.js", "export const x = 1;\n");
    const content = await safeReadFile(root, "./src/deep/new.js");
    await safeDeleteFile(root, "src/index.js");

    expect(content).toBe("export const x = 1;\n");
    expect(await resolveInside(root, "src/deep/new.js")).toBe(path.join(root, "src", "deep", "new.js"));
    expect(existsSync(path.join(root, "src", "index.js"))).toBe(false);
  });

  it("refuses to read a file larger than the limit", async () => {
    writeFileSync(path.join(root, "big.txt"), "x".repeat(2_000));

    const reason = await reasonFor(safeReadFile(root, "big.txt", { maxBytes: 1_000 }));

    expect(reason).toBe("too-large");
  });
});
