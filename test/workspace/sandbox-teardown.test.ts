// What a run leaves behind cannot reach root's hands (issue 12 point 3, review findings 2 and 3): every process
// of a run is gone before anything is copied back, a run without bubblewrap gets no layer for root to copy back
// (it can reach the real tree), and the mounts of a run whose app crashed mid-run are removed at the next probe.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runInSandbox, type SandboxOptions } from "../../src/workspace/sandbox.js";
import { probeLimits } from "../../src/workspace/sandbox-limits.js";
import { processesOf } from "../../src/workspace/uid-pool.js";
import { mountWorkspace, removeStaleWorkspaces } from "../../src/workspace/workspace-quota.js";
import { useScratchTree } from "./git-fixture.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const limits = probeLimits();
const canMount = limits.workspace.ok && limits.uids.ok;

const scratch = useScratchTree("aura-sbxdown-");

function mountPoints(): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "");
}

describe.skipIf(!canMount)(`run teardown${canMount ? "" : " (skipped: needs root and overlay mounts)"}`, () => {
  it("without bubblewrap runs in the real tree with no layer for root to copy back, and kills a leftover that swaps a directory for a symlink", async () => {
    const outside = path.join(scratch.dir, "outside");
    mkdirSync(outside);
    writeFileSync(path.join(outside, "keep"), "root's\n");
    // A uid range of its own: with the default pool, a run in another test file may take the uid as soon as this
    // run gives it back, and its processes would be counted as this run's leftovers.
    const uidPool = { base: 230_000, count: 2, lockDir: path.join(scratch.dir, "uids") };
    const unsandboxed: SandboxOptions = { allowUnsandboxed: true, bwrapPath: "/nonexistent/bwrap", uidPool };
    // After the command exits, a process of its own session keeps swapping sub/ for a symlink to `outside`.
    const swap = `while :; do mv sub sub.real; ln -s ${outside} sub; rm -f sub; mv sub.real sub; done`;
    const command = `pwd; mkdir -p sub && echo run > sub/file; setsid sh -c '${swap}' >/dev/null 2>&1 </dev/null & echo spawned`;

    const result = await runInSandbox(unsandboxed, { command, cwd: scratch.tree, phase: "test" });

    expect(result).toMatchObject({ sandbox: "none", exitCode: 0 });
    expect(result.log).toBe(`${scratch.tree}\nspawned\n`);
    expect(result.limits.held.join(", ")).not.toMatch(/workspace/);
    expect(result.limits.missing).toContain("workspace disk limit (not applied without bubblewrap: the run can reach the real tree)");
    expect(result.limits.uid).toBeGreaterThanOrEqual(uidPool.base);
    expect(processesOf(result.limits.uid ?? -1)).toEqual([]);
    expect(readdirSync(outside)).toEqual(["keep"]);
    expect(readFileSync(path.join(outside, "keep"), "utf8")).toBe("root's\n");
  });

  it("unmounts and removes the work-tree layer of an app that died mid-run, and leaves a live run's alone", async () => {
    writeFileSync(path.join(scratch.tree, "kept.txt"), "kept\n");
    const script = `
      import { mountWorkspace } from ${JSON.stringify(path.join(ROOT, "src/workspace/workspace-quota.ts"))};
      const mount = await mountWorkspace(${JSON.stringify(scratch.tree)}, 8 * 1024 * 1024, undefined);
      console.log(mount.merged);
      setInterval(() => undefined, 60_000);
    `;
    const app = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    const merged = await new Promise<string>((resolve) => app.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim())));
    const dead = path.dirname(merged);
    const exited = new Promise((resolve) => app.once("exit", resolve));
    app.kill("SIGKILL");
    await exited;
    const live = await mountWorkspace(scratch.tree, 8 * 1024 * 1024, undefined);
    const mountedBefore = mountPoints().filter((point) => point.startsWith(`${dead}/`));

    const { removed, failed } = removeStaleWorkspaces();
    const mountedAfter = mountPoints().filter((point) => point.startsWith(`${dead}/`));
    const liveStillMounted = mountPoints().includes(live.merged);
    await live.discard();

    expect(mountedBefore.sort()).toEqual([`${dead}/layer`, `${dead}/merged`]);
    expect(removed).toContain(dead);
    expect(failed).toEqual([]);
    expect(mountedAfter).toEqual([]);
    expect(existsSync(dead)).toBe(false);
    expect(liveStillMounted).toBe(true);
    expect(removed).not.toContain(path.dirname(live.merged));
    expect(readFileSync(path.join(scratch.tree, "kept.txt"), "utf8")).toBe("kept\n");
  }, 60_000);
});
