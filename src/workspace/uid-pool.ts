// A pool of host user ids for sandbox runs (AURA_SANDBOX_UID_BASE, AURA_SANDBOX_UID_COUNT): each concurrent run
// gets its own uid, so the kernel's per-user process count (RLIMIT_NPROC) of one run never stops another from
// starting, and no run can signal or read the files of another. A uid is taken by creating a lock file with
// O_EXCL (so app processes on the same host share the pool); a lock whose process died is taken over. Before a
// uid goes back, every process still running as it is killed.
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export type UidPoolConfig = { base: number; count: number; lockDir?: string };

export const UID_POOL_DEFAULTS = { base: 200_000, count: 64 } as const;

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

export type Lease = { uid: number; gid: number; release(): Promise<void> };

function lockDir(pool: UidPoolConfig): string {
  return pool.lockDir ?? path.join(os.tmpdir(), "aura-sandbox-uids");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function tryLock(file: string): Promise<boolean> {
  try {
    const handle = await open(file, "wx", 0o600);
    await handle.writeFile(String(process.pid));
    await handle.close();
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  const holder = Number(await readFile(file, "utf8").catch(() => "0"));
  // Held by this process (another run) or a live one; an empty file is a lock being written.
  if (holder === 0 || holder === process.pid || alive(holder)) return false;
  await unlink(file).catch(() => undefined);
  return tryLock(file);
}

/** Pids of processes whose real, effective or saved uid is `uid`. */
export function processesOf(uid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const line = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${entry}/status`, "utf8"))?.[1] ?? "";
      if (line.split(/\s+/).slice(0, 3).map(Number).includes(uid)) found.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

function killAllOf(uid: number): void {
  for (const pid of processesOf(uid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Gone already.
    }
  }
}

/** Takes a free uid (gid the same number) for one run. Throws UidPoolExhausted when every uid is held. */
export async function leaseUid(pool: UidPoolConfig): Promise<Lease> {
  const dir = lockDir(pool);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  for (let uid = pool.base; uid < pool.base + pool.count; uid++) {
    const file = path.join(dir, String(uid));
    if (!(await tryLock(file))) continue;
    // A process left behind by a crashed app must not share this run's process count.
    killAllOf(uid);
    return {
      uid,
      gid: uid,
      release: async () => {
        killAllOf(uid);
        await unlink(file).catch(() => undefined);
      },
    };
  }
  throw new UidPoolExhausted(pool);
}
