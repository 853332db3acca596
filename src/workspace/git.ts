// The one way the app runs git on the host. Every command is hermetic and inert with respect to the
// repository's own content: no system or global config, hooks pointed at /dev/null, fsmonitor off, only the
// allowed transport protocols, an explicit git dir and work tree, and the installation token passed through
// the environment of that one process (never argv, never a remote URL, never .git/config).
import { simpleGit, type SimpleGit } from "simple-git";
import { GitCommandError } from "./errors.js";
import { redact } from "./redact.js";

export type GitProtocol = "https" | "http" | "file";

export type GitIdentity = { name: string; email: string };

export type GitTarget = {
  /** The repository's git dir (a bare cache, or a worktree's private dir inside it). */
  gitDir: string;
  /** Set for commands that touch files; omitted for commands on the bare cache. */
  workTree?: string;
  /** Transports this command may use; all others are denied. */
  protocols: readonly GitProtocol[];
  /** The installation token for https remotes. Sent as an HTTP header through the environment only. */
  token?: string | undefined;
  /** The remote's URL: the token header is scoped to its origin, so a redirect elsewhere never gets it. */
  remoteUrl?: string | undefined;
  /** Author and committer for commits and merges. */
  identity?: GitIdentity;
};

export type GitResult = { stdout: string; exitCode: number };

/** Exit status of a failed git process, kept so callers can tell "no" (exit 1) from a failure. */
type GitExit = { exitCode: number; output: string };

function configArgs(target: GitTarget): string[] {
  const config = [
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "core.askPass=",
    "credential.helper=",
    "protocol.allow=never",
    ...(["https", "http", "file"] as const).map((p) => `protocol.${p}.allow=${target.protocols.includes(p) ? "always" : "never"}`),
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "submodule.recurse=false",
    "advice.detachedHead=false",
    "init.defaultBranch=main",
    "gc.auto=0",
    "maintenance.auto=false",
  ];
  if (target.workTree !== undefined) config.push(`safe.directory=${target.workTree}`);
  if (target.identity !== undefined) config.push(`user.name=${target.identity.name}`, `user.email=${target.identity.email}`);
  return config;
}

function environment(target: GitTarget): Record<string, string> {
  const env: Record<string, string> = {
    PATH: "/usr/local/bin:/usr/bin:/bin",
    HOME: "/nonexistent",
    LANG: "C",
    LC_ALL: "C",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_TERMINAL_PROMPT: "0",
    GIT_OPTIONAL_LOCKS: "0",
    GIT_DIR: target.gitDir,
  };
  if (target.workTree !== undefined) env.GIT_WORK_TREE = target.workTree;
  if (target.identity !== undefined) {
    env.GIT_AUTHOR_NAME = target.identity.name;
    env.GIT_AUTHOR_EMAIL = target.identity.email;
    env.GIT_COMMITTER_NAME = target.identity.name;
    env.GIT_COMMITTER_EMAIL = target.identity.email;
  }
  const remote = target.remoteUrl !== undefined && URL.canParse(target.remoteUrl) ? new URL(target.remoteUrl) : undefined;
  // Only http(s) remotes get the token: a file:// remote's receive-pack and hooks would inherit it.
  if (target.token !== undefined && target.token !== "" && (remote?.protocol === "https:" || remote?.protocol === "http:")) {
    // Config from the environment: visible to this process only, unlike argv (ps) or .git/config (disk).
    const basic = Buffer.from(`x-access-token:${target.token}`).toString("base64");
    env.GIT_CONFIG_COUNT = "1";
    env.GIT_CONFIG_KEY_0 = `http.${remote.origin}/.extraHeader`;
    env.GIT_CONFIG_VALUE_0 = `Authorization: Basic ${basic}`;
  }
  return env;
}

function client(target: GitTarget, cwd: string, onExit: (exit: GitExit) => void): SimpleGit {
  return simpleGit({
    baseDir: cwd,
    config: configArgs(target),
    // simple-git blocks these settings by default because callers might pass untrusted values; here they
    // are the hardening itself and every value is fixed by this module.
    unsafe: {
      allowUnsafeHooksPath: true,
      allowUnsafeFsMonitor: true,
      allowUnsafeProtocolOverride: true,
      allowUnsafeConfigPaths: true,
      allowUnsafeConfigEnvCount: true,
      allowUnsafeAskPass: true,
      allowUnsafeCredentialHelper: true,
    },
    errors: (error, result) => {
      if (result.exitCode === 0) return error;
      const output = Buffer.concat([...result.stdOut, ...result.stdErr]);
      onExit({ exitCode: result.exitCode, output: output.toString("utf8") });
      return output;
    },
  })
    .env(environment(target))
    .outputHandler((_command, stdout, stderr) => {
      // simple-git's completion detection waits a further 50 ms after a git process that printed nothing, in case
      // output arrives after the process closed (some platforms' streams do). On Linux stdout has ended by then:
      // an empty chunk on stderr at that moment tells it output is complete. Without it every silent command
      // (config, add, worktree prune, branch -D, diff --quiet…) cost 50 ms more: about 40 per eval attempt.
      stdout.once("end", () => stderr.emit("data", Buffer.alloc(0)));
    });
}

/**
 * Runs `git <args>` against the target. Refuses `push` and `send-pack`: the one way to write a remote ref
 * is pushAuraBranch, which checks the ref.
 */
export async function git(target: GitTarget, args: string[], options: { cwd?: string; okExitCodes?: number[] } = {}): Promise<GitResult> {
  if (args[0] === "push" || args[0] === "send-pack") {
    throw new GitCommandError(args[0], "remote writes go through pushAuraBranch only");
  }
  return runGit(target, args, options);
}

/**
 * Runs `git <args>` against the target (module-internal; also used by the push function). Exit codes listed in `okExitCodes` (besides 0) resolve with their
 * code; any other failure throws GitCommandError with the token removed from every part of the message.
 */
export async function runGit(target: GitTarget, args: string[], options: { cwd?: string; okExitCodes?: number[] } = {}): Promise<GitResult> {
  const cwd = options.cwd ?? target.workTree ?? target.gitDir;
  const secrets = target.token ? [target.token] : [];
  let exit: GitExit | undefined;
  try {
    const stdout = await client(target, cwd, (value) => (exit = value)).raw(args);
    return { stdout, exitCode: 0 };
  } catch (error) {
    if (exit !== undefined && options.okExitCodes?.includes(exit.exitCode)) {
      return { stdout: exit.output, exitCode: exit.exitCode };
    }
    const text = exit !== undefined ? exit.output : error instanceof Error ? error.message : String(error);
    throw new GitCommandError(redact(args.slice(0, 2).join(" "), secrets), redact(text, secrets));
  }
}
