// Runs a repository's setup and test commands in a sandbox: bubblewrap with every namespace unshared, no
// network, a read-only system, only the work tree writable (its .git hidden), a scrubbed environment and
// resource limits. Without a working bubblewrap it refuses, unless AURA_ALLOW_UNSANDBOXED=true, in which
// case a plain child process runs with the same environment and limits and the result says `sandbox: none`.
//
// Setup (dependency installation) also runs without network by default. Restricting a sandbox to "the
// package registry only" needs a filtering proxy this project does not have, so the honest choice is all or
// nothing: `allowSetupNetwork` gives the setup phase (never the test phase) the host's network, still with no
// secrets in its environment and install scripts off in the default commands.
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, readlinkSync, realpathSync } from "node:fs";
import { chown, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { SandboxStartError, SandboxUnavailableError } from "./errors.js";
import { OutputCapture } from "./output-capture.js";
import { parseTestCounts, type TestCounts } from "./test-counts.js";

const execFileAsync = promisify(execFile);

export type SandboxPhase = "setup" | "test";
export type SandboxKind = "bwrap" | "none";

export type SandboxOptions = {
  /** AURA_ALLOW_UNSANDBOXED: run as a plain process when bubblewrap does not work. */
  allowUnsandboxed: boolean;
  /** Give the setup phase network access (tests never get it). Default false. */
  allowSetupNetwork?: boolean;
  /** Defaults to /usr/bin/bwrap. */
  bwrapPath?: string;
  /**
   * Host user the commands run as. Defaults to nobody (65534) when the app runs as root: the kernel does
   * not enforce process limits for root, and file permissions then add a second barrier.
   */
  sandboxUser?: { uid: number; gid: number };
};

export type SandboxRunInput = {
  command: string;
  /** The task's work tree; bound read-write at /workspace (its .git stays unwritable). */
  cwd: string;
  phase: SandboxPhase;
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** Address-space limit per process. */
  memoryMb?: number;
  /** Process limit for the sandbox user. */
  maxProcesses?: number;
};

export type SandboxResult = {
  command: string;
  phase: SandboxPhase;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  durationMs: number;
  sandbox: SandboxKind;
  network: boolean;
  /** sha256 of the full combined stdout/stderr. */
  logSha256: string;
  /** Head and tail of the log, at most maxOutputBytes (plus an omission marker). */
  log: string;
  logBytes: number;
  logTruncated: boolean;
  testCounts: TestCounts | undefined;
  /** The limits actually applied, for the evidence. */
  limits: { timeoutMs: number; memoryMb: number | null; maxProcesses: number | null; maxOutputBytes: number };
};

export const SANDBOX_DEFAULTS = {
  timeoutMs: 10 * 60_000,
  maxOutputBytes: 1024 * 1024,
  memoryMb: 4096,
  maxProcesses: 256,
  maxFileMb: 1024,
} as const;

const SANDBOX_HOME = "/home/aura";
const SANDBOX_TREE = "/workspace";
const NOBODY = { uid: 65534, gid: 65534 };

function sandboxUser(options: SandboxOptions): { uid: number; gid: number } | undefined {
  if (options.sandboxUser) return options.sandboxUser;
  return process.getuid?.() === 0 ? NOBODY : undefined;
}

/** The node runtime's install prefix when it lives outside /usr (nvm, /opt), which must be bound too. */
function runtimePrefix(): string | undefined {
  const prefix = path.dirname(path.dirname(realpathSync(process.execPath)));
  return prefix === "/usr" || prefix.startsWith("/usr/") ? undefined : prefix;
}

function sandboxPath(): string {
  const prefix = runtimePrefix();
  return [...(prefix ? [path.join(prefix, "bin")] : []), "/usr/local/bin", "/usr/bin", "/bin"].join(":");
}

/** PATH, HOME, LANG and CI only: nothing from the app's environment reaches repository code. */
function scrubbedEnv(home: string): Record<string, string> {
  return { PATH: sandboxPath(), HOME: home, LANG: "C.UTF-8", CI: "true" };
}

// /bin, /lib and friends are symlinks into /usr on merged-/usr systems and real directories elsewhere.
function systemBinds(network: boolean): string[] {
  const args = ["--ro-bind", "/usr", "/usr"];
  for (const dir of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    if (!existsSync(dir)) continue;
    const stats = lstatSync(dir);
    if (stats.isSymbolicLink()) args.push("--symlink", readlinkSync(dir), dir);
    else if (stats.isDirectory()) args.push("--ro-bind", dir, dir);
  }
  for (const dir of ["/etc/ssl", "/etc/ca-certificates", "/etc/alternatives", "/etc/ld.so.cache"]) {
    args.push("--ro-bind-try", dir, dir);
  }
  if (network) {
    for (const file of ["/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/gai.conf"]) {
      args.push("--ro-bind-try", file, file);
    }
  }
  const prefix = runtimePrefix();
  if (prefix) args.push("--ro-bind", prefix, prefix);
  return args;
}

function bwrapArgs(network: boolean, tree: string | undefined): string[] {
  const args = [
    "--unshare-user",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    ...(network ? [] : ["--unshare-net"]),
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--new-session",
    "--hostname",
    "aura-sandbox",
    ...systemBinds(network),
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
    "--tmpfs",
    SANDBOX_HOME,
  ];
  if (tree !== undefined) {
    args.push("--bind", tree, SANDBOX_TREE);
    // The host runs git on this tree, so repository code must not be able to touch its git metadata.
    const dotGit = path.join(tree, ".git");
    if (existsSync(dotGit)) {
      if (lstatSync(dotGit).isDirectory()) args.push("--tmpfs", `${SANDBOX_TREE}/.git`, "--remount-ro", `${SANDBOX_TREE}/.git`);
      else args.push("--ro-bind", "/dev/null", `${SANDBOX_TREE}/.git`);
    }
    args.push("--chdir", SANDBOX_TREE);
  }
  args.push("--remount-ro", "/");
  return args;
}

type Probe = { ok: true } | { ok: false; error: string };
const probes = new Map<string, Probe>();

/** Whether bubblewrap actually starts a sandbox here (installed is not enough: user namespaces may be off). */
export function probeBwrap(options: Pick<SandboxOptions, "bwrapPath" | "sandboxUser"> = {}): Probe {
  const bwrap = options.bwrapPath ?? "/usr/bin/bwrap";
  const user = sandboxUser({ allowUnsandboxed: false, ...options });
  const key = `${bwrap}:${user?.uid ?? "self"}`;
  const cached = probes.get(key);
  if (cached) return cached;
  let probe: Probe;
  if (!existsSync(bwrap)) {
    probe = { ok: false, error: `${bwrap} is not installed` };
  } else {
    const result = spawnSync(bwrap, [...bwrapArgs(false, undefined), "--", "/bin/true"], {
      cwd: "/",
      env: scrubbedEnv(SANDBOX_HOME),
      timeout: 10_000,
      encoding: "utf8",
      ...(user ?? {}),
    });
    probe =
      result.status === 0
        ? { ok: true }
        : { ok: false, error: `${bwrap} failed: ${(result.stderr || result.error?.message || `exit ${result.status}`).trim()}` };
  }
  probes.set(key, probe);
  return probe;
}

/** For /ready: "bwrap", "none" (unsandboxed, allowed by the operator) or "unavailable" (commands refused). */
export function sandboxMode(options: SandboxOptions): "bwrap" | "none" | "unavailable" {
  if (probeBwrap(options).ok) return "bwrap";
  return options.allowUnsandboxed ? "none" : "unavailable";
}

function limitPrefix(memoryMb: number, maxProcesses: number): { argv: string[]; applied: boolean } {
  const prlimit = ["/usr/bin/prlimit", "/bin/prlimit"].find((candidate) => existsSync(candidate));
  if (!prlimit) return { argv: [], applied: false };
  return {
    argv: [
      prlimit,
      `--as=${memoryMb * 1024 * 1024}`,
      `--nproc=${maxProcesses}`,
      `--fsize=${SANDBOX_DEFAULTS.maxFileMb * 1024 * 1024}`,
      "--core=0",
      "--",
    ],
    applied: true,
  };
}

// bwrap runs as the sandbox user, so it must be able to traverse to the tree; otherwise it fails with a
// message that would look like a failing test run.
async function assertReachable(tree: string, user: { uid: number; gid: number }): Promise<void> {
  for (let dir = path.dirname(tree); ; dir = path.dirname(dir)) {
    const stats = await stat(dir);
    const bit = stats.uid === user.uid ? 0o100 : stats.gid === user.gid ? 0o010 : 0o001;
    if ((stats.mode & bit) === 0) {
      throw new SandboxStartError(`the sandbox user (uid ${user.uid}) cannot traverse ${dir}; run chmod o+x on it or move the workspace root`);
    }
    if (dir === path.dirname(dir)) return;
  }
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // ESRCH: the group is already gone.
  }
}

/** Runs one setup or test command and reports what happened. Throws SandboxUnavailableError when refused. */
export async function runInSandbox(options: SandboxOptions, input: SandboxRunInput): Promise<SandboxResult> {
  const timeoutMs = input.timeoutMs ?? SANDBOX_DEFAULTS.timeoutMs;
  const maxOutputBytes = input.maxOutputBytes ?? SANDBOX_DEFAULTS.maxOutputBytes;
  const memoryMb = input.memoryMb ?? SANDBOX_DEFAULTS.memoryMb;
  const maxProcesses = input.maxProcesses ?? SANDBOX_DEFAULTS.maxProcesses;
  const probe = probeBwrap(options);
  if (!probe.ok && !options.allowUnsandboxed) throw new SandboxUnavailableError(probe.error);
  const kind: SandboxKind = probe.ok ? "bwrap" : "none";
  const network = input.phase === "setup" && options.allowSetupNetwork === true;
  const tree = realpathSync(input.cwd);
  const user = sandboxUser(options);
  const limits = limitPrefix(memoryMb, maxProcesses);

  if (user) {
    await assertReachable(tree, user);
    // The tree was written by the host (git, edits) and must be writable by the sandbox user.
    await execFileAsync("chown", ["-R", "-h", `${user.uid}:${user.gid}`, "--", tree]);
  }
  let hostHome: string | undefined;
  let argv: string[];
  let cwd: string;
  let env: Record<string, string>;
  if (kind === "bwrap") {
    argv = [...limits.argv, options.bwrapPath ?? "/usr/bin/bwrap", ...bwrapArgs(network, tree), "--", "/bin/sh", "-c", input.command];
    cwd = "/";
    env = scrubbedEnv(SANDBOX_HOME);
  } else {
    hostHome = await mkdtemp(path.join(os.tmpdir(), "aura-home-"));
    if (user) await chown(hostHome, user.uid, user.gid);
    argv = [...limits.argv, "/bin/sh", "-c", input.command];
    cwd = tree;
    env = scrubbedEnv(hostHome);
  }

  const capture = new OutputCapture(maxOutputBytes);
  const started = performance.now();
  try {
    const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; timedOut: boolean }>((resolve, reject) => {
      const [file, ...args] = argv;
      const child = spawn(file ?? "/bin/sh", args, {
        cwd,
        env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        ...(user ?? {}),
      });
      let timedOut = false;
      let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      let openStreams = 2;
      const finish = () => {
        if (exit !== undefined && openStreams === 0) resolve({ ...exit, timedOut });
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child.pid);
      }, timeoutMs);
      for (const stream of [child.stdout, child.stderr]) {
        stream.on("data", (chunk: Buffer) => capture.write(chunk));
        stream.on("close", () => {
          openStreams--;
          finish();
        });
      }
      child.on("error", (error) => {
        clearTimeout(timer);
        reject(new SandboxStartError(`could not start ${file}: ${error.message}`));
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        exit = { code, signal };
        // Background processes left behind must not outlive the run (or hold the pipes open).
        killGroup(child.pid);
        finish();
      });
    });
    const output = capture.finish();
    return {
      command: input.command,
      phase: input.phase,
      exitCode: outcome.code,
      signal: outcome.signal,
      timedOut: outcome.timedOut,
      durationMs: Math.round(performance.now() - started),
      sandbox: kind,
      network,
      logSha256: output.sha256,
      log: output.text,
      logBytes: output.totalBytes,
      logTruncated: output.truncated,
      testCounts: input.phase === "test" ? parseTestCounts(output.text) : undefined,
      limits: {
        timeoutMs,
        memoryMb: limits.applied ? memoryMb : null,
        maxProcesses: limits.applied ? maxProcesses : null,
        maxOutputBytes,
      },
    };
  } finally {
    if (hostHome) await rm(hostHome, { recursive: true, force: true });
  }
}
