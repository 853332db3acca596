// Runs a repository's setup and test commands in a sandbox: bubblewrap with every namespace unshared (the
// network included), a read-only system, only the work tree writable (its .git hidden), a scrubbed
// environment and resource limits. Without a working bubblewrap, or without a working limit mechanism, it
// refuses, unless AURA_ALLOW_UNSANDBOXED=true; then it runs anyway and the result's `mode` says what was
// missing (`none`, `bwrap (no resource limits)`).
//
// The setup phase (dependency installation) may reach the package registry and nothing else when
// `allowSetupNetwork` is set: it still has no route anywhere (its network namespace holds only loopback),
// but a forwarder on that loopback pipes connections to an allow-list proxy on the host (registry-proxy.ts)
// through a Unix socket bound into the sandbox. The test phase never gets the proxy. Install scripts are
// off in setup (npm_config_ignore_scripts) unless the operator allows them.
import { execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, readlinkSync, realpathSync } from "node:fs";
import { chown, copyFile, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { SandboxStartError, SandboxUnavailableError } from "./errors.js";
import { OutputCapture } from "./output-capture.js";
import { DEFAULT_REGISTRY_HOSTS, startRegistryProxy, type EgressEvent, type RegistryProxy } from "./registry-proxy.js";
import { LIMIT_DEFAULTS, limitPrefix, probeLimits, SandboxLimitsUnavailableError, type LimitProbe } from "./sandbox-limits.js";
import { parseTestCounts, type TestCounts } from "./test-counts.js";

const execFileAsync = promisify(execFile);

export type SandboxPhase = "setup" | "test";
export type SandboxKind = "bwrap" | "none";
/** What a run actually had: the sandbox, and whether memory/process limits applied. */
export type SandboxRunMode = "bwrap" | "bwrap (no resource limits)" | "none" | "none (no resource limits)";
/** For /ready and the work loop: `unavailable` means setup and test commands are refused. */
export type SandboxMode = SandboxRunMode | "unavailable";

/** How a run could reach the outside: not at all, the registry proxy only, or the host's network (unsandboxed). */
export type SandboxEgress =
  | { kind: "none" }
  | { kind: "registry-proxy"; allowed: string[]; refused: string[] }
  | { kind: "host" };

export type SandboxOptions = {
  /** AURA_ALLOW_UNSANDBOXED: run without bubblewrap, or without resource limits, when they do not work. */
  allowUnsandboxed: boolean;
  /** AURA_SETUP_NETWORK: the setup phase may reach the registry hosts through the proxy (tests never). */
  allowSetupNetwork?: boolean;
  /** AURA_SETUP_REGISTRY_HOSTS as `host:port`; defaults to registry.npmjs.org:443. */
  registryHosts?: readonly string[];
  /** AURA_SETUP_INSTALL_SCRIPTS: leave npm lifecycle scripts on during setup. Default false. */
  allowInstallScripts?: boolean;
  /** Each proxy decision (refusals are worth a warning in the app's log). */
  onEgress?: (event: EgressEvent) => void;
  /** The limit mechanism; defaults to the probe of this host (tests inject a result). */
  limits?: LimitProbe;
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
  /** `sandbox` plus whether limits applied, e.g. "bwrap (no resource limits)": say this in evidence. */
  mode: SandboxRunMode;
  /** Whether the command could reach anything outside (see `egress` for what). */
  network: boolean;
  egress: SandboxEgress;
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
  maxFileMb: LIMIT_DEFAULTS.maxFileMb,
} as const;

const SANDBOX_HOME = "/home/aura";
const SANDBOX_TREE = "/workspace";
/** Where the per-run egress directory (proxy socket, forwarder script) appears inside the sandbox. */
const SANDBOX_EGRESS = "/aura-egress";
/** The forwarder's port on the sandbox's private loopback; nothing else listens there. */
const SANDBOX_PROXY_PORT = 3128;
const FORWARDER_SOURCE = fileURLToPath(new URL("./sandbox-forwarder.mjs", import.meta.url));
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
function systemBinds(): string[] {
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
  const prefix = runtimePrefix();
  if (prefix) args.push("--ro-bind", prefix, prefix);
  return args;
}

function bwrapArgs(tree: string | undefined, egressDir?: string): string[] {
  const args = [
    "--unshare-user",
    "--unshare-pid",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
    "--unshare-net",
    "--cap-drop",
    "ALL",
    "--die-with-parent",
    "--new-session",
    "--hostname",
    "aura-sandbox",
    ...systemBinds(),
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
  if (egressDir !== undefined) args.push("--ro-bind", egressDir, SANDBOX_EGRESS);
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
    const result = spawnSync(bwrap, [...bwrapArgs(undefined), "--", "/bin/true"], {
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

export type SandboxStatus = {
  mode: SandboxMode;
  bwrap: string;
  limits: string;
  setupEgress: string;
};

/** The sandbox mode: what runs would get, or `unavailable` when setup and test commands are refused. */
export function sandboxMode(options: SandboxOptions): SandboxMode {
  const bwrap = probeBwrap(options).ok;
  const limited = (options.limits ?? probeLimits()).mechanism !== "none";
  if (!options.allowUnsandboxed && (!bwrap || !limited)) return "unavailable";
  return `${bwrap ? "bwrap" : "none"}${limited ? "" : " (no resource limits)"}`;
}

/** For /ready and the startup log: the mode and why, in words an operator can act on. */
export function sandboxStatus(options: SandboxOptions): SandboxStatus {
  const bwrap = probeBwrap(options);
  const limits = options.limits ?? probeLimits();
  const hosts = options.registryHosts ?? DEFAULT_REGISTRY_HOSTS;
  return {
    mode: sandboxMode(options),
    bwrap: bwrap.ok ? "ok" : bwrap.error,
    limits: limits.mechanism === "prlimit" ? `prlimit (${limits.path})` : `none: ${limits.reason}`,
    setupEgress: !options.allowSetupNetwork ? "none" : bwrap.ok ? `registry proxy: ${hosts.join(", ")}` : "host network (unsandboxed)",
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

/** Environment additions for the setup phase: install scripts off by default, and the proxy when there is one. */
function setupEnv(options: SandboxOptions, proxied: boolean): Record<string, string> {
  const env: Record<string, string> = options.allowInstallScripts ? {} : { npm_config_ignore_scripts: "true" };
  if (proxied) {
    const url = `http://127.0.0.1:${SANDBOX_PROXY_PORT}`;
    for (const name of ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "npm_config_proxy", "npm_config_https_proxy"]) {
      env[name] = url;
    }
  }
  return env;
}

/**
 * The per-run egress directory (proxy socket and forwarder script, readable only by the sandbox user) and
 * the proxy listening in it. The directory is bound read-only into the sandbox at /aura-egress.
 */
async function openEgress(options: SandboxOptions, user: { uid: number; gid: number } | undefined): Promise<{ dir: string; proxy: RegistryProxy }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "aura-egress-"));
  try {
    await copyFile(FORWARDER_SOURCE, path.join(dir, "forwarder.mjs"));
    const proxy = await startRegistryProxy({
      socketPath: path.join(dir, "proxy.sock"),
      allow: options.registryHosts ?? DEFAULT_REGISTRY_HOSTS,
      ...(options.onEgress ? { onEvent: options.onEgress } : {}),
    });
    // Connecting to a Unix socket needs write permission on it: the sandbox user owns the directory's contents.
    if (user) {
      for (const name of ["proxy.sock", "forwarder.mjs", "."]) await chown(path.join(dir, name), user.uid, user.gid);
    }
    return { dir, proxy };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
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
  const limitProbe = options.limits ?? probeLimits();
  if (limitProbe.mechanism === "none" && !options.allowUnsandboxed) throw new SandboxLimitsUnavailableError(limitProbe.reason);
  const kind: SandboxKind = probe.ok ? "bwrap" : "none";
  const limited = limitProbe.mechanism !== "none";
  const mode: SandboxRunMode = `${kind}${limited ? "" : " (no resource limits)"}`;
  const proxied = kind === "bwrap" && input.phase === "setup" && options.allowSetupNetwork === true;
  const tree = realpathSync(input.cwd);
  const user = sandboxUser(options);
  const limits = limitPrefix(limitProbe, memoryMb, maxProcesses);

  if (user) {
    await assertReachable(tree, user);
    // The tree was written by the host (git, edits) and must be writable by the sandbox user.
    await execFileAsync("chown", ["-R", "-h", `${user.uid}:${user.gid}`, "--", tree]);
  }
  let hostHome: string | undefined;
  let egress: { dir: string; proxy: RegistryProxy } | undefined;
  let argv: string[];
  let cwd: string;
  let env: Record<string, string>;
  const phaseEnv = input.phase === "setup" ? setupEnv(options, proxied) : {};
  if (kind === "bwrap") {
    const bwrap = options.bwrapPath ?? "/usr/bin/bwrap";
    if (proxied) {
      egress = await openEgress(options, user);
      // The forwarder listens first, then starts the command: no shell, no race with the listener.
      const forwarder = [realpathSync(process.execPath), `${SANDBOX_EGRESS}/forwarder.mjs`, String(SANDBOX_PROXY_PORT), `${SANDBOX_EGRESS}/proxy.sock`];
      argv = [...limits, bwrap, ...bwrapArgs(tree, egress.dir), "--", ...forwarder, "/bin/sh", "-c", input.command];
    } else {
      argv = [...limits, bwrap, ...bwrapArgs(tree), "--", "/bin/sh", "-c", input.command];
    }
    cwd = "/";
    env = { ...scrubbedEnv(SANDBOX_HOME), ...phaseEnv };
  } else {
    hostHome = await mkdtemp(path.join(os.tmpdir(), "aura-home-"));
    if (user) await chown(hostHome, user.uid, user.gid);
    argv = [...limits, "/bin/sh", "-c", input.command];
    cwd = tree;
    env = { ...scrubbedEnv(hostHome), ...phaseEnv };
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
      mode,
      // Unsandboxed commands share the host's network, whatever the phase.
      network: kind === "none" || proxied,
      egress: kind === "none" ? { kind: "host" } : egress ? { kind: "registry-proxy", allowed: [...(options.registryHosts ?? DEFAULT_REGISTRY_HOSTS)], refused: egress.proxy.refused() } : { kind: "none" },
      logSha256: output.sha256,
      log: output.text,
      logBytes: output.totalBytes,
      logTruncated: output.truncated,
      testCounts: input.phase === "test" ? parseTestCounts(output.text) : undefined,
      limits: {
        timeoutMs,
        memoryMb: limited ? memoryMb : null,
        maxProcesses: limited ? maxProcesses : null,
        maxOutputBytes,
      },
    };
  } finally {
    if (hostHome) await rm(hostHome, { recursive: true, force: true });
    if (egress) {
      await egress.proxy.close();
      await rm(egress.dir, { recursive: true, force: true });
    }
  }
}
