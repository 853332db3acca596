// The limits every sandbox run needs, and the startup check of which of them this host can apply: per-run
// memory and process limits in a cgroup (they count tmpfs pages and every child), a disk limit on the work tree
// (workspace-quota.ts), a uid of its own from the pool (uid-pool.ts), and — in sandbox.ts, from bubblewrap —
// sized tmpfs, no nested user namespaces and the seccomp filter. When any of them does not hold the sandbox
// fails closed: commands are refused unless the operator accepted exactly the missing limits by name in
// AURA_SANDBOX_ACCEPT_MISSING (runs still need a working bubblewrap) or set AURA_ALLOW_UNSANDBOXED=true; then
// the run's mode says "(limits incomplete)" and the PR names what was missing and by which choice.
//
// RLIMIT_AS is gone: it bounds address space reserved, not memory used (Node's fetch and WebAssembly reserve
// gigabytes they never touch) and it is per process, so it never bounded a run. prlimit still sets a per-file
// size limit, no core dumps, and — only when the run has a uid of its own — the per-user process limit.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeCgroup, probeCgroups, type CgroupProbe } from "./cgroup.js";
import { SandboxUnavailableError } from "./errors.js";
import { LIMIT_NAMES, type LimitName } from "./limit-names.js";
import { UID_POOL_DEFAULTS, type UidPoolConfig } from "./uid-pool.js";
import { removeStaleWorkspaces } from "./workspace-quota.js";

export const LIMIT_DEFAULTS = { maxFileMb: 1024 } as const;

export type Check = { ok: true } | { ok: false; reason: string };

export type LimitProbe = {
  cgroup: CgroupProbe;
  /** util-linux prlimit, when installed and working. */
  prlimit: string | undefined;
  workspace: Check;
  uids: ({ ok: true } | { ok: false; reason: string }) & { pool: UidPoolConfig };
};

export type LimitSettings = { cgroupDir?: string | undefined; uidPool?: UidPoolConfig | undefined };

const PRLIMIT_CANDIDATES = ["/usr/bin/prlimit", "/bin/prlimit"];

function message(error: unknown): string {
  return error instanceof Error ? error.message.trim() : String(error);
}

/** prlimit arguments: per-file size, no core dumps, and the process count when the uid is the run's own. */
export function prlimitArgs(prlimit: string, maxProcesses: number | undefined): string[] {
  return [prlimit, ...(maxProcesses === undefined ? [] : [`--nproc=${maxProcesses}`]), `--fsize=${LIMIT_DEFAULTS.maxFileMb * 1024 * 1024}`, "--core=0", "--"];
}

function probePrlimit(): string | undefined {
  const found = PRLIMIT_CANDIDATES.find((candidate) => existsSync(candidate));
  if (!found) return undefined;
  const [file = found, ...args] = prlimitArgs(found, 256);
  return spawnSync(file, [...args, "/bin/true"], { timeout: 10_000, env: {} }).status === 0 ? found : undefined;
}

/** Mounting a small overlay proves the workspace limit works here (root alone is not enough: the kernel decides). */
function probeWorkspace(): Check {
  if (process.getuid?.() !== 0) return { ok: false, reason: "the app does not run as root, so it cannot mount a size-limited layer over the work tree" };
  // Layers of runs whose app crashed stay mounted until someone removes them; this probe runs once per app start.
  removeStaleWorkspaces();
  const dir = mkdtempSync(path.join(os.tmpdir(), "aura-wsprobe-"));
  const run = (file: string, args: string[]) => {
    const result = spawnSync(file, args, { timeout: 10_000, encoding: "utf8", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
    if (result.status !== 0)
      throw new Error(`${file} ${args.slice(0, 3).join(" ")}: ${(result.stderr || result.error?.message || `exit ${result.status}`).trim()}`);
  };
  const mounted: string[] = [];
  try {
    for (const sub of ["lower", "layer", "merged"]) mkdirSync(path.join(dir, sub));
    run("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0700", "aura-wsprobe", path.join(dir, "layer")]);
    mounted.push(path.join(dir, "layer"));
    for (const sub of ["upper", "work"]) mkdirSync(path.join(dir, "layer", sub));
    const options = `lowerdir=${dir}/lower,upperdir=${dir}/layer/upper,workdir=${dir}/layer/work,redirect_dir=off,metacopy=off,index=off,xino=off`;
    run("mount", ["-t", "overlay", "-o", options, "aura-wsprobe", path.join(dir, "merged")]);
    mounted.push(path.join(dir, "merged"));
    return { ok: true };
  } catch (error) {
    return { ok: false, reason: `cannot mount a size-limited overlay (${message(error)})` };
  } finally {
    for (const target of mounted.reverse()) spawnSync("umount", [target], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
    rmSync(dir, { recursive: true, force: true });
  }
}

const cache = new Map<string, LimitProbe>();

/** What this host can apply (checked once per setting per process). */
export function probeLimits(settings: LimitSettings = {}): LimitProbe {
  const pool = settings.uidPool ?? UID_POOL_DEFAULTS;
  const key = JSON.stringify([settings.cgroupDir ?? null, pool]);
  const cached = cache.get(key);
  if (cached) return cached;
  const probe: LimitProbe = {
    cgroup: probeCgroups(settings.cgroupDir),
    prlimit: probePrlimit(),
    workspace: probeWorkspace(),
    uids: process.getuid?.() === 0 ? { ok: true, pool } : { ok: false, reason: "the app does not run as root, so each run cannot get a uid of its own", pool },
  };
  cache.set(key, probe);
  return probe;
}

export { describeCgroup };

function size(mb: number): string {
  return mb % 1024 === 0 ? `${mb / 1024} GiB` : `${mb} MiB`;
}

export type LimitSizes = { memoryMb: number; maxProcesses: number; tmpfsMb: number; workspaceMb: number };

/** What bubblewrap itself offers: sized tmpfs, --disable-userns, and a filter for this architecture. */
export type BwrapFeatures = { size: boolean; disableUserns: boolean; seccomp: boolean };

/** A limit that does not hold, in words; `name` is what AURA_SANDBOX_ACCEPT_MISSING calls it (null: never acceptable). */
export type MissingLimit = { name: LimitName | null; text: string };

/** The limits that hold and the ones that do not, in words for /ready, the startup log, the PR and the review. */
export function limitReport(probe: LimitProbe, bwrap: BwrapFeatures | undefined, sizes: LimitSizes, uid?: number): { held: string[]; missing: MissingLimit[] } {
  const held: string[] = [];
  const missing: MissingLimit[] = [];
  const lack = (name: LimitName, text: string) => missing.push({ name, text });
  const { cgroup } = probe;
  if (cgroup.kind === "none") lack("cgroup", `memory and process limits per run (${cgroup.reason})`);
  else held.push(`cgroup ${cgroup.kind} memory ${size(sizes.memoryMb)} + pids ${sizes.maxProcesses}`);
  if (bwrap?.size) held.push(`tmpfs ${size(sizes.tmpfsMb)}`);
  else lack("tmpfs", bwrap ? "sized tmpfs (this bubblewrap has no --size: install 0.7 or later)" : "sized tmpfs (no bubblewrap)");
  if (probe.workspace.ok && bwrap) held.push(`workspace ${size(sizes.workspaceMb)}`);
  else
    lack(
      "workspace",
      `workspace disk limit (${probe.workspace.ok ? "not applied without bubblewrap: the run can reach the real tree" : probe.workspace.reason})`,
    );
  if (probe.uids.ok) held.push(uid === undefined ? `uid per run (${probe.uids.pool.count} from ${probe.uids.pool.base})` : `uid ${uid}`);
  else lack("uid", `a uid per run (${probe.uids.reason})`);
  if (bwrap?.seccomp) held.push("seccomp");
  else lack("seccomp", bwrap ? `seccomp filter (no syscall table for ${process.arch})` : "seccomp filter (no bubblewrap)");
  if (bwrap?.disableUserns) held.push("no nested user namespaces");
  else lack("userns", bwrap ? "--disable-userns (needs bubblewrap 0.8 or later)" : "nested user namespaces blocked (no bubblewrap)");
  return { held, missing };
}

/**
 * The sandbox starts, but some limit would not hold and the operator did not accept its absence: refused like
 * no sandbox (fail closed). `names` are the missing limits' names when each has one.
 */
export class SandboxLimitsUnavailableError extends SandboxUnavailableError {
  override name = "SandboxLimitsUnavailableError";
  constructor(
    readonly missing: string[],
    names: readonly LimitName[] = [],
  ) {
    super(`limits missing: ${missing.join("; ")}`);
    const accept =
      names.length > 0 && names.length === missing.length
        ? `add ${names.join(",")} to AURA_SANDBOX_ACCEPT_MISSING to run in bubblewrap without exactly ${names.length === 1 ? "this limit" : "these limits"}`
        : `list the limits runs may go without in AURA_SANDBOX_ACCEPT_MISSING (${LIMIT_NAMES.join(", ")}) to run in bubblewrap without exactly those`;
    this.message =
      `Not every sandbox limit can be applied here; refusing to run repository commands. Missing: ${missing.join("; ")}. ` +
      `Fix the host (see docs/architecture.md, "Sandbox"), or ${accept} (every PR will say which were missing). ` +
      "AURA_ALLOW_UNSANDBOXED=true allows any limit to be missing, and no bubblewrap at all";
  }
}
