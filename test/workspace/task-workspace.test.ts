import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync, mkdirSync } from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { withDetachedCheckout, withDetachedCheckouts } from "../../src/workspace/commit-checkout.js";
import { CloneSourceNotAllowedError, GitCommandError, MergeConflictError, RefNotAllowedError } from "../../src/workspace/errors.js";
import { git } from "../../src/workspace/git.js";
import { safeWriteFile } from "../../src/workspace/safe-path.js";
import { probeBwrap, runInSandbox } from "../../src/workspace/sandbox.js";
import { taskBranchName } from "../../src/workspace/slugify.js";
import {
  changedFiles,
  commitChanges,
  listFiles,
  mergeBase,
  prepareTaskWorkspace,
  pushAuraBranch,
  removeTaskWorkspace,
  type TaskWorkspace,
  type WorkspaceOptions,
} from "../../src/workspace/task-workspace.js";
import { createBareRemote, makeTempDir, sh, type BareRemote } from "./git-fixture.js";

const bot = { name: "aura-orchestra[bot]", email: "123+aura-orchestra[bot]@users.noreply.github.com" };
const trailers = { requirement: "octo/app#12", task: "task-7", employee: "openai-gpt", snapshot: "snap-abc" };
const token = "ghs_TESTTOKEN0123456789abcdefghijklmnop";

let temp: ReturnType<typeof makeTempDir>;
let remote: BareRemote;
let options: WorkspaceOptions;

beforeEach(() => {
  temp = makeTempDir("aura-ws-");
  remote = createBareRemote(temp.dir, { "README.md": "# App\n", "src/index.js": "export const one = 1;\n" });
  options = { root: path.join(temp.dir, "workspaces"), identity: bot, allowLocalClone: true };
});

afterEach(() => {
  temp.cleanup();
});

function prepare(branch = taskBranchName(12, "Add the greeting")): Promise<TaskWorkspace> {
  return prepareTaskWorkspace(options, {
    repo: { fullName: "octo/app", githubWebUrl: "https://github.com", cloneUrl: remote.url },
    branch,
    baseRef: "main",
    token,
  });
}

function nonAuraRefs(): Record<string, string> {
  return Object.fromEntries(Object.entries(remote.refs()).filter(([ref]) => !ref.startsWith("refs/heads/aura/")));
}

describe("task workspace with a real git remote", () => {
  it("clones, branches, commits as the bot with trailers, and pushes only the aura branch", async () => {
    const before = nonAuraRefs();
    const workspace = await prepare();
    await safeWriteFile(workspace.path, "src/greet.js", "export const greet = () => 'hi';\n");

    const commit = await commitChanges(options, workspace, { message: "Add the greeting", trailers, paths: ["src/greet.js"] });
    const pushed = await pushAuraBranch(options, workspace, { token });

    expect(workspace).toMatchObject({ branch: "aura/12-add-the-greeting", resumed: false });
    expect(sh(workspace.cacheDir, "config", "remote.origin.partialclonefilter").trim()).toBe("blob:none");
    expect(await listFiles(workspace)).toEqual(["README.md", "src/greet.js", "src/index.js"]);
    expect(pushed).toEqual({ sha: commit.sha, mergedRemoteChanges: 0, updated: true });
    expect(remote.refs()["refs/heads/aura/12-add-the-greeting"]).toBe(commit.sha);
    expect(sh(remote.bare, "log", "-1", "--format=%an <%ae>|%cn", commit.sha).trim()).toBe(`${bot.name} <${bot.email}>|${bot.name}`);
    const trailerBlock = sh(remote.bare, "log", "-1", "--format=%(trailers:only,unfold)", commit.sha).trim();
    expect(trailerBlock.split("\n")).toEqual(["Aura-Requirement: octo/app#12", "Aura-Task: task-7", "Aura-Employee: openai-gpt", "Aura-Snapshot: snap-abc"]);
    expect(sh(remote.bare, "diff", "--name-only", workspace.baseSha, commit.sha).trim()).toBe("src/greet.js");
    expect(nonAuraRefs()).toEqual(before);
  });

  it("refuses to push anything but refs/heads/aura/* and moves no other ref", async () => {
    const workspace = await prepare();
    await safeWriteFile(workspace.path, "x.txt", "x\n");
    await commitChanges(options, workspace, { message: "x", trailers });
    const before = remote.refs();

    const toMain = pushAuraBranch(options, { ...workspace, branch: "main", ref: "refs/heads/main" }, { token });
    const sneaky = pushAuraBranch(options, { ...workspace, branch: "aura/../main", ref: "refs/heads/aura/../main" }, { token });
    const mismatched = pushAuraBranch(options, { ...workspace, ref: "refs/heads/main" }, { token });
    const prepareMain = prepare("main");

    await expect(toMain).rejects.toBeInstanceOf(RefNotAllowedError);
    await expect(sneaky).rejects.toBeInstanceOf(RefNotAllowedError);
    await expect(mismatched).rejects.toBeInstanceOf(RefNotAllowedError);
    await expect(prepareMain).rejects.toBeInstanceOf(RefNotAllowedError);
    expect(remote.refs()).toEqual(before);
  });

  it("resumes from the existing remote branch on a retry", async () => {
    const first = await prepare();
    await safeWriteFile(first.path, "progress.txt", "step 1\n");
    const commit = await commitChanges(options, first, { message: "Step 1", trailers });
    await pushAuraBranch(options, first, { token });
    await safeWriteFile(first.path, "unpushed.txt", "lost on retry\n");

    const retry = await prepare();

    expect(retry).toMatchObject({ resumed: true, startSha: commit.sha, path: first.path });
    expect(readFileSync(path.join(retry.path, "progress.txt"), "utf8")).toBe("step 1\n");
    expect(existsSync(path.join(retry.path, "unpushed.txt"))).toBe(false);
    expect(await changedFiles(retry)).toEqual([]);
  });

  it("starts over whatever an earlier attempt left: a registered tree whose directory is gone, a local branch, a removed cache", async () => {
    const first = await prepare();
    await safeWriteFile(first.path, "unpushed.txt", "never pushed\n");
    await commitChanges(options, first, { message: "Unpushed", trailers });
    // A kill took the directory but not git's registration of it, nor the local branch with its commit.
    rmSync(first.path, { recursive: true, force: true });

    const again = await prepare();
    expect(again).toMatchObject({ resumed: false, startSha: first.baseSha, path: first.path });
    expect(existsSync(path.join(again.path, "unpushed.txt"))).toBe(false);
    expect(sh(again.cacheDir, "worktree", "list", "--porcelain").match(/^worktree /gm)).toHaveLength(2);

    // Another task's tree, then a removal: the other stays registered, this one is gone with its branch.
    const other = await prepare(taskBranchName(13, "Another"));
    await removeTaskWorkspace(again);
    expect(existsSync(again.path)).toBe(false);
    expect(sh(other.cacheDir, "for-each-ref", "--format=%(refname)", "refs/heads/").trim()).toBe(other.ref);
    expect(sh(other.cacheDir, "worktree", "list", "--porcelain")).toContain(`worktree ${other.path}\n`);

    // The cache removed while the process runs: made again, with its origin (fetching works).
    rmSync(again.cacheDir, { recursive: true, force: true });
    rmSync(path.join(options.root, "trees"), { recursive: true, force: true });
    const fresh = await prepare();
    expect(fresh.baseSha).toBe(first.baseSha);
    expect(sh(fresh.cacheDir, "config", "remote.origin.url").trim()).toBe(remote.url);
  });

  it("keeps a person's commit on the branch: merges instead of force-pushing", async () => {
    const workspace = await prepare();
    await safeWriteFile(workspace.path, "agent.txt", "agent 1\n");
    await commitChanges(options, workspace, { message: "Agent 1", trailers });
    await pushAuraBranch(options, workspace, { token });
    const person = remote.personClone("pat");
    sh(person, "checkout", "--quiet", workspace.branch);
    writeFileSync(path.join(person, "person.txt"), "added by a person\n");
    sh(person, "add", "person.txt");
    sh(person, "commit", "--quiet", "-m", "Person's fix");
    sh(person, "push", "--quiet", "origin", workspace.branch);
    const personSha = sh(person, "rev-parse", "HEAD").trim();

    await safeWriteFile(workspace.path, "agent.txt", "agent 2\n");
    const agentCommit = await commitChanges(options, workspace, { message: "Agent 2", trailers });
    const pushed = await pushAuraBranch(options, workspace, { token });

    const tip = remote.refs()[workspace.ref];
    expect(pushed.mergedRemoteChanges).toBe(1);
    expect(tip).toBe(pushed.sha);
    expect(sh(remote.bare, "merge-base", "--is-ancestor", personSha, tip ?? "")).toBe("");
    expect(sh(remote.bare, "merge-base", "--is-ancestor", agentCommit.sha, tip ?? "")).toBe("");
    expect(sh(remote.bare, "show", `${tip}:person.txt`)).toBe("added by a person\n");
  });

  it("reports a conflict with a person's commit as a typed error and leaves their commit as the tip", async () => {
    const workspace = await prepare();
    await safeWriteFile(workspace.path, "README.md", "# Agent\n");
    await commitChanges(options, workspace, { message: "Agent edit", trailers });
    await pushAuraBranch(options, workspace, { token });
    const person = remote.personClone("pat");
    sh(person, "checkout", "--quiet", workspace.branch);
    writeFileSync(path.join(person, "README.md"), "# Person\n");
    sh(person, "commit", "--quiet", "-am", "Person edit");
    sh(person, "push", "--quiet", "origin", workspace.branch);
    const personSha = sh(person, "rev-parse", "HEAD").trim();
    await safeWriteFile(workspace.path, "README.md", "# Agent again\n");
    await commitChanges(options, workspace, { message: "Agent edit 2", trailers });

    const push = pushAuraBranch(options, workspace, { token });

    await expect(push).rejects.toBeInstanceOf(MergeConflictError);
    await expect(push).rejects.toThrow(/README\.md/);
    expect(remote.refs()[workspace.ref]).toBe(personSha);
    expect(await changedFiles(workspace)).toEqual([]);
  });

  it("merges a moved base into the branch, or reports the conflict", async () => {
    const workspace = await prepare();
    await safeWriteFile(workspace.path, "README.md", "# Agent\n");
    await commitChanges(options, workspace, { message: "Agent edit", trailers });
    const person = remote.personClone("pat");
    writeFileSync(path.join(person, "NEW.md"), "new on main\n");
    sh(person, "add", "NEW.md");
    sh(person, "commit", "--quiet", "-m", "Main moves");
    sh(person, "push", "--quiet", "origin", "main");
    const mainBefore = remote.refs()["refs/heads/main"];

    const clean = await mergeBase(options, workspace, { token });
    const again = await mergeBase(options, workspace, { token });
    writeFileSync(path.join(person, "README.md"), "# Main\n");
    sh(person, "commit", "--quiet", "-am", "Main edits README");
    sh(person, "push", "--quiet", "origin", "main");
    const conflicting = mergeBase(options, workspace, { token });

    expect(clean.merged).toBe(true);
    expect(sh(workspace.path, `--git-dir=${workspace.gitDir}`, "log", "-1", "--format=%P", clean.sha).trim().split(" ")).toHaveLength(2);
    expect(readFileSync(path.join(workspace.path, "NEW.md"), "utf8")).toBe("new on main\n");
    expect(again).toMatchObject({ merged: false, sha: clean.sha });
    await expect(conflicting).rejects.toBeInstanceOf(MergeConflictError);
    expect(remote.refs()["refs/heads/main"]).not.toBe(mainBefore);
  });

  it("never runs hooks or an fsmonitor planted in the repository's git dir", async () => {
    const first = await prepare();
    const marker = path.join(temp.dir, "hook-ran");
    const script = `#!/bin/sh\necho "$0" >> ${marker}\n`;
    const hookDirs = [path.join(first.cacheDir, "hooks"), path.join(temp.dir, "custom-hooks")];
    for (const dir of hookDirs) {
      mkdirSync(dir, { recursive: true });
      for (const hook of ["pre-commit", "post-checkout", "post-commit", "pre-push", "post-merge", "reference-transaction", "commit-msg"]) {
        writeFileSync(path.join(dir, hook), script);
        chmodSync(path.join(dir, hook), 0o755);
      }
    }
    const monitor = path.join(temp.dir, "fsmonitor.sh");
    writeFileSync(monitor, script);
    chmodSync(monitor, 0o755);
    sh(first.cacheDir, "config", "core.fsmonitor", monitor);

    const workspace = await prepare();
    await safeWriteFile(workspace.path, "a.txt", "a\n");
    await commitChanges(options, workspace, { message: "a", trailers });
    await pushAuraBranch(options, workspace, { token });
    await listFiles(workspace);
    await changedFiles(workspace);
    await mergeBase(options, workspace, { token });
    sh(first.cacheDir, "config", "core.hooksPath", hookDirs[1] ?? "");
    await safeWriteFile(workspace.path, "b.txt", "b\n");
    await commitChanges(options, workspace, { message: "b", trailers });
    const ranUnderAura = existsSync(marker);
    // Control: the same planted hooks do run under a plain git, so the assertion above can fail.
    sh(
      workspace.path,
      `--git-dir=${workspace.gitDir}`,
      `--work-tree=${workspace.path}`,
      "-c",
      `safe.directory=*`,
      "commit",
      "--quiet",
      "--allow-empty",
      "-m",
      "control",
    );

    expect(ranUnderAura).toBe(false);
    expect(readFileSync(marker, "utf8")).toMatch(/pre-commit|fsmonitor/);
  });

  it("keeps the token out of .git/config, remote URLs and error messages", async () => {
    const workspace = await prepare();
    await safeWriteFile(workspace.path, "a.txt", "a\n");
    await commitChanges(options, workspace, { message: "a", trailers });
    await pushAuraBranch(options, workspace, { token });
    sh(remote.bare, "config", "receive.denyCurrentBranch", "refuse");
    writeFileSync(path.join(remote.bare, "hooks", "pre-receive"), "#!/bin/sh\necho rejected by server >&2\nexit 1\n");
    chmodSync(path.join(remote.bare, "hooks", "pre-receive"), 0o755);
    await safeWriteFile(workspace.path, "b.txt", "b\n");
    await commitChanges(options, workspace, { message: "b", trailers });

    const failure = await pushAuraBranch(options, workspace, { token }).catch((error: unknown) => error);

    const configs = [path.join(workspace.cacheDir, "config"), path.join(workspace.gitDir, "config.worktree")]
      .filter(existsSync)
      .map((file) => readFileSync(file, "utf8"))
      .join("\n");
    expect(configs).toContain(remote.url);
    expect(configs).not.toContain(token);
    expect(configs).not.toMatch(/extraheader|x-access-token/i);
    expect(sh(workspace.cacheDir, "remote", "get-url", "origin").trim()).toBe(remote.url);
    expect(failure).toBeInstanceOf(GitCommandError);
    expect(String((failure as Error).message)).toMatch(/rejected/);
    expect(JSON.stringify({ message: (failure as Error).message, stack: (failure as Error).stack })).not.toContain(token);
  });

  it("refuses a local clone source unless local clones are allowed", async () => {
    const strict = { ...options, allowLocalClone: false };

    const attempt = prepareTaskWorkspace(strict, {
      repo: { fullName: "octo/app", githubWebUrl: "https://github.com", cloneUrl: remote.url },
      branch: "aura/1-x",
      baseRef: "main",
    });

    await expect(attempt).rejects.toBeInstanceOf(CloneSourceNotAllowedError);
    expect(existsSync(path.join(options.root, "cache"))).toBe(false);
  });

  it("starts the caches of a local source from its object files, keeps only the refs fetched, and still follows the remote", async () => {
    const head = remote.refs()["refs/heads/main"] as string;
    const looseFile = (gitDir: string) => path.join(gitDir, "objects", head.slice(0, 2), head.slice(2));

    const workspace = await prepare();
    const audited = await withDetachedCheckout(
      options,
      { repo: { fullName: "octo/app", githubWebUrl: "https://github.com", cloneUrl: remote.url }, sha: head },
      async (tree) => readFileSync(path.join(tree, "README.md"), "utf8"),
    );
    const auditCache = path.join(options.root, "audit-cache", readdirSync(path.join(options.root, "audit-cache"))[0] as string);
    sh(remote.personClone("mover"), "commit", "--quiet", "--allow-empty", "-m", "Move main");
    sh(path.join(temp.dir, "person-mover"), "push", "--quiet", "origin", "main");
    const moved = await prepare("aura/13-next");

    // The remote's object files are shared (hard-linked), not fetched into a pack of the cache's own.
    expect(statSync(looseFile(remote.bare)).nlink).toBeGreaterThanOrEqual(3);
    expect(statSync(looseFile(workspace.cacheDir)).ino).toBe(statSync(looseFile(remote.bare)).ino);
    expect(statSync(looseFile(auditCache)).ino).toBe(statSync(looseFile(remote.bare)).ino);
    expect(audited).toBe("# App\n");
    // Only what the cache's own fetches and branches wrote: no copy of the remote's refs or remote settings.
    expect(sh(workspace.cacheDir, "for-each-ref", "--format=%(refname)").trim().split("\n").sort()).toEqual([
      "refs/heads/aura/12-add-the-greeting",
      "refs/heads/aura/13-next",
      "refs/remotes/origin/main",
    ]);
    expect(sh(auditCache, "for-each-ref", "--format=%(refname)").trim()).toBe("");
    expect(sh(workspace.cacheDir, "config", "--get-all", "remote.origin.fetch").trim()).toBe("+refs/heads/*:refs/remotes/origin/*");
    // A later commit of the remote is fetched: the cache is refreshed, not frozen at its seed.
    expect(moved.baseSha).toBe(remote.refs()["refs/heads/main"]);
    expect(moved.baseSha).not.toBe(head);
  });
});

describe("one work tree for several commits (the Auditor's base and head)", () => {
  it("resets the tree to exactly each commit: tracked files as committed, untracked and ignored files gone, the pointer kept", async () => {
    const base = remote.refs()["refs/heads/main"] as string;
    const clone = remote.personClone("head");
    writeFileSync(path.join(clone, ".gitignore"), "node_modules/\n");
    writeFileSync(path.join(clone, "src", "index.js"), "export const one = 2;\n");
    writeFileSync(path.join(clone, "src", "new.js"), "export const two = 2;\n");
    sh(clone, "add", "--all");
    sh(clone, "commit", "--quiet", "-m", "Head");
    sh(clone, "push", "--quiet", "origin", "HEAD:refs/heads/aura/1-head");
    const head = sh(clone, "rev-parse", "HEAD").trim();
    const listing = (tree: string) => sh(tree, "ls-files", "--others", "--modified", "--deleted", "--exclude-standard").trim();
    const seen: { sha: string; files: string[]; index: string; status: string; pointer: string }[] = [];
    let used = "";

    await withDetachedCheckouts(
      options,
      { repo: { fullName: "octo/app", githubWebUrl: "https://github.com", cloneUrl: remote.url }, shas: [base, head] },
      async (tree, sha) => {
        used ||= tree;
        seen.push({
          sha,
          files: readdirSync(tree, { recursive: true })
            .map(String)
            .filter((file) => !file.startsWith(".git") || file === ".gitignore")
            .sort(),
          index: readFileSync(path.join(tree, "src", "index.js"), "utf8"),
          status: listing(tree),
          pointer: readFileSync(path.join(tree, ".git"), "utf8"),
        });
        // What a run may leave: an edited and a deleted tracked file, an untracked file, an ignored directory.
        writeFileSync(path.join(tree, "src", "index.js"), "export const one = 99;\n");
        rmSync(path.join(tree, "README.md"));
        writeFileSync(path.join(tree, "left.txt"), "left behind\n");
        mkdirSync(path.join(tree, "node_modules", "pkg"), { recursive: true });
        writeFileSync(path.join(tree, "node_modules", "pkg", "index.js"), "module.exports = 1;\n");
      },
    );

    expect(seen.map((run) => run.sha)).toEqual([base, head]);
    expect(seen[0]?.files).toEqual(["README.md", "src", "src/index.js"]);
    expect(seen[0]?.index).toBe("export const one = 1;\n");
    expect(seen[1]?.files).toEqual([".gitignore", "README.md", "src", "src/index.js", "src/new.js"]);
    expect(seen[1]?.index).toBe("export const one = 2;\n");
    expect(seen.map((run) => run.status)).toEqual(["", ""]);
    expect(seen[1]?.pointer).toBe(seen[0]?.pointer);
    expect(existsSync(used)).toBe(false);
  });
});

const bwrap = probeBwrap();

describe.skipIf(!bwrap.ok)(`work tree in the sandbox${bwrap.ok ? "" : ` (skipped: ${bwrap.ok ? "" : bwrap.error})`}`, () => {
  it("runs the tests in the tree, cannot reach git metadata, and the host still commits and pushes", async () => {
    const workspace = await prepare();
    const pointer = readFileSync(path.join(workspace.path, ".git"), "utf8");

    const run = await runInSandbox(
      { allowUnsandboxed: false },
      {
        command: "cat README.md; echo 'gitdir: /tmp/evil' > .git || echo git-refused; echo generated > out.txt",
        cwd: workspace.path,
        phase: "test",
      },
    );
    await safeWriteFile(workspace.path, "src/new.js", "export {};\n");
    const commit = await commitChanges(options, workspace, { message: "After the run", trailers, paths: ["src/new.js"] });
    await pushAuraBranch(options, workspace, { token });

    expect(run.log).toContain("# App");
    expect(run.log).toContain("git-refused");
    expect(readFileSync(path.join(workspace.path, ".git"), "utf8")).toBe(pointer);
    expect(remote.refs()[workspace.ref]).toBe(commit.sha);
    expect(sh(remote.bare, "show", "--name-only", "--format=", commit.sha).trim()).toBe("src/new.js");
    expect(await changedFiles(workspace)).toEqual(["out.txt"]);
  });
});

describe("git credentials", () => {
  it("gives git the token only as a header scoped to the https remote's origin, never on disk", async () => {
    const gitDir = path.join(temp.dir, "scratch.git");
    sh(temp.dir, "init", "--quiet", "--bare", gitDir);
    const https = { gitDir, protocols: ["https"] as const, token, remoteUrl: "https://github.com/octo/app.git" };
    const local = { ...https, protocols: ["file"] as const, remoteUrl: remote.url };
    const lookup = (target: typeof https | typeof local, url: string) =>
      git(target, ["config", "--get-urlmatch", "http.extraheader", url], { okExitCodes: [1] });

    const forGithub = await lookup(https, "https://github.com/octo/app.git");
    const forElsewhere = await lookup(https, "https://evil.example.com/octo/app.git");
    const forLocal = await lookup(local, "https://github.com/octo/app.git");
    const push = git(https, ["push", "origin", "HEAD:refs/heads/main"]);

    expect(forGithub.stdout.trim()).toBe(`Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`);
    expect(forElsewhere).toEqual({ stdout: "", exitCode: 1 });
    expect(forLocal).toEqual({ stdout: "", exitCode: 1 });
    expect(readFileSync(path.join(gitDir, "config"), "utf8")).not.toContain(token);
    await expect(push).rejects.toBeInstanceOf(GitCommandError);
  });
});
