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
import { accessSync, constants, statfsSync, statSync } from "node:fs";
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

export function chooseWorkDir(input: {
  outDir: string;
  workDir: string | undefined;
  concurrency: number;
  checkoutBytes: number;
  /** The tmpfs to consider (tests give another folder). */
  shm?: string;
  /** The memory the system reports free (tests give a figure). */
  freeMemory?: number;
}): WorkDir {
  if (input.workDir !== undefined) return { path: input.workDir, kind: "given", removeAtEnd: false };
  const fallback: WorkDir = { path: path.join(input.outDir, "work"), kind: "out", removeAtEnd: false };
  const shm = input.shm ?? "/dev/shm";
  const need = Math.max(MIN_FREE_BYTES, input.checkoutBytes * CHECKOUTS_PER_SLOT * Math.max(1, input.concurrency) * MARGIN);
  try {
    if (!statSync(shm).isDirectory()) return fallback;
    accessSync(shm, constants.W_OK | constants.X_OK);
    const fs = statfsSync(shm);
    if (fs.bavail * fs.bsize < need || (input.freeMemory ?? os.freemem()) < need) return fallback;
  } catch {
    return fallback;
  }
  const digest = createHash("sha256").update(path.resolve(input.outDir)).digest("hex").slice(0, 12);
  return { path: path.join(shm, `aura-eval-${digest}`), kind: "tmpfs", removeAtEnd: true };
}
