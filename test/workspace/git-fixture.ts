// Test fixtures for the workspace: a temporary directory tree and a local bare repository standing in for
// GitHub, driven with the system git in a hermetic environment (no global or system config).
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";

export const hermeticGitEnv = {
  PATH: "/usr/local/bin:/usr/bin:/bin",
  HOME: "/nonexistent",
  LANG: "C",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "Pat Person",
  GIT_AUTHOR_EMAIL: "pat@example.com",
  GIT_COMMITTER_NAME: "Pat Person",
  GIT_COMMITTER_EMAIL: "pat@example.com",
};

/** Runs the system git as a person would (hooks and all), for arranging and inspecting fixtures. */
export function sh(cwd: string, ...args: string[]): string {
  return execFileSync("git", ["-c", "protocol.file.allow=always", ...args], {
    cwd,
    env: hermeticGitEnv,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** A temp dir the unprivileged sandbox user can traverse (mkdtemp makes 0700 directories). */
export function makeTempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One temp dir (as makeTempDir makes it) for the whole test file: made before its first test, removed after its last. Read `dir` in hooks and tests only. */
export function useTempDir(prefix: string): { readonly dir: string } {
  let temp: ReturnType<typeof makeTempDir> | undefined;
  beforeAll(() => {
    temp = makeTempDir(prefix);
  });
  afterAll(() => {
    temp?.cleanup();
  });
  return {
    get dir(): string {
      if (!temp) throw new Error("the temp dir is made in beforeAll: read it in a hook or a test");
      return temp.dir;
    },
  };
}

/**
 * Before each test, a fresh temp dir (0755, so the sandbox user can reach in) holding `tree/` with an empty
 * package.json, the project a sandboxed run works in; removed after the test. Read in hooks and tests only.
 */
export function useScratchTree(prefix: string): { readonly dir: string; readonly tree: string } {
  let temp: ReturnType<typeof makeTempDir> | undefined;
  beforeEach(() => {
    temp = makeTempDir(prefix);
    chmodSync(temp.dir, 0o755);
    mkdirSync(path.join(temp.dir, "tree"));
    writeFileSync(path.join(temp.dir, "tree", "package.json"), "{}\n");
  });
  afterEach(() => {
    temp?.cleanup();
  });
  const dir = (): string => {
    if (!temp) throw new Error("the scratch tree is made in beforeEach: read it in a hook or a test");
    return temp.dir;
  };
  return {
    get dir(): string {
      return dir();
    },
    get tree(): string {
      return path.join(dir(), "tree");
    },
  };
}

export type BareRemote = {
  bare: string;
  url: string;
  /** All refs on the remote with their commits. */
  refs: () => Record<string, string>;
  /** A person's clone for pushing commits of their own. */
  personClone: (name: string) => string;
};

/** A bare repository with a `main` branch holding the given files, plus a person's scratch clones. */
export function createBareRemote(parent: string, files: Record<string, string>): BareRemote {
  const bare = path.join(parent, "remote.git");
  sh(parent, "init", "--quiet", "--bare", "--initial-branch=main", bare);
  sh(bare, "config", "uploadpack.allowFilter", "true");
  const seed = path.join(parent, "seed");
  sh(parent, "init", "--quiet", "--initial-branch=main", seed);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(seed, file)), { recursive: true });
    writeFileSync(path.join(seed, file), content);
  }
  sh(seed, "add", "--all");
  sh(seed, "commit", "--quiet", "-m", "Initial commit");
  sh(seed, "push", "--quiet", bare, "main:main");
  return {
    bare,
    url: `file://${bare}`,
    refs: () =>
      Object.fromEntries(
        sh(bare, "for-each-ref", "--format=%(refname) %(objectname)")
          .trim()
          .split("\n")
          .filter((line) => line !== "")
          .map((line) => line.split(" ") as [string, string]),
      ),
    personClone: (name: string) => {
      const dir = path.join(parent, `person-${name}`);
      sh(parent, "clone", "--quiet", bare, dir);
      return dir;
    },
  };
}
