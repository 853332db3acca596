// Where `aura eval run` makes its scratch checkouts when --work-dir is not given. Every attempt checks the
// repository out three times (the employee's tree, the Auditor's, grading's) and removes them again; on a disk
// that is slow to create and delete files that is the largest part of the eval's own time (bench:eval: 1,000
// files take ~0.17 s to write on this VM's ext4, ~0.016 s on tmpfs). So the default is the machine's shared-memory
// tmpfs (/dev/shm) when it clearly has room, else `work/` in the --out folder as before. "Room" is counted from
// the repository's size at HEAD: every slot may hold three checkouts at once, with a margin of four, and never
// less than 1 GiB; both the tmpfs's free space and the memory the system reports free must cover it. The folder
// is named after the --out folder, so a killed eval started again finds what it left, and it is removed when the
// eval ends.
import { createHash } from "node:crypto";
import { accessSync, constants, readFileSync, statfsSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { git, type GitTarget } from "../workspace/index.js";

export type WorkDir = { path: string; kind: "given" | "tmpfs" | "out"; /** Removed when the eval ends (the tmpfs default). */ removeAtEnd: boolean };

const MIN_FREE_BYTES = 1024 ** 3;
const CHECKOUTS_PER_SLOT = 3;
const MARGIN = 4;

/** The size of the files of `target`'s HEAD (the sum of its blobs), from one `ls-tree`. */
export async function checkoutBytes(target: GitTarget): Promise<number> {
  const listing = (await git(target, ["ls-tree", "-r", "-l", "-z", "HEAD"])).stdout;
  let total = 0;
  for (const entry of listing.split("\0")) {
    const size = Number(/^\d+ blob [0-9a-f]+\s+(\d+)\t/.exec(entry)?.[1] ?? 0);
    total += size;
  }
  return total;
}

function readMountInfo(): string {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return "";
  }
}

/** The mount options (per-mount and super-block) of the mount `dir` is on: the longest mount point above it. */
export function mountOptionsOf(mountInfo: string, dir: string): string[] | undefined {
  let best: { point: string; options: string[] } | undefined;
  for (const line of mountInfo.split("\n")) {
    const fields = line.split(" ");
    const dash = fields.indexOf("-");
    const point = fields[4];
    if (point === undefined || dash < 0) continue;
    if (dir !== point && !dir.startsWith(point === "/" ? "/" : `${point}/`)) continue;
    if (best && best.point.length >= point.length) continue;
    best = { point, options: [...(fields[5] ?? "").split(","), ...(fields[dash + 3] ?? "").split(",")] };
  }
  return best?.options;
}

/** What a memory limit leaves beyond this process's own use (no limit: unbounded). */
function memoryLimitLeft(limit = process.constrainedMemory?.() ?? 0): number {
  return limit > 0 ? limit - process.memoryUsage().rss : Number.POSITIVE_INFINITY;
}

export function chooseWorkDir(input: {
  outDir: string;
  workDir: string | undefined;
  concurrency: number;
  checkoutBytes: number;
  /** The tmpfs to consider (tests give another folder). */
  shm?: string;
  /** The memory the system reports free (tests give a figure). */
  freeMemory?: number;
  /** The process's memory limit (a container's cgroup; 0 for none): tmpfs pages count against it. Tests give one. */
  memoryLimit?: number;
  /** /proc/self/mountinfo's text (tests give one). */
  mountInfo?: string;
}): WorkDir {
  if (input.workDir !== undefined) return { path: input.workDir, kind: "given", removeAtEnd: false };
  const fallback: WorkDir = { path: path.join(input.outDir, "work"), kind: "out", removeAtEnd: false };
  const shm = input.shm ?? "/dev/shm";
  const need = Math.max(MIN_FREE_BYTES, input.checkoutBytes * CHECKOUTS_PER_SLOT * Math.max(1, input.concurrency) * MARGIN);
  try {
    if (!statSync(shm).isDirectory()) return fallback;
    accessSync(shm, constants.W_OK | constants.X_OK);
    // Test commands run files of the checkout (node_modules/.bin, ./gradlew): a tmpfs mounted noexec (Docker's
    // and Kubernetes' /dev/shm) would fail them.
    if (mountOptionsOf(input.mountInfo ?? readMountInfo(), shm)?.includes("noexec") !== false) return fallback;
    const fs = statfsSync(shm);
    const free = Math.min(input.freeMemory ?? os.freemem(), memoryLimitLeft(input.memoryLimit));
    if (fs.bavail * fs.bsize < need || free < need) return fallback;
  } catch {
    return fallback;
  }
  const digest = createHash("sha256").update(path.resolve(input.outDir)).digest("hex").slice(0, 12);
  return { path: path.join(shm, `aura-eval-${digest}`), kind: "tmpfs", removeAtEnd: true };
}
