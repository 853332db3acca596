import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, onTestFinished, vi } from "vitest";
import { resolveCloneSource } from "../../src/workspace/clone-source.js";
import { CloneSourceNotAllowedError, RefNotAllowedError } from "../../src/workspace/errors.js";
import { git } from "../../src/workspace/git.js";
import { OutputCapture } from "../../src/workspace/output-capture.js";
import { redact } from "../../src/workspace/redact.js";
import { assertAuraRef } from "../../src/workspace/refs.js";
import { defaultRepoCommands } from "../../src/workspace/repo-commands.js";
import { slugify, taskBranchName } from "../../src/workspace/slugify.js";
import { makeTempDir } from "./git-fixture.js";

describe("resolveCloneSource", () => {
  it("builds the https URL from the configured host and full name, ignoring the payload's https URL", () => {
    const source = resolveCloneSource({
      fullName: "octo/app",
      githubWebUrl: "https://github.com",
      cloneUrl: "https://evil.example.com/octo/app.git",
      allowLocalClone: false,
    });

    expect(source).toEqual({ url: "https://github.com/octo/app.git", kind: "remote", protocols: ["https"] });
  });

  it("uses a GitHub Enterprise host", () => {
    const source = resolveCloneSource({ fullName: "team/svc", githubWebUrl: "http://ghe.internal", allowLocalClone: false });

    expect(source).toEqual({ url: "http://ghe.internal/team/svc.git", kind: "remote", protocols: ["http"] });
  });

  it.each(["file:///srv/repo.git", "/srv/repo.git", "../repo"])("refuses the local source %s without the flag", (cloneUrl) => {
    const attempt = () => resolveCloneSource({ fullName: "octo/app", githubWebUrl: "https://github.com", cloneUrl, allowLocalClone: false });

    expect(attempt).toThrow(CloneSourceNotAllowedError);
  });

  it("honours a local source with the flag, as a file:// URL", () => {
    const source = resolveCloneSource({ fullName: "octo/app", githubWebUrl: "https://github.com", cloneUrl: "/srv/repo.git", allowLocalClone: true });

    expect(source).toEqual({ url: "file:///srv/repo.git", kind: "local", protocols: ["file"] });
  });

  it.each(["octo/../app", "octo", "octo/app/extra", "-x/app", "octo/.git"])("refuses the full name %s", (fullName) => {
    const attempt = () => resolveCloneSource({ fullName, githubWebUrl: "https://github.com", allowLocalClone: false });

    expect(attempt).toThrow(CloneSourceNotAllowedError);
  });
});

describe("redact", () => {
  it("removes a known token in raw, base64 and URL forms, and unknown GitHub tokens", () => {
    const token = "ghs_abcdefghijklmnopqrstuvwxyz0123456789";
    const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
    const text = `fatal: https://x-access-token:${token}@github.com/o/r.git\nAuthorization: Basic ${basic}\nother ghp_ZZZZZZZZZZZZZZZZZZZZZZZZZZZZ\n${token}`;

    const out = redact(text, [token]);

    expect(out).not.toContain(token);
    expect(out).not.toContain(basic);
    expect(out).not.toContain("ghp_ZZZZ");
    expect(out).toContain("github.com/o/r.git");
  });
});

describe("branch names", () => {
  it("slugifies task titles into git-safe branch names", () => {
    expect(slugify("Add the Greeting: ünïcode & spaces!")).toBe("add-the-greeting-unicode-spaces");
    expect(slugify("!!!")).toBe("task");
    expect(slugify("a".repeat(100))).toHaveLength(48);
    expect(taskBranchName(42, "Fix login bug")).toBe("aura/42-fix-login-bug");
  });

  it("accepts only refs under refs/heads/aura/", () => {
    expect(() => assertAuraRef("refs/heads/aura/42-fix")).not.toThrow();
    for (const ref of [
      "refs/heads/main",
      "refs/heads/aura",
      "refs/heads/aura/",
      "refs/heads/aura/../main",
      "refs/tags/aura/x",
      "aura/x",
      "refs/heads/aura/x.lock",
      "+refs/heads/aura/x",
    ]) {
      expect(() => assertAuraRef(ref), ref).toThrow(RefNotAllowedError);
    }
  });
});

describe("OutputCapture", () => {
  it("keeps everything when under the cap", () => {
    const capture = new OutputCapture(100);

    capture.write(Buffer.from("hello "));
    capture.write(Buffer.from("world\n"));
    const result = capture.finish();

    expect(result).toMatchObject({ text: "hello world\n", totalBytes: 12, truncated: false });
  });
});

describe("defaultRepoCommands", () => {
  let temp: ReturnType<typeof makeTempDir>;

  beforeEach(() => {
    temp = makeTempDir("aura-cmd-");
  });

  afterEach(() => {
    temp.cleanup();
  });

  it("uses npm ci with a lock file, npm install without, install scripts off, and nothing for non-npm repos", async () => {
    const locked = path.join(temp.dir, "locked");
    const loose = path.join(temp.dir, "loose");
    const other = path.join(temp.dir, "other");
    for (const dir of [locked, loose, other]) mkdirSync(dir);
    writeFileSync(path.join(locked, "package.json"), "{}");
    writeFileSync(path.join(locked, "package-lock.json"), "{}");
    writeFileSync(path.join(loose, "package.json"), "{}");

    expect(await defaultRepoCommands(locked)).toEqual({ setup: "npm ci --ignore-scripts", test: "npm test" });
    expect(await defaultRepoCommands(loose)).toEqual({ setup: "npm install --ignore-scripts", test: "npm test" });
    expect(await defaultRepoCommands(loose, { allowInstallScripts: true })).toEqual({ setup: "npm install", test: "npm test" });
    expect(await defaultRepoCommands(other)).toEqual({ setup: undefined, test: undefined });
  });
});

describe("the git runner", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // simple-git waits a further 50 ms on a timer after a git process that printed nothing; with timers stopped,
  // a silent command that still depended on that timer would never complete (and the test would time out).
  it("completes commands that print nothing, and those that print, as soon as git exits, with their output and exit codes", async () => {
    const { dir, cleanup } = makeTempDir("aura-git-runner-");
    onTestFinished(cleanup);
    const target = { gitDir: path.join(dir, "cache.git"), protocols: [] };
    vi.useFakeTimers({ toFake: ["setTimeout", "setInterval"] });

    expect(await git(target, ["init", "--quiet", "--bare", target.gitDir], { cwd: dir })).toEqual({ stdout: "", exitCode: 0 });
    expect(await git(target, ["config", "aura.test", "yes"])).toEqual({ stdout: "", exitCode: 0 });
    expect(await git(target, ["config", "aura.test"])).toEqual({ stdout: "yes\n", exitCode: 0 });
    expect(await git(target, ["config", "aura.missing"], { okExitCodes: [1] })).toEqual({ stdout: "", exitCode: 1 });
    await expect(git(target, ["rev-parse", "--verify", "no-such-ref"])).rejects.toThrow(/rev-parse --verify/);
  });
});
