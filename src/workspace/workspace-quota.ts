// The disk limit of a run's work tree. The tree is a host directory, so the run does not write it directly: it
// sees an overlay whose lower layer is the tree and whose upper layer (everything the run creates or changes)
// lives on a tmpfs of the limit's size, mounted by the app for this run. Writing past the limit fails with
// ENOSPC at once, and the pages are charged to the run's memory cgroup as they are written. After the run the
// app copies the upper layer back into the tree (deletions included) and unmounts both.
//
// Why this and not RLIMIT_FSIZE plus a periodic `du`: RLIMIT_FSIZE bounds one file, not the total, and a
// periodic check sees 4 GB written in 28 ms too late. Needs mount rights on the host (the app runs as root).
//
// Each run's directory is named for the app process that made it and records that process's start time, so
// the mounts an app left behind when it crashed mid-run are found and removed at the next probe.
import { execFile, spawnSync } from "node:child_process";
import { constants, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { chmod, copyFile, lchown, lstat, lutimes, mkdir, mkdtemp, readdir, readlink, rm, symlink, utimes } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export type WorkspaceMount = {
  /** The overlay to bind into the sandbox as the work tree. */
  merged: string;
  /** Copies what the run changed back into the tree, then unmounts. */
  commit(): Promise<void>;
  /** Unmounts without copying anything back. */
  discard(): Promise<void>;
};

const PREFIX = "aura-ws-";
const OWNER_FILE = "owner";
const SYSTEM_PATH = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };

/** The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); undefined when it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: count fields after its closing one.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Mount points at or under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => (line.split(" ")[4] ?? "").replace(/\\(\d{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/**
 * Unmounts and removes the work-tree layers of runs whose app process is gone (it crashed mid-run): a directory
 * aura-ws-<pid>-* of this host's temp directory whose pid is not running, or is now another process (its start
 * time differs from the one recorded). Returns what was removed, and what could not be and why.
 */
export function removeStaleWorkspaces(tmp = os.tmpdir()): { removed: string[]; failed: string[] } {
  const removed: string[] = [];
  const failed: string[] = [];
  for (const name of readdirSync(tmp)) {
    const pid = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1];
    if (pid === undefined) continue;
    const root = path.join(tmp, name);
    const recorded = (() => {
      try {
        return readFileSync(path.join(root, OWNER_FILE), "utf8").trim().split(" ")[1];
      } catch {
        return undefined;
      }
    })();
    const running = startTime(Number(pid));
    // No owner file yet: a live app between mkdtemp and its write, unless the pid is gone.
    if (running !== undefined && (recorded === undefined || recorded === "" || recorded === running)) continue;
    for (const target of mountsUnder(root)) {
      if (spawnSync("umount", [target], { env: SYSTEM_PATH }).status !== 0) spawnSync("umount", ["-l", target], { env: SYSTEM_PATH });
    }
    const left = mountsUnder(root);
    // Never remove through a mount: the overlay's lower layer is a real work tree.
    if (left.length > 0) {
      failed.push(`${root}: still mounted at ${left.join(", ")}`);
      continue;
    }
    rmSync(root, { recursive: true, force: true });
    removed.push(root);
  }
  return { removed, failed };
}

async function mount(args: string[]): Promise<void> {
  await execFileAsync("mount", args, { env: SYSTEM_PATH });
}

async function umount(target: string): Promise<void> {
  await execFileAsync("umount", [target], { env: SYSTEM_PATH });
}

/** Mounts the run's view of `tree` with at most `sizeBytes` of new or changed content. */
export async function mountWorkspace(tree: string, sizeBytes: number, owner: { uid: number; gid: number } | undefined): Promise<WorkspaceMount> {
  // Overlay options are comma- and colon-separated: a path with either cannot be passed safely.
  if (/[,:\\\n]/.test(tree)) throw new Error(`the work tree path ${JSON.stringify(tree)} contains a character overlay options cannot carry`);
  const root = await mkdtemp(path.join(os.tmpdir(), `${PREFIX}${process.pid}-`));
  writeFileSync(path.join(root, OWNER_FILE), `${process.pid} ${startTime(process.pid) ?? ""}\n`);
  const layer = path.join(root, "layer");
  const merged = path.join(root, "merged");
  const upper = path.join(layer, "upper");
  await mkdir(layer);
  await mkdir(merged);
  const mounted: string[] = [];
  const unmountAll = async () => {
    for (const target of mounted.reverse()) await umount(target);
    mounted.length = 0;
    await rm(root, { recursive: true, force: true });
  };
  try {
    await mount(["-t", "tmpfs", "-o", `size=${sizeBytes},mode=0700,nosuid,nodev`, "aura-workspace", layer]);
    mounted.push(layer);
    await mkdir(upper);
    await mkdir(path.join(layer, "work"));
    const top = await lstat(tree);
    await chmod(upper, top.mode & 0o7777);
    if (owner) await lchown(upper, owner.uid, owner.gid);
    // redirect_dir and metacopy off: every change is a full copy in the upper layer, so copying it back is complete.
    const options = `lowerdir=${tree},upperdir=${upper},workdir=${path.join(layer, "work")},redirect_dir=off,metacopy=off,index=off,xino=off`;
    await mount(["-t", "overlay", "-o", options, "aura-workspace", merged]);
    mounted.push(merged);
  } catch (error) {
    await unmountAll().catch(() => undefined);
    throw error;
  }
  return {
    merged,
    commit: async () => {
      await copyBack(upper, merged, tree, "");
      await unmountAll();
    },
    discard: unmountAll,
  };
}

/** A whiteout: the overlay's mark that the run deleted the lower entry of that name. */
function isWhiteout(stats: { isCharacterDevice(): boolean; rdev: number }): boolean {
  return stats.isCharacterDevice() && stats.rdev === 0;
}

// Walks the upper layer: whatever is there replaces the tree's entry; an upper directory's final contents are
// what the merged view lists, so entries the run deleted (or hid by recreating the directory) go too.
// Nothing is followed: every tree entry that is replaced is removed first, never written through.
async function copyBack(upper: string, merged: string, tree: string, relative: string): Promise<void> {
  const upperDir = path.join(upper, relative);
  const treeDir = path.join(tree, relative);
  const kept = new Set(await readdir(path.join(merged, relative)));
  for (const name of await readdir(treeDir)) {
    if (relative === "" && name === ".git") continue;
    if (!kept.has(name)) await rm(path.join(treeDir, name), { recursive: true, force: true });
  }
  for (const name of await readdir(upperDir)) {
    if (relative === "" && name === ".git") continue;
    const from = path.join(upperDir, name);
    const to = path.join(treeDir, name);
    const stats = await lstat(from);
    const existing = await lstat(to).catch(() => undefined);
    if (isWhiteout(stats)) {
      await rm(to, { recursive: true, force: true });
      continue;
    }
    if (stats.isDirectory()) {
      if (existing && !existing.isDirectory()) await rm(to, { recursive: true, force: true });
      if (!existing?.isDirectory()) await mkdir(to);
      await copyBack(upper, merged, tree, path.join(relative, name));
      await chmod(to, stats.mode & 0o7777);
      await lchown(to, stats.uid, stats.gid);
      await utimes(to, stats.atime, stats.mtime);
      continue;
    }
    if (!stats.isFile() && !stats.isSymbolicLink()) continue;
    if (existing) await rm(to, { recursive: true, force: true });
    if (stats.isSymbolicLink()) {
      await symlink(await readlink(from), to);
    } else {
      await copyFile(from, to, constants.COPYFILE_EXCL);
      await chmod(to, stats.mode & 0o7777);
    }
    await lchown(to, stats.uid, stats.gid);
    await lutimes(to, stats.atime, stats.mtime);
  }
}
