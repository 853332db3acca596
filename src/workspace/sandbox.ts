// Runs a repository's setup and test commands in a sandbox: bubblewrap with every namespace unshared (the
// network included), a read-only system, only the work tree writable (its .git hidden), a scrubbed
// environment, and limits that hold per run (sandbox-limits.ts): a cgroup with memory and process limits,
// sized tmpfs, a disk limit on the work tree, a uid of its own, no nested user namespaces and a seccomp filter.
// When bubblewrap or any limit does not work it refuses, unless the operator accepted exactly the missing
// limits in AURA_SANDBOX_ACCEPT_MISSING (bubblewrap itself must work) or set AURA_ALLOW_UNSANDBOXED=true;
// then it runs with what holds and the result's `mode` and `limits` say what was missing and by which choice.
//
// A run that cannot be set up (bubblewrap fails before the command starts, the cgroup or the workspace layer
// cannot be created, every uid is in use) throws SandboxStartError: an infrastructure failure the job retries,
// never a test result. The command's start is signalled from inside the sandbox on a pipe, so bubblewrap's
// own failures are told apart from the command's.
//
// With `kubernetes` set (AURA_SANDBOX=kubernetes) every run is a Kubernetes Job instead, under the same
// contract and result (kubernetes-sandbox.ts); bubblewrap is then neither probed nor used.
//
// The setup phase (dependency installation) may reach the package registry and nothing else when
// `allowSetupNetwork` is set: it still has no route anywhere (its network namespace holds only loopback),
// but a forwarder on that loopback pipes connections to an allow-list proxy on the host (registry-proxy.ts)
// through a Unix socket bound into the sandbox. The test phase never gets the proxy. Install scripts are
// off in setup (npm_config_ignore_scripts) unless the operator allows them.
import { execFile, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, lstatSync, mkdtempSync, openSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { chmod, chown, copyFile, mkdtemp, rm, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { observeSandboxRun } from "../observability/observe.js";
import { createRunCgroup, type RunCgroup } from "./cgroup.js";
import { SandboxStartError, SandboxUnavailableError } from "./errors.js";
import { KUBERNETES_MISSING, kubernetesHeld, runKubernetesJob, type KubernetesSandboxConfig } from "./kubernetes-sandbox.js";
import type { LimitName } from "./limit-names.js";
import { OutputCapture, type CapturedOutput } from "./output-capture.js";
import { DEFAULT_REGISTRY_HOSTS, startRegistryProxy, type EgressEvent, type RegistryProxy } from "./registry-proxy.js";
import { encode, hostSeccompArch, sandboxFilter } from "./seccomp.js";
import {
  describeCgroup,
  LIMIT_DEFAULTS,
  limitReport,
  prlimitArgs,
  probeLimits,
  SandboxLimitsUnavailableError,
  type BwrapFeatures,
  type LimitProbe,
  type LimitSizes,
  type MissingLimit,
} from "./sandbox-limits.js";
import { parseTestCounts, type TestCounts } from "./test-counts.js";
import { holdUidSync, leaseUid, UID_POOL_DEFAULTS, UidPoolExhausted, type Lease, type UidPoolConfig } from "./uid-pool.js";
import { mountWorkspace, type WorkspaceMount } from "./workspace-quota.js";

const execFileAsync = promisify(execFile);

export type SandboxPhase = "setup" | "test";
export type SandboxKind = "bwrap" | "kubernetes" | "none";
/** What a run actually had: the sandbox, and whether every limit held (the result's `limits` says which). */
export type SandboxRunMode = "bwrap" | "bwrap (limits incomplete)" | "kubernetes" | "kubernetes (limits incomplete)" | "none" | "none (limits incomplete)";
/** For /ready and the work loop: `unavailable` means setup and test commands are refused. */
export type SandboxMode = SandboxRunMode | "unavailable";

/** How a run could reach the outside: not at all, the registry proxy only, or the host's network (unsandboxed). */
export type SandboxEgress = { kind: "none" } | { kind: "registry-proxy"; allowed: string[]; refused: string[] } | { kind: "host" };

export type SandboxOptions = {
  /** AURA_ALLOW_UNSANDBOXED: run without bubblewrap, or without every limit, when they do not work. */
  allowUnsandboxed: boolean;
  /** AURA_SANDBOX_ACCEPT_MISSING: limits runs in bubblewrap may go without (never bubblewrap itself). */
  acceptMissing?: readonly LimitName[];
  /** AURA_SETUP_NETWORK: the setup phase may reach the registry hosts through the proxy (tests never). */
  allowSetupNetwork?: boolean;
  /** AURA_SETUP_REGISTRY_HOSTS as `host:port`; defaults to registry.npmjs.org:443. */
  registryHosts?: readonly string[];
  /** AURA_SETUP_INSTALL_SCRIPTS: leave npm lifecycle scripts on during setup. Default false. */
  allowInstallScripts?: boolean;
  /** Each proxy decision (refusals are worth a warning in the app's log). */
  onEgress?: (event: EgressEvent) => void;
  /** What this host can apply; defaults to the probe of this host (tests inject a result). */
  limits?: LimitProbe;
  /** AURA_SANDBOX_CGROUP: a delegated cgroup v2 directory for the runs' groups. */
  cgroupDir?: string;
  /** AURA_SANDBOX_UID_BASE and AURA_SANDBOX_UID_COUNT: the host uids runs take (when the app runs as root). */
  uidPool?: UidPoolConfig;
  /** Defaults to /usr/bin/bwrap. */
  bwrapPath?: string;
  /** AURA_SANDBOX=kubernetes: every run is a Kubernetes Job (kubernetes-sandbox.ts); bubblewrap is not used. */
  kubernetes?: KubernetesSandboxConfig;
};

export type SandboxRunInput = {
  command: string;
  /** The task's work tree; bound read-write at /workspace (its .git stays unwritable). */
  cwd: string;
  phase: SandboxPhase;
  timeoutMs?: number;
  maxOutputBytes?: number;
  /** Memory of the whole run (processes, tmpfs and the work tree's new content), in MiB. */
  memoryMb?: number;
  /** Processes and threads of the whole run. */
  maxProcesses?: number;
  /** Size of each of /tmp and /home/aura inside the sandbox, in MiB. */
  tmpfsMb?: number;
  /** What the run may add to or change in the work tree, in MiB. */
  workspaceMb?: number;
};

export type SandboxResult = {
  command: string;
  phase: SandboxPhase;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The run's memory limit was reached and the kernel killed a process of it. */
  memoryExceeded: boolean;
  durationMs: number;
  sandbox: SandboxKind;
  /** `sandbox` plus whether every limit held, e.g. "bwrap (limits incomplete)": say this in evidence. */
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
  /** The limits actually applied, for the evidence: `held` and `missing` in words. */
  limits: {
    timeoutMs: number;
    memoryMb: number | null;
    maxProcesses: number | null;
    maxOutputBytes: number;
    uid: number | null;
    held: string[];
    missing: string[];
    /** The part of `missing` the operator accepted in AURA_SANDBOX_ACCEPT_MISSING; the rest ran by AURA_ALLOW_UNSANDBOXED. */
    accepted: string[];
  };
};

export const SANDBOX_DEFAULTS = {
  timeoutMs: 10 * 60_000,
  maxOutputBytes: 1024 * 1024,
  memoryMb: 4096,
  maxProcesses: 1024,
  tmpfsMb: 512,
  workspaceMb: 2048,
  maxFileMb: LIMIT_DEFAULTS.maxFileMb,
} as const;

const SANDBOX_HOME = "/home/aura";
const SANDBOX_TREE = "/workspace";
/** Where the per-run egress directory (proxy socket, forwarder script) appears inside the sandbox. */
const SANDBOX_EGRESS = "/aura-egress";
/** The forwarder's port on the sandbox's private loopback; nothing else listens there. */
const SANDBOX_PROXY_PORT = 3128;
const FORWARDER_SOURCE = fileURLToPath(new URL("./sandbox-forwarder.mjs", import.meta.url));
/** Child fds: 3 holds the command until it is in its cgroup, 4 carries the seccomp program, 5 says the sandbox started. */
const GATE_FD = 3;
const SECCOMP_FD = 4;
const READY_FD = 5;
/** The gate's exit status when the app never let the command go (it could not place it in its cgroup). */
const GATE_REFUSED = 125;

/** The probe runs as the pool's first uid when the app is root, as the app otherwise. */
/**
 * Runs `probe` as a uid held from the pool when the app runs as root (as the runs will), so a lease in another
 * process cannot kill it as a leftover; as the app's own user otherwise. With every uid held by runs, the pool's
 * first uid is used unheld, as before.
 */
function asProbeUser<T>(options: Pick<SandboxOptions, "uidPool">, probe: (user: { uid: number; gid: number } | undefined) => T): T {
  if (process.getuid?.() !== 0) return probe(undefined);
  const pool = options.uidPool ?? UID_POOL_DEFAULTS;
  const held = holdUidSync(pool);
  try {
    const uid = held?.uid ?? pool.base;
    return probe({ uid, gid: uid });
  } finally {
    held?.release();
  }
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

type BwrapRun = {
  /** The host directory bound at /workspace (the overlay when the workspace limit holds). */
  bound?: string;
  /** The real tree: whether its .git is a directory or a file decides how it is hidden. */
  tree?: string;
  egressDir?: string;
  features: BwrapFeatures;
  tmpfsBytes: number;
  seccompFd?: number;
};

function bwrapArgs(run: BwrapRun): string[] {
  const sized = (dir: string) => (run.features.size ? ["--size", String(run.tmpfsBytes), "--tmpfs", dir] : ["--tmpfs", dir]);
  const args = [
    "--unshare-user",
    ...(run.features.disableUserns ? ["--disable-userns"] : []),
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
    ...sized("/tmp"),
    ...sized(SANDBOX_HOME),
  ];
  if (run.bound !== undefined && run.tree !== undefined) {
    args.push("--bind", run.bound, SANDBOX_TREE);
    // The host runs git on this tree, so repository code must not be able to touch its git metadata.
    const dotGit = path.join(run.tree, ".git");
    if (existsSync(dotGit)) {
      if (lstatSync(dotGit).isDirectory()) args.push("--tmpfs", `${SANDBOX_TREE}/.git`, "--remount-ro", `${SANDBOX_TREE}/.git`);
      else args.push("--ro-bind", "/dev/null", `${SANDBOX_TREE}/.git`);
    }
    args.push("--chdir", SANDBOX_TREE);
  }
  if (run.egressDir !== undefined) args.push("--ro-bind", run.egressDir, SANDBOX_EGRESS);
  if (run.seccompFd !== undefined) args.push("--seccomp", String(run.seccompFd));
  args.push("--remount-ro", "/");
  return args;
}

let seccompHeld: number | undefined;

/**
 * The compiled filter for this host as a path to open per run: written once per process to a file that is
 * unlinked at once and kept open, so nothing is left behind; each run opens it afresh through /proc/self/fd
 * (its own file offset, starting at 0).
 */
function seccompProgramFile(): string | undefined {
  const arch = hostSeccompArch();
  if (!arch) return undefined;
  if (seccompHeld === undefined) {
    const dir = mkdtempSync(path.join(os.tmpdir(), "aura-seccomp-"));
    const file = path.join(dir, "filter.bpf");
    try {
      writeFileSync(file, encode(sandboxFilter(arch)), { mode: 0o600 });
      seccompHeld = openSync(file, "r");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return `/proc/self/fd/${seccompHeld}`;
}

/** bubblewrap's options for the limits it applies itself, read from its --help (older versions lack them). */
function helpFeatures(bwrap: string): BwrapFeatures {
  const help = spawnSync(bwrap, ["--help"], { encoding: "utf8", timeout: 10_000 });
  const text = `${help.stdout ?? ""}${help.stderr ?? ""}`;
  return { size: /--size\b/.test(text), disableUserns: /--disable-userns\b/.test(text), seccomp: /--seccomp\b/.test(text) && hostSeccompArch() !== undefined };
}

/** bubblewrap's refusal in words an operator can act on: user namespaces refused is the usual cause. */
export function explainBwrapFailure(bwrap: string, stderr: string): string {
  const text = stderr.trim();
  const refused = /namespace/i.test(text) && /(Operation not permitted|No permissions|Permission denied|No space left)/i.test(text);
  if (!refused) return `${bwrap} failed: ${text}`;
  const docker = existsSync("/.dockerenv");
  return (
    `${bwrap} cannot create user namespaces here (${text}). ` +
    (docker
      ? "This is a Docker container, and Docker's default seccomp profile refuses them: start the app's container with the profile the compose file uses (security_opt: seccomp=./docker/seccomp-aura.json in docker-compose.yml), which allows user namespaces for this container only."
      : "Allow unprivileged user namespaces on the host (sysctl user.max_user_namespaces above 0, and kernel.unprivileged_userns_clone=1 or kernel.apparmor_restrict_unprivileged_userns=0 where those exist); in a container, run it with a seccomp profile that allows them (docker/seccomp-aura.json).")
  );
}

export type BwrapProbe = { ok: true; features: BwrapFeatures; featureError?: string } | { ok: false; error: string };
const probes = new Map<string, BwrapProbe>();

function tryBwrap(
  bwrap: string,
  args: string[],
  user: { uid: number; gid: number } | undefined,
  stdio: (number | "ignore")[] = [],
): { ok: boolean; stderr: string } {
  const result = spawnSync(bwrap, [...args, "--", "/bin/true"], {
    cwd: "/",
    env: scrubbedEnv(SANDBOX_HOME),
    timeout: 10_000,
    encoding: "utf8",
    stdio: ["ignore", "ignore", "pipe", ...stdio],
    ...(user ?? {}),
  });
  return {
    ok: result.status === 0,
    stderr: result.stderr || result.error?.message || (result.signal ? `killed by ${result.signal}` : `exit ${result.status}`),
  };
}

/**
 * Whether bubblewrap actually starts a sandbox here (installed is not enough: user namespaces may be refused),
 * and whether it applies sized tmpfs, --disable-userns and the seccomp filter.
 */
export function probeBwrap(options: Pick<SandboxOptions, "bwrapPath" | "uidPool"> = {}): BwrapProbe {
  const bwrap = options.bwrapPath ?? "/usr/bin/bwrap";
  const key = `${bwrap}:${process.getuid?.() === 0 ? `pool ${(options.uidPool ?? UID_POOL_DEFAULTS).base}` : "self"}`;
  const cached = probes.get(key);
  if (cached) return cached;
  const probe: BwrapProbe = existsSync(bwrap)
    ? asProbeUser(options, (user) => probeInstalledBwrap(bwrap, user))
    : { ok: false, error: `${bwrap} is not installed` };
  probes.set(key, probe);
  return probe;
}

function probeInstalledBwrap(bwrap: string, user: { uid: number; gid: number } | undefined): BwrapProbe {
  const none: BwrapFeatures = { size: false, disableUserns: false, seccomp: false };
  const basic = tryBwrap(bwrap, bwrapArgs({ features: none, tmpfsBytes: 0 }), user);
  if (!basic.ok) return { ok: false, error: explainBwrapFailure(bwrap, basic.stderr) };
  const features = helpFeatures(bwrap);
  const program = features.seccomp ? seccompProgramFile() : undefined;
  const fd = program ? openSync(program, "r") : undefined;
  try {
    const full = tryBwrap(
      bwrap,
      bwrapArgs({ features, tmpfsBytes: 1024 * 1024, ...(fd === undefined ? {} : { seccompFd: SECCOMP_FD }) }),
      user,
      fd === undefined ? [] : ["ignore", fd],
    );
    return full.ok
      ? { ok: true, features }
      : { ok: true, features: none, featureError: `${bwrap} with --size, --disable-userns and --seccomp failed: ${full.stderr.trim()}` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export type SandboxStatus = {
  mode: SandboxMode;
  bwrap: string;
  /** The per-run cgroup mechanism, or why there is none. */
  limits: string;
  /** The limits that hold, e.g. "cgroup v1 memory 4 GiB + pids 1024, tmpfs 512 MiB, ...". */
  held: string;
  /** The ones that do not and were not accepted, each with its reason ("" when none). */
  missing: string;
  /** The ones that do not and that AURA_SANDBOX_ACCEPT_MISSING accepts ("" when none). */
  accepted: string;
  setupEgress: string;
  /** What the operator can do when commands are refused ("" when they are not). */
  fix: string;
};

function sizesOf(input: Partial<LimitSizes> = {}): LimitSizes {
  return {
    memoryMb: input.memoryMb ?? SANDBOX_DEFAULTS.memoryMb,
    maxProcesses: input.maxProcesses ?? SANDBOX_DEFAULTS.maxProcesses,
    tmpfsMb: input.tmpfsMb ?? SANDBOX_DEFAULTS.tmpfsMb,
    workspaceMb: input.workspaceMb ?? SANDBOX_DEFAULTS.workspaceMb,
  };
}

function limitsOf(options: SandboxOptions): LimitProbe {
  return options.limits ?? probeLimits({ cgroupDir: options.cgroupDir, uidPool: options.uidPool });
}

/**
 * What runs get here: the sandbox, the limits that hold, and the missing ones split into those the operator
 * accepted by name (only under a working bubblewrap; its own failures have no name) and the rest (`refused`).
 */
function assess(options: SandboxOptions, sizes: LimitSizes, uid?: number) {
  const bwrap = probeBwrap(options);
  const limits = limitsOf(options);
  const { held, missing } = limitReport(limits, bwrap.ok ? bwrap.features : undefined, sizes, uid);
  if (bwrap.ok && bwrap.featureError) missing.push({ name: null, text: bwrap.featureError });
  const kind: SandboxKind = bwrap.ok ? "bwrap" : "none";
  const acceptable = new Set<string>(kind === "bwrap" ? (options.acceptMissing ?? []) : []);
  const accepted = missing.filter((limit) => limit.name !== null && acceptable.has(limit.name));
  const refused = missing.filter((limit) => !accepted.includes(limit));
  const report = { held, missing: missing.map((limit) => limit.text), accepted: accepted.map((limit) => limit.text), refused };
  const mode: SandboxRunMode = `${kind}${missing.length > 0 ? " (limits incomplete)" : ""}`;
  return { bwrap, limits, report, kind, mode };
}

/** One sentence for an operator whose runs are refused: what would let them run. */
function fixFor(bwrapWorks: boolean, refused: readonly MissingLimit[]): string {
  if (!bwrapWorks)
    return "make bubblewrap work on this host (install it; see the bwrap field for why it failed), or set AURA_ALLOW_UNSANDBOXED=true to run commands as plain processes";
  const names = refused.map((limit) => limit.name);
  if (names.length === 0 || names.some((name) => name === null))
    return 'fix the host (docs/architecture.md, "Sandbox"); a bubblewrap that fails with its own limits cannot be accepted as missing';
  return `fix the host (docs/architecture.md, "Sandbox"; root gives each run a cgroup, a disk layer and a uid), or set AURA_SANDBOX_ACCEPT_MISSING=${names.join(",")} to run in bubblewrap without exactly these limits`;
}

/**
 * The Job back end's standing: the service account files it needs, and the limits it cannot bound per run split
 * into those the operator accepted by name and the rest (`refused`), as for bubblewrap.
 */
function assessKubernetes(options: SandboxOptions, config: KubernetesSandboxConfig, sizes: LimitSizes) {
  const needed = ["token", ...(config.apiUrl.startsWith("https:") ? ["ca.crt"] : []), ...(config.namespace ? [] : ["namespace"])];
  const absent = needed.filter((file) => !existsSync(path.join(config.serviceAccountDir, file)));
  const problem =
    absent.length === 0
      ? undefined
      : `the service account's ${absent.join(", ")} ${absent.length === 1 ? "is" : "are"} missing from ${config.serviceAccountDir}`;
  const acceptable = new Set<string>(options.acceptMissing ?? []);
  const accepted = KUBERNETES_MISSING.filter((limit) => acceptable.has(limit.name));
  const refused = KUBERNETES_MISSING.filter((limit) => !acceptable.has(limit.name));
  const mode: SandboxRunMode = KUBERNETES_MISSING.length > 0 ? "kubernetes (limits incomplete)" : "kubernetes";
  return { problem, held: kubernetesHeld(config, sizes), accepted, refused, mode };
}

function kubernetesStatus(options: SandboxOptions, config: KubernetesSandboxConfig): SandboxStatus {
  const { problem, held, accepted, refused, mode } = assessKubernetes(options, config, sizesOf());
  const unavailable = problem !== undefined || (refused.length > 0 && !options.allowUnsandboxed);
  const fix = problem
    ? "give the app's pod its service account token (automountServiceAccountToken: true, deploy/kubernetes/job-sandbox/) or set AURA_SANDBOX_K8S_SERVICE_ACCOUNT_DIR"
    : `set AURA_SANDBOX_ACCEPT_MISSING=${refused.map((limit) => limit.name).join(",")} to run Jobs without exactly these limits, or AURA_SANDBOX=bwrap`;
  return {
    mode: unavailable ? "unavailable" : mode,
    fix: unavailable ? fix : "",
    bwrap: `not used (AURA_SANDBOX=kubernetes: Jobs in ${config.namespace ?? "the app's namespace"}, image ${config.image}${problem ? `; ${problem}` : ""})`,
    limits: "the Job's resource limits (memory, cpu)",
    held: held.join(", "),
    missing: refused.map((limit) => limit.text).join("; "),
    accepted: accepted.map((limit) => limit.text).join("; "),
    setupEgress: "none (Jobs have no registry proxy: the deny-all NetworkPolicy holds for setup too)",
  };
}

/** The run as a Kubernetes Job: the same input, environment and result as bubblewrap's. */
async function runAsJob(options: SandboxOptions, config: KubernetesSandboxConfig, input: SandboxRunInput): Promise<SandboxResult> {
  const timeoutMs = input.timeoutMs ?? SANDBOX_DEFAULTS.timeoutMs;
  const maxOutputBytes = input.maxOutputBytes ?? SANDBOX_DEFAULTS.maxOutputBytes;
  const sizes = sizesOf(input);
  const { held, accepted, refused, mode } = assessKubernetes(options, config, sizes);
  if (refused.length > 0 && !options.allowUnsandboxed) {
    const error = new SandboxLimitsUnavailableError(
      refused.map((limit) => limit.text),
      refused.map((limit) => limit.name),
    );
    error.message =
      `The Kubernetes sandbox cannot apply every limit; refusing to run repository commands. Missing: ${refused.map((limit) => limit.text).join("; ")}. ` +
      `Set AURA_SANDBOX_ACCEPT_MISSING=${refused.map((limit) => limit.name).join(",")} to run Jobs without exactly these limits (every PR will say so)`;
    throw error;
  }
  // The image's own PATH applies: the app's host paths mean nothing in another image.
  const { PATH: _hostPath, ...env } = { ...scrubbedEnv(SANDBOX_HOME), ...(input.phase === "setup" ? setupEnv(options, false) : {}) };
  const outcome = await runKubernetesJob(config, {
    command: input.command,
    cwd: input.cwd,
    phase: input.phase,
    timeoutMs,
    maxOutputBytes,
    memoryMb: sizes.memoryMb,
    tmpfsMb: sizes.tmpfsMb,
    env,
  });
  const { output } = outcome;
  return {
    command: input.command,
    phase: input.phase,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    timedOut: outcome.timedOut,
    memoryExceeded: outcome.memoryExceeded,
    durationMs: outcome.durationMs,
    sandbox: "kubernetes",
    mode,
    network: false,
    egress: { kind: "none" },
    ...logFields(output, input.phase),
    limits: {
      timeoutMs,
      memoryMb: sizes.memoryMb,
      maxProcesses: null,
      maxOutputBytes,
      uid: config.runAsUser,
      held,
      missing: KUBERNETES_MISSING.map((limit) => limit.text),
      accepted: accepted.map((limit) => limit.text),
    },
  };
}

/** The sandbox mode: what runs would get, or `unavailable` when setup and test commands are refused. */
export function sandboxMode(options: SandboxOptions): SandboxMode {
  if (options.kubernetes) return kubernetesStatus(options, options.kubernetes).mode;
  const { kind, report, mode } = assess(options, sizesOf());
  return !options.allowUnsandboxed && (kind !== "bwrap" || report.refused.length > 0) ? "unavailable" : mode;
}

/** For /ready and the startup log: the mode and why, in words an operator can act on. */
export function sandboxStatus(options: SandboxOptions): SandboxStatus {
  if (options.kubernetes) return kubernetesStatus(options, options.kubernetes);
  const { bwrap, limits, report } = assess(options, sizesOf());
  const hosts = options.registryHosts ?? DEFAULT_REGISTRY_HOSTS;
  const mode = sandboxMode(options);
  return {
    mode,
    fix: mode === "unavailable" ? fixFor(bwrap.ok, report.refused) : "",
    bwrap: bwrap.ok ? "ok" : bwrap.error,
    limits: describeCgroup(limits.cgroup),
    held: report.held.join(", "),
    missing: report.refused.map((limit) => limit.text).join("; "),
    accepted: report.accepted.join("; "),
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

/** Runs `step`, turning any failure into SandboxStartError (an infrastructure failure, retried by the job). */
async function setupStep<T>(what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    if (error instanceof SandboxStartError) throw error;
    if (error instanceof UidPoolExhausted) throw new SandboxStartError(`could not start the sandbox: ${error.message}`, "uid-pool");
    throw new SandboxStartError(`could not start the sandbox: ${what} failed (${error instanceof Error ? error.message : String(error)})`, "setup");
  }
}

type Resources = {
  lease?: Lease;
  cgroup?: RunCgroup;
  workspace?: WorkspaceMount;
  hostHome?: string;
  egress?: { dir: string; proxy: RegistryProxy };
  seccompFd?: number;
  /** The work tree, handed to the run's uid: the app takes it back after the run. */
  handBack?: string;
};

/** Tears a run down in reverse order; the first failure is reported as an infrastructure error after all steps ran. */
async function release(resources: Resources, commitWorkspace: boolean): Promise<void> {
  const failures: string[] = [];
  const attempt = async (what: string, step: () => Promise<void>) => {
    try {
      await step();
    } catch (error) {
      failures.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  if (resources.seccompFd !== undefined) closeSync(resources.seccompFd);
  const { cgroup, workspace, lease, hostHome, egress, handBack } = resources;
  // Every process of the run is gone before root copies anything back: a leftover could otherwise swap a tree
  // directory for a symlink while the copy writes, and root would write outside the tree.
  if (cgroup) await attempt("stopping the run's processes", () => cgroup.killAll());
  if (lease) await attempt("stopping the processes of the run's uid", () => lease.killAll());
  if (workspace) {
    await attempt("copying the run's changes back to the work tree", () =>
      commitWorkspace && failures.length === 0 ? workspace.commit() : workspace.discard(),
    );
    if (failures.length > 0) await workspace.discard().catch(() => undefined);
  }
  // The app's own git then sees its files as it left them: a tree owned by another uid than the one git recorded
  // makes git rewrite or re-read every file (`checkout -- .` over 1,000 files: ~0.2 s instead of ~0.01 s). Only
  // after every process of the run is gone (above), and without following symlinks.
  if (handBack && failures.length === 0) {
    await attempt("handing the work tree back to the app", () =>
      execFileAsync("chown", ["-R", "-h", `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`, "--", handBack]).then(() => undefined),
    );
  }
  if (cgroup) await attempt("removing the run's cgroup", () => cgroup.destroy());
  if (lease) await attempt("releasing the run's uid", () => lease.release());
  if (hostHome) await rm(hostHome, { recursive: true, force: true });
  if (egress) {
    await egress.proxy.close();
    await rm(egress.dir, { recursive: true, force: true });
  }
  if (failures.length > 0) throw new SandboxStartError(`the sandbox could not be torn down cleanly: ${failures.join("; ")}`, "teardown");
}

type Outcome = { code: number | null; signal: NodeJS.Signals | null; timedOut: boolean; started: boolean };

/** Spawns the gated command, places it in its cgroup, lets it go, and waits for it and its output. */
function execute(
  argv: string[],
  spawnOptions: { cwd: string; env: Record<string, string>; user: { uid: number; gid: number } | undefined; seccompFd: number | undefined },
  cgroup: RunCgroup | undefined,
  capture: OutputCapture,
  timeoutMs: number,
): Promise<Outcome> {
  return new Promise<Outcome>((resolve, reject) => {
    // The gate holds the command until the app has moved it into its cgroup: nothing it forks escapes the limits.
    const gate = `IFS= read -r go <&${GATE_FD} && [ "$go" = go ] || exit ${GATE_REFUSED}; exec ${GATE_FD}<&-; exec "$@"`;
    const child = spawn("/bin/sh", ["-c", gate, "aura-gate", ...argv], {
      cwd: spawnOptions.cwd,
      env: spawnOptions.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe", "pipe", spawnOptions.seccompFd ?? "ignore", "pipe"],
      ...(spawnOptions.user ?? {}),
    });
    let timedOut = false;
    let started = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let openStreams = 2;
    const finish = () => {
      if (exit !== undefined && openStreams === 0) resolve({ ...exit, timedOut, started });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
      void cgroup?.killAll().catch(() => undefined);
    }, timeoutMs);
    const stdio = child.stdio as unknown as (Readable | Writable | null)[];
    const gatePipe = stdio[GATE_FD] as Writable | null;
    const readyPipe = stdio[READY_FD] as Readable | null;
    readyPipe?.on("data", () => {
      started = true;
    });
    readyPipe?.on("error", () => undefined);
    gatePipe?.on("error", () => undefined);
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on("data", (chunk: Buffer) => capture.write(chunk));
      stream?.on("close", () => {
        openStreams--;
        finish();
      });
    }
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new SandboxStartError(`could not start /bin/sh: ${error.message}`, "setup"));
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      exit = { code, signal };
      // Background processes left behind must not outlive the run (or hold the pipes open).
      killGroup(child.pid);
      readyPipe?.destroy();
      finish();
    });
    if (child.pid === undefined) return;
    const pid = child.pid;
    void (async () => {
      try {
        if (cgroup) await cgroup.enter(pid);
        gatePipe?.end("go\n");
      } catch {
        gatePipe?.destroy();
      }
    })();
  });
}

type Assessment = ReturnType<typeof assess>;
type RunUser = { uid: number; gid: number };

/** A run's log as the result carries it (the same for every back end): head and tail, digest, size, test counts. */
function logFields(output: CapturedOutput, phase: SandboxPhase) {
  return {
    logSha256: output.sha256,
    log: output.text,
    logBytes: output.totalBytes,
    logTruncated: output.truncated,
    testCounts: phase === "test" ? parseTestCounts(output.text) : undefined,
  };
}

/** Runs one setup or test command and reports what happened. Throws SandboxUnavailableError when refused. */
export async function runInSandbox(options: SandboxOptions, input: SandboxRunInput): Promise<SandboxResult> {
  const { kubernetes } = options;
  return observeSandboxRun(input.phase, () => (kubernetes ? runAsJob(options, kubernetes, input) : runCommand(options, input)));
}

async function runCommand(options: SandboxOptions, input: SandboxRunInput): Promise<SandboxResult> {
  const timeoutMs = input.timeoutMs ?? SANDBOX_DEFAULTS.timeoutMs;
  const maxOutputBytes = input.maxOutputBytes ?? SANDBOX_DEFAULTS.maxOutputBytes;
  const sizes = sizesOf(input);
  const assessment = assess(options, sizes);
  refuseUnlessAllowed(options, assessment);
  const { bwrap: probe, limits: limitProbe, kind } = assessment;
  const features = probe.ok ? probe.features : { size: false, disableUserns: false, seccomp: false };
  const proxied = kind === "bwrap" && input.phase === "setup" && options.allowSetupNetwork === true;
  const tree = realpathSync(input.cwd);
  const resources: Resources = {};
  const capture = new OutputCapture(maxOutputBytes);
  let outcome: Outcome;
  let memoryExceeded = false;
  const started = performance.now();
  try {
    const { user, bound } = await prepareRun(resources, { tree, limitProbe, sizes, kind, features });
    const line = await commandLine(options, input, resources, { kind, features, proxied, tree, bound, user, limitProbe, sizes });
    outcome = await execute(line.argv, { cwd: line.cwd, env: line.env, user, seccompFd: resources.seccompFd }, resources.cgroup, capture, timeoutMs);
    memoryExceeded = (await resources.cgroup?.memoryExceeded()) ?? false;
  } catch (error) {
    await release(resources, false).catch(() => undefined);
    throw error;
  }
  const refused = resources.egress?.proxy.refused() ?? [];
  await release(resources, outcome.started);
  const output = capture.finish();
  if (!outcome.started && !outcome.timedOut) {
    const why =
      outcome.code === GATE_REFUSED
        ? "the run could not be placed in its cgroup"
        : `${kind === "bwrap" ? "bubblewrap" : "the shell"} exited before the command started`;
    throw new SandboxStartError(
      `could not start the sandbox: ${why}: ${output.text.trim().split("\n").slice(-5).join(" | ") || `exit ${String(outcome.code)}`}`,
      "setup",
    );
  }
  const durationMs = Math.round(performance.now() - started);
  return describeRun(options, input, {
    assessment,
    features,
    proxied,
    resources,
    refused,
    outcome,
    memoryExceeded,
    durationMs,
    output,
    timeoutMs,
    maxOutputBytes,
    sizes,
  });
}

/** Without a working bubblewrap, or with a missing limit the operator did not accept, runs are refused unless AURA_ALLOW_UNSANDBOXED. */
function refuseUnlessAllowed(options: SandboxOptions, { bwrap: probe, report }: Assessment): void {
  if (!probe.ok && !options.allowUnsandboxed) throw new SandboxUnavailableError(probe.error);
  if (report.refused.length > 0 && !options.allowUnsandboxed) {
    const names = report.refused.flatMap((limit) => (limit.name === null ? [] : [limit.name]));
    throw new SandboxLimitsUnavailableError(
      report.refused.map((limit) => limit.text),
      names,
    );
  }
}

/**
 * Takes what the run holds, into `resources` (released by the caller): a uid, a cgroup, a size-limited layer
 * over the work tree, the seccomp program. Returns the run's user and the directory bound at /workspace.
 */
async function prepareRun(
  resources: Resources,
  at: { tree: string; limitProbe: LimitProbe; sizes: LimitSizes; kind: SandboxKind; features: BwrapFeatures },
): Promise<{ user: RunUser | undefined; bound: string }> {
  const { tree, limitProbe, sizes, kind } = at;
  if (limitProbe.uids.ok) resources.lease = await setupStep("taking a uid", () => leaseUid(limitProbe.uids.pool));
  const user = resources.lease ? { uid: resources.lease.uid, gid: resources.lease.gid } : undefined;
  if (user) {
    await assertReachable(tree, user);
    // The tree was written by the host (git, edits) and must be writable by the run's user.
    await setupStep("handing the work tree to the run's uid", () => execFileAsync("chown", ["-R", "-h", `${user.uid}:${user.gid}`, "--", tree]));
    resources.handBack = tree;
  }
  const runName = `run-${process.pid}-${user?.uid ?? "self"}-${Date.now().toString(36)}`;
  if (limitProbe.cgroup.kind !== "none") {
    const cgroupProbe = limitProbe.cgroup;
    resources.cgroup = await setupStep("creating the run's cgroup", () =>
      createRunCgroup(cgroupProbe, runName, { memoryBytes: sizes.memoryMb * 1024 * 1024, maxProcesses: sizes.maxProcesses }),
    );
  }
  // Without bubblewrap the run sees the real tree anyway, so a layer over it would bound nothing and would
  // only have root copy back a tree the run could still reach: the workspace limit is not applied there.
  if (limitProbe.workspace.ok && kind === "bwrap") {
    resources.workspace = await setupStep("mounting the size-limited work tree", () => mountWorkspace(tree, sizes.workspaceMb * 1024 * 1024, user));
    await chmod(path.dirname(resources.workspace.merged), 0o711);
  }
  const bound = resources.workspace?.merged ?? tree;
  const program = kind === "bwrap" && at.features.seccomp ? seccompProgramFile() : undefined;
  if (program) resources.seccompFd = openSync(program, "r");
  return { user, bound };
}

/**
 * The process to spawn: bubblewrap around the command (behind the registry proxy's forwarder when setup may
 * reach registries), or the plain shell with a temporary home. Starts the proxy into `resources`.
 */
async function commandLine(
  options: SandboxOptions,
  input: SandboxRunInput,
  resources: Resources,
  at: {
    kind: SandboxKind;
    features: BwrapFeatures;
    proxied: boolean;
    tree: string;
    bound: string;
    user: RunUser | undefined;
    limitProbe: LimitProbe;
    sizes: LimitSizes;
  },
): Promise<{ argv: string[]; cwd: string; env: Record<string, string> }> {
  const { limitProbe, sizes, user, proxied } = at;
  const prefix = limitProbe.prlimit ? prlimitArgs(limitProbe.prlimit, user ? sizes.maxProcesses : undefined) : [];
  // Signals from inside that bubblewrap's setup is done and the command is about to start.
  const ready = ["/bin/sh", "-c", `printf . >&${READY_FD}; exec ${SECCOMP_FD}<&- ${READY_FD}>&-; exec "$@"`, "aura-ready"];
  const phaseEnv = input.phase === "setup" ? setupEnv(options, proxied) : {};
  if (at.kind !== "bwrap") {
    const hostHome = await mkdtemp(path.join(os.tmpdir(), "aura-home-"));
    resources.hostHome = hostHome;
    if (user) await chown(hostHome, user.uid, user.gid);
    return { argv: [...prefix, ...ready, "/bin/sh", "-c", input.command], cwd: at.bound, env: { ...scrubbedEnv(hostHome), ...phaseEnv } };
  }
  const bwrap = options.bwrapPath ?? "/usr/bin/bwrap";
  const run: BwrapRun = {
    bound: at.bound,
    tree: at.tree,
    features: at.features,
    tmpfsBytes: sizes.tmpfsMb * 1024 * 1024,
    ...(resources.seccompFd === undefined ? {} : { seccompFd: SECCOMP_FD }),
  };
  const env = { ...scrubbedEnv(SANDBOX_HOME), ...phaseEnv };
  if (!proxied) return { argv: [...prefix, bwrap, ...bwrapArgs(run), "--", ...ready, "/bin/sh", "-c", input.command], cwd: "/", env };
  resources.egress = await setupStep("starting the registry proxy", () => openEgress(options, user));
  // The forwarder listens first, then starts the command: no shell, no race with the listener.
  const forwarder = [realpathSync(process.execPath), `${SANDBOX_EGRESS}/forwarder.mjs`, String(SANDBOX_PROXY_PORT), `${SANDBOX_EGRESS}/proxy.sock`];
  return {
    argv: [...prefix, bwrap, ...bwrapArgs({ ...run, egressDir: resources.egress.dir }), "--", ...ready, ...forwarder, "/bin/sh", "-c", input.command],
    cwd: "/",
    env,
  };
}

/** The run's evidence: what ran, how it ended, its log, and which limits held. */
function describeRun(
  options: SandboxOptions,
  input: SandboxRunInput,
  run: {
    assessment: Assessment;
    features: BwrapFeatures;
    proxied: boolean;
    resources: Resources;
    refused: string[];
    outcome: Outcome;
    memoryExceeded: boolean;
    durationMs: number;
    output: ReturnType<OutputCapture["finish"]>;
    timeoutMs: number;
    maxOutputBytes: number;
    sizes: LimitSizes;
  },
): SandboxResult {
  const { assessment, resources, outcome, output, sizes } = run;
  const { bwrap: probe, limits: limitProbe, report, kind, mode } = assessment;
  const limited = limitProbe.cgroup.kind !== "none";
  return {
    command: input.command,
    phase: input.phase,
    exitCode: outcome.code,
    signal: outcome.signal,
    timedOut: outcome.timedOut,
    memoryExceeded: run.memoryExceeded,
    durationMs: run.durationMs,
    sandbox: kind,
    mode,
    // Unsandboxed commands share the host's network, whatever the phase.
    network: kind === "none" || run.proxied,
    egress:
      kind === "none"
        ? { kind: "host" }
        : resources.egress
          ? { kind: "registry-proxy", allowed: [...(options.registryHosts ?? DEFAULT_REGISTRY_HOSTS)], refused: run.refused }
          : { kind: "none" },
    ...logFields(output, input.phase),
    limits: {
      timeoutMs: run.timeoutMs,
      memoryMb: limited ? sizes.memoryMb : null,
      maxProcesses: limited ? sizes.maxProcesses : null,
      maxOutputBytes: run.maxOutputBytes,
      uid: resources.lease?.uid ?? null,
      held: limitReport(limitProbe, probe.ok ? run.features : undefined, sizes, resources.lease?.uid).held,
      missing: report.missing,
      accepted: report.accepted,
    },
  };
}
