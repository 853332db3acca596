// A pool of host user ids for sandbox runs (AURA_SANDBOX_UID_BASE, AURA_SANDBOX_UID_COUNT): each concurrent run
// gets its own uid, so the kernel's per-user process count (RLIMIT_NPROC) of one run never stops another from
// starting, and no run can signal or read the files of another. Before a uid goes back, every process still
// running as it is killed.
//
// A uid is held by a kernel lock (flock) on its lock file, so app processes on the same host share the pool and a
// holder that dies loses its lock with no takeover protocol: a takeover by "the recorded pid is dead" raced (two
// claimants both saw the dead pid, and the later unlink removed the first one's fresh lock), so two runs shared a
// uid and one killed the other's processes. Node has no flock, so each held uid is one util-linux `flock` process
// whose command waits on a pipe from the app: when the app releases the uid, or dies, the pipe closes, the
// command ends and the kernel drops the lock. Lock files are never deleted (deleting a locked file lets a second
// claimant lock a new file of the same name). This costs a process spawn per run, about 2 ms.
import { spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync } from "node:fs";
import { lstat, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { SandboxStartError } from "./errors.js";

export type UidPoolConfig = {
  base: number;
  count: number;
  lockDir?: string;
  /** util-linux flock; defaults to the first of /usr/bin/flock and /bin/flock that exists. */
  flockPath?: string;
};

export const UID_POOL_DEFAULTS = { base: 200_000, count: 64 } as const;

const FLOCK_CANDIDATES = ["/usr/bin/flock", "/bin/flock"];
/** flock's exit status when the lock is held elsewhere (-E); distinct from its own errors (1) and the command's. */
const LOCK_BUSY = 75;

/** Every uid in the pool is held by a running sandbox: an infrastructure condition, retried later. */
export class UidPoolExhausted extends Error {
  override name = "UidPoolExhausted";
  constructor(readonly pool: UidPoolConfig) {
    super(
      `all ${pool.count} sandbox uids from ${pool.base} are in use by concurrent runs; the run will be retried. ` +
        "Raise AURA_SANDBOX_UID_COUNT if this host should run more sandboxes at once",
    );
  }
}

export type Lease = {
  uid: number;
  gid: number;
  /** Kills every process running as the uid (and waits until none is left); the uid stays held. */
  killAll(): Promise<void>;
  /** Kills every process running as the uid, then gives the uid back. */
  release(): Promise<void>;
};

function lockDir(pool: UidPoolConfig): string {
  return pool.lockDir ?? path.join(os.tmpdir(), "aura-sandbox-uids");
}

function flockPath(pool: UidPoolConfig): string {
  const found = pool.flockPath ?? FLOCK_CANDIDATES.find((candidate) => existsSync(candidate));
  if (found === undefined || !existsSync(found)) {
    throw new SandboxStartError(
      `could not start the sandbox: util-linux flock is not installed (looked for ${pool.flockPath ?? FLOCK_CANDIDATES.join(" and ")}), ` +
        "and the sandbox uid pool needs it to hold a uid per run; install util-linux (Debian and Ubuntu ship it by default)",
      "uid-pool",
    );
  }
  return found;
}

// The lock directory lives in a shared /tmp: one that another user made, or made writable, could hand out locks.
async function ensureLockDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const stats = await lstat(dir);
  if (!stats.isDirectory() || stats.uid !== process.getuid?.() || (stats.mode & 0o022) !== 0) {
    throw new SandboxStartError(
      `could not start the sandbox: the uid lock directory ${dir} is not a directory owned by this user and writable only by it; remove it (the app recreates it)`,
      "uid-pool",
    );
  }
}

function ensureLockDirSync(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const stats = lstatSync(dir);
  if (!stats.isDirectory() || stats.uid !== process.getuid?.() || (stats.mode & 0o022) !== 0) {
    throw new SandboxStartError(
      `could not start the sandbox: the uid lock directory ${dir} is not a directory owned by this user and writable only by it; remove it (the app recreates it)`,
      "uid-pool",
    );
  }
}

/**
 * Holds a free uid of the pool for a short synchronous job, such as bubblewrap's start-up probe run as a pool uid.
 * Without the uid's lock, a lease in another process on the host takes that uid and kills every process running
 * as it as a crashed run's leftover — the probe among them, which then reads as "bubblewrap does not work" and,
 * being cached, made the process refuse every run until restarted. The lock is util-linux flock on an inherited
 * descriptor of this process's own open file (`flock -n 3`): the kernel keeps it on the open file, so it lasts
 * until `release` closes the descriptor, and leases elsewhere skip the uid. Undefined when every uid is held.
 */
export function holdUidSync(pool: UidPoolConfig): { uid: number; release(): void } | undefined {
  const flock = flockPath(pool);
  const dir = lockDir(pool);
  ensureLockDirSync(dir);
  for (let uid = pool.base; uid < pool.base + pool.count; uid++) {
    const fd = openSync(path.join(dir, String(uid)), "a", 0o600);
    const locked = spawnSync(flock, ["-n", "-E", String(LOCK_BUSY), "3"], {
      stdio: ["ignore", "ignore", "pipe", fd],
      env: { PATH: "/usr/bin:/bin" },
      encoding: "utf8",
      timeout: 10_000,
    });
    if (locked.status === 0) return { uid, release: () => closeSync(fd) };
    closeSync(fd);
    if (locked.status !== LOCK_BUSY) {
      const why = locked.stderr?.trim() || locked.error?.message || `exit ${String(locked.status ?? locked.signal)}`;
      throw new SandboxStartError(`could not start the sandbox: ${flock} on the lock of uid ${uid} failed (${why})`, "uid-pool");
    }
  }
  return undefined;
}

type Holder = { release(): Promise<void> };

/** Locks `file` with a flock process whose command waits on our pipe; undefined when another holder has it. */
function tryLock(flock: string, file: string): Promise<Holder | undefined> {
  return new Promise((resolve, reject) => {
    // The command says it holds the lock, then waits until the pipe from the app closes.
    const child = spawn(flock, ["-n", "-E", String(LOCK_BUSY), file, "/bin/sh", "-c", "echo held; read -r _"], {
      stdio: ["pipe", "pipe", "pipe"],
      // Its own session: a Ctrl-C meant for the app must not drop the lock while a run still goes on.
      detached: true,
      env: { PATH: "/usr/bin:/bin" },
    });
    let stderr = "";
    let held = false;
    const exited = new Promise<void>((done) => child.once("exit", () => done()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.on("error", () => undefined);
    (child.stdout as Readable).once("data", () => {
      held = true;
      child.stdout.destroy();
      child.stderr.destroy();
      // A lease must not keep the app alive by itself; the pipe still closes when the app exits.
      child.unref();
      (child.stdin as unknown as { unref?: () => void }).unref?.();
      resolve({
        release: async () => {
          child.ref();
          child.stdin.end();
          await exited;
        },
      });
    });
    child.once("error", (error) => reject(new SandboxStartError(`could not start the sandbox: running ${flock} failed (${error.message})`, "uid-pool")));
    child.once("exit", (code, signal) => {
      if (held) return;
      if (code === LOCK_BUSY) resolve(undefined);
      else
        reject(
          new SandboxStartError(`could not start the sandbox: ${flock} ${file} failed (${stderr.trim() || `exit ${String(code ?? signal)}`})`, "uid-pool"),
        );
    });
  });
}

/** Pids of live (not zombie) processes whose real, effective or saved uid is `uid`. */
export function processesOf(uid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      // A zombie runs nothing and goes once its parent reaps it.
      if (/^State:\s+Z/m.test(status)) continue;
      const line = /^Uid:\s+(.*)$/m.exec(status)?.[1] ?? "";
      if (line.split(/\s+/).slice(0, 3).map(Number).includes(uid)) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/** SIGKILLs every process of `uid` until none is left (a process may fork while we look). */
async function killAllOf(uid: number): Promise<void> {
  for (let round = 0; round < 500; round++) {
    const pids = processesOf(uid);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
    await sleep(round === 0 ? 1 : 10);
  }
  throw new Error(`processes of uid ${uid} remain after SIGKILL: ${processesOf(uid).join(", ")}`);
}

/** Takes a free uid (gid the same number) for one run. Throws UidPoolExhausted when every uid is held. */
export async function leaseUid(pool: UidPoolConfig): Promise<Lease> {
  const flock = flockPath(pool);
  const dir = lockDir(pool);
  await ensureLockDir(dir);
  for (let uid = pool.base; uid < pool.base + pool.count; uid++) {
    const holder = await tryLock(flock, path.join(dir, String(uid)));
    if (!holder) continue;
    try {
      // A process left behind by a crashed app must not share this run's process count.
      await killAllOf(uid);
    } catch (error) {
      await holder.release();
      throw error;
    }
    return {
      uid,
      gid: uid,
      killAll: () => killAllOf(uid),
      release: async () => {
        try {
          await killAllOf(uid);
        } finally {
          await holder.release();
        }
      },
    };
  }
  throw new UidPoolExhausted(pool);
}
