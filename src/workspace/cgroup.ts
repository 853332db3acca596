// Per-run control groups for the sandbox: one child group per run with a memory limit (which counts tmpfs and
// shared-memory pages and every child process) and a process limit, removed after the run with everything in it.
// Where the host offers it this is cgroup v2 (a delegated directory: AURA_SANDBOX_CGROUP, or the app's own
// group when its memory and pids controllers are already enabled for children); else the cgroup v1 memory and
// pids hierarchies when the app may create groups there; else nothing, and the probe says why.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export type CgroupProbe = { kind: "v2"; parent: string } | { kind: "v1"; memory: string; pids: string; swapLimit: boolean } | { kind: "none"; reason: string };

export type RunLimits = { memoryBytes: number; maxProcesses: number };

const V1_GROUP = "aura-sandbox";

type Mount = { point: string; fstype: string; superOptions: string[] };

function mounts(): Mount[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [left = "", right = ""] = line.split(" - ");
      const [fstype = "", , superOptions = ""] = right.split(" ");
      return { point: (left.split(" ")[4] ?? "").replace(/\\040/g, " "), fstype, superOptions: superOptions.split(",") };
    });
}

/** This process's group per hierarchy: "" for cgroup v2, else the controller list ("memory", "pids"...). */
function ownGroups(): Map<string, string> {
  const groups = new Map<string, string>();
  for (const line of readFileSync("/proc/self/cgroup", "utf8").split("\n").filter(Boolean)) {
    const [, controllers = "", group = "/"] = line.split(":");
    for (const controller of controllers === "" ? [""] : controllers.split(",")) groups.set(controller, group);
  }
  return groups;
}

function words(file: string): string[] {
  try {
    return readFileSync(file, "utf8").trim().split(/\s+/);
  } catch {
    return [];
  }
}

/** A throwaway child proves that groups can be created and limited here (write access is not enough to know). */
function tryChild(parents: string[], limitFiles: [string, string][]): string | undefined {
  const name = `probe-${process.pid}`;
  const made: string[] = [];
  try {
    for (const parent of parents) {
      mkdirSync(path.join(parent, name));
      made.push(path.join(parent, name));
    }
    for (const [file, value] of limitFiles) {
      const target = made.find((dir) => existsSync(path.join(dir, file)));
      if (!target) return `${file} is missing`;
      writeFileSync(path.join(target, file), value);
    }
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    for (const dir of made.reverse()) rmdirSync(dir, { recursive: false });
  }
}

/** A cgroup v2 directory usable as the parent of run groups: memory and pids enabled for its children. */
function probeV2(dir: string, configured: boolean): CgroupProbe {
  const available = words(path.join(dir, "cgroup.controllers"));
  if (!available.includes("memory") || !available.includes("pids")) {
    return { kind: "none", reason: `cgroup v2 at ${dir} does not offer the memory and pids controllers (it has: ${available.join(" ") || "none"})` };
  }
  const enabled = words(path.join(dir, "cgroup.subtree_control"));
  if (!enabled.includes("memory") || !enabled.includes("pids")) {
    if (!configured) {
      return {
        kind: "none",
        reason: `the app's cgroup ${dir} does not enable memory and pids for child groups; set AURA_SANDBOX_CGROUP to a delegated cgroup v2 directory`,
      };
    }
    try {
      // A group with processes in it cannot enable controllers for children: the processes move to a leaf.
      const procs = words(path.join(dir, "cgroup.procs")).filter(Boolean);
      if (procs.length > 0) {
        const leaf = path.join(dir, "aura-app");
        mkdirSync(leaf, { recursive: true });
        for (const pid of procs) writeFileSync(path.join(leaf, "cgroup.procs"), pid);
      }
      writeFileSync(path.join(dir, "cgroup.subtree_control"), "+memory +pids");
    } catch (error) {
      return { kind: "none", reason: `cannot enable memory and pids for child groups of ${dir}: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
  const failed = tryChild(
    [dir],
    [
      ["memory.max", "67108864"],
      ["pids.max", "16"],
    ],
  );
  return failed ? { kind: "none", reason: `cannot create a limited group under ${dir}: ${failed}` } : { kind: "v2", parent: dir };
}

function probeV1(all: Mount[], groups: Map<string, string>): CgroupProbe {
  const hierarchy = (controller: string) => all.find((mount) => mount.fstype === "cgroup" && mount.superOptions.includes(controller));
  const memory = hierarchy("memory");
  const pids = hierarchy("pids");
  if (!memory || !pids) return { kind: "none", reason: "no cgroup v2 with memory and pids, and no cgroup v1 memory and pids hierarchies are mounted" };
  const parents = [path.join(memory.point, groups.get("memory") ?? "/", V1_GROUP), path.join(pids.point, groups.get("pids") ?? "/", V1_GROUP)] as const;
  try {
    for (const parent of parents) mkdirSync(parent, { recursive: true });
  } catch (error) {
    return {
      kind: "none",
      reason: `cannot create cgroup v1 groups (${error instanceof Error ? error.message : String(error)}); run the app as root or give it a delegated cgroup v2 directory (AURA_SANDBOX_CGROUP)`,
    };
  }
  const failed = tryChild(
    [...parents],
    [
      ["memory.limit_in_bytes", "67108864"],
      ["pids.max", "16"],
    ],
  );
  if (failed) return { kind: "none", reason: `cannot create limited cgroup v1 groups: ${failed}` };
  return { kind: "v1", memory: parents[0], pids: parents[1], swapLimit: existsSync(path.join(parents[0], "memory.memsw.limit_in_bytes")) };
}

/** Which per-run cgroup mechanism works here (`configured`: AURA_SANDBOX_CGROUP). */
export function probeCgroups(configured?: string): CgroupProbe {
  try {
    if (configured) return probeV2(configured, true);
    const all = mounts();
    const unified = all.find((mount) => mount.fstype === "cgroup2" && mount.point === "/sys/fs/cgroup");
    const groups = ownGroups();
    if (unified) return probeV2(path.join(unified.point, groups.get("") ?? "/"), false);
    return probeV1(all, groups);
  } catch (error) {
    return { kind: "none", reason: `cannot read this process's cgroups: ${error instanceof Error ? error.message : String(error)}` };
  }
}

export function describeCgroup(probe: CgroupProbe): string {
  return probe.kind === "v2" ? `cgroup v2 (${probe.parent})` : probe.kind === "v1" ? `cgroup v1 (${probe.memory}, ${probe.pids})` : `none: ${probe.reason}`;
}

/** One run's group(s). `destroy` kills what is left in them and removes them. */
export type RunCgroup = {
  enter(pid: number): Promise<void>;
  /** Whether the kernel's OOM killer killed a process of the run. */
  memoryExceeded(): Promise<boolean>;
  /** Kills every process left in the run's group and waits until it is empty. */
  killAll(): Promise<void>;
  destroy(): Promise<void>;
};

async function pidsIn(dir: string): Promise<number[]> {
  const text = await readFile(path.join(dir, "cgroup.procs"), "utf8").catch(() => "");
  return text.split("\n").filter(Boolean).map(Number);
}

async function emptyGroup(dir: string, useKillFile: boolean): Promise<void> {
  for (let round = 0; round < 500; round++) {
    const pids = await pidsIn(dir);
    if (pids.length === 0) return;
    if (useKillFile && round === 0) {
      await writeFile(path.join(dir, "cgroup.kill"), "1").catch(() => undefined);
    } else {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // Gone already.
        }
      }
    }
    await sleep(10);
  }
  throw new Error(`processes remain in ${dir} after SIGKILL`);
}

async function oomKills(file: string): Promise<number> {
  const text = await readFile(file, "utf8").catch(() => "");
  const match = /^oom_kill (\d+)$/m.exec(text);
  return match ? Number(match[1]) : 0;
}

/** Creates the run's group with its limits. Throws when the kernel refuses (the caller reports an infrastructure error). */
export async function createRunCgroup(probe: CgroupProbe, name: string, limits: RunLimits): Promise<RunCgroup> {
  if (probe.kind === "none") throw new Error(probe.reason);
  if (probe.kind === "v2") {
    const dir = path.join(probe.parent, name);
    mkdirSync(dir);
    try {
      await writeFile(path.join(dir, "memory.max"), String(limits.memoryBytes));
      if (existsSync(path.join(dir, "memory.swap.max"))) await writeFile(path.join(dir, "memory.swap.max"), "0");
      // An out-of-memory kill takes the whole run, not one worker the test runner would quietly restart.
      if (existsSync(path.join(dir, "memory.oom.group"))) await writeFile(path.join(dir, "memory.oom.group"), "1");
      await writeFile(path.join(dir, "pids.max"), String(limits.maxProcesses));
    } catch (error) {
      await rmdir(dir).catch(() => undefined);
      throw error;
    }
    const useKillFile = existsSync(path.join(dir, "cgroup.kill"));
    return {
      enter: (pid) => writeFile(path.join(dir, "cgroup.procs"), String(pid)),
      memoryExceeded: async () => (await oomKills(path.join(dir, "memory.events"))) > 0,
      killAll: () => emptyGroup(dir, useKillFile),
      destroy: async () => {
        await emptyGroup(dir, useKillFile);
        await rmdir(dir);
      },
    };
  }
  const memory = path.join(probe.memory, name);
  const pids = path.join(probe.pids, name);
  mkdirSync(memory);
  try {
    mkdirSync(pids);
    await writeFile(path.join(memory, "memory.limit_in_bytes"), String(limits.memoryBytes));
    // Without a memory+swap limit the run could push its pages to swap and go on growing.
    if (probe.swapLimit) await writeFile(path.join(memory, "memory.memsw.limit_in_bytes"), String(limits.memoryBytes));
    else await writeFile(path.join(memory, "memory.swappiness"), "0").catch(() => undefined);
    await writeFile(path.join(pids, "pids.max"), String(limits.maxProcesses));
  } catch (error) {
    await rmdir(pids).catch(() => undefined);
    await rmdir(memory).catch(() => undefined);
    throw error;
  }
  return {
    enter: async (pid) => {
      await writeFile(path.join(pids, "cgroup.procs"), String(pid));
      await writeFile(path.join(memory, "cgroup.procs"), String(pid));
    },
    memoryExceeded: async () => (await oomKills(path.join(memory, "memory.oom_control"))) > 0,
    killAll: () => emptyGroup(pids, false),
    destroy: async () => {
      await emptyGroup(pids, false);
      await emptyGroup(memory, false);
      await rmdir(pids);
      await rmdir(memory);
    },
  };
}
