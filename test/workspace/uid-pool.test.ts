// The sandbox uid pool across app processes (issue 12 point 3, review finding 1): separate Node processes that
// contend for one uid, some of them dying with SIGKILL while they hold it, never hold it at the same time, and a
// holder killed with SIGKILL frees its uid for the next claimant. Each process logs "acq" after it took the uid
// and "rel" before it gives it back (O_APPEND lines, so the log's order is the order of the writes): two "acq"
// with no "rel" or "crash" of the first in between are two holders at once.
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SandboxStartError } from "../../src/workspace/errors.js";
import { holdUidSync, leaseUid, UidPoolExhausted, type Lease, type UidPoolConfig } from "../../src/workspace/uid-pool.js";
import { makeTempDir } from "./git-fixture.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const MODULE = path.join(ROOT, "src/workspace/uid-pool.ts");

// Takes the pool's one uid ROUNDS times (holding it across a timer tick each time), then takes it once more and
// dies with SIGKILL while holding it, as an app that crashes mid-run.
const CONTENDER = `
import { appendFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { leaseUid, UidPoolExhausted } from ${JSON.stringify(MODULE)};
const pool = { base: 240000, count: 1, lockDir: process.env.POOL_DIR };
const say = (what) => appendFileSync(process.env.LOG, what + " " + process.pid + "\\n");
async function take() {
  for (;;) {
    try { return await leaseUid(pool); } catch (error) { if (!(error instanceof UidPoolExhausted)) throw error; }
    await sleep(0);
  }
}
for (let round = 0; round < Number(process.env.ROUNDS); round++) {
  const lease = await take();
  say("acq");
  await sleep(1);
  say("rel");
  await lease.release();
}
await take();
say("acq");
say("crash");
process.kill(process.pid, "SIGKILL");
`;

// Takes the uid, says so, and holds it until killed.
const HOLDER = `
import { leaseUid } from ${JSON.stringify(MODULE)};
await leaseUid({ base: 240100, count: 1, lockDir: process.env.POOL_DIR });
console.log("held");
setInterval(() => undefined, 60_000);
`;

let temp: ReturnType<typeof makeTempDir>;
const children: ChildProcess[] = [];

beforeEach(() => {
  temp = makeTempDir("aura-uidpool-");
});

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  temp.cleanup();
});

function node(script: string, env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal, stderr })));
}

/** Every moment two processes held the uid together, from the log. */
function overlaps(log: string): string[] {
  const found: string[] = [];
  let holder: { pid: string; crashed: boolean } | undefined;
  for (const line of log.split("\n").filter(Boolean)) {
    const [what = "", pid = ""] = line.split(" ");
    if (what === "acq") {
      if (holder && !holder.crashed) found.push(`${pid} took the uid while ${holder.pid} held it`);
      holder = { pid, crashed: false };
    } else if (what === "crash" && holder?.pid === pid) {
      holder.crashed = true;
    } else if (what === "rel" && holder?.pid === pid) {
      holder = undefined;
    }
  }
  return found;
}

async function claim(pool: UidPoolConfig): Promise<Lease | undefined> {
  return leaseUid(pool).catch((error: unknown) => {
    if (error instanceof UidPoolExhausted) return undefined;
    throw error;
  });
}

describe("the sandbox uid pool across app processes", () => {
  it("never lets two processes hold a uid at once, while holders die with SIGKILL and others take over", async () => {
    const log = path.join(temp.dir, "log");
    writeFileSync(log, "");
    const env = { POOL_DIR: path.join(temp.dir, "uids"), LOG: log, ROUNDS: "5" };
    const processes = 16;
    const slots = 4;
    const results: ReturnType<typeof exited>[] = [];

    // Four contenders at a time; each crash leaves the uid to the three others, which race to take it.
    const running = new Set<Promise<unknown>>();
    for (let n = 0; n < processes; n++) {
      if (running.size >= slots) await Promise.race(running);
      const result = exited(node(CONTENDER, env));
      const tracked: Promise<unknown> = result.then(() => running.delete(tracked));
      running.add(tracked);
      results.push(result);
    }
    const outcomes = await Promise.all(results);

    for (const outcome of outcomes) expect(outcome, outcome.stderr).toMatchObject({ signal: "SIGKILL" });
    const lines = readFileSync(log, "utf8");
    expect(lines.match(/^crash /gm)).toHaveLength(processes);
    expect(lines.match(/^acq /gm)).toHaveLength(processes * 6);
    expect(overlaps(lines)).toEqual([]);
  }, 240_000);

  it("frees the uid of a holder killed with SIGKILL for the next claimant", async () => {
    const pool = { base: 240100, count: 1, lockDir: path.join(temp.dir, "uids") };
    const holder = node(HOLDER, { POOL_DIR: pool.lockDir });
    const done = exited(holder);
    await new Promise<void>((resolve) => holder.stdout?.once("data", () => resolve()));

    const whileHeld = await claim(pool);
    holder.kill("SIGKILL");
    await done;
    let next: Lease | undefined;
    while (!(next = await claim(pool))) await sleep(10);
    await next.release();

    expect(whileHeld).toBeUndefined();
    expect(next.uid).toBe(240100);
  }, 60_000);

  it("fails to start with SandboxStartError when util-linux flock is missing", async () => {
    const attempt = leaseUid({ base: 240200, count: 1, lockDir: path.join(temp.dir, "uids"), flockPath: "/nonexistent/flock" });

    await expect(attempt).rejects.toBeInstanceOf(SandboxStartError);
    await expect(attempt).rejects.toMatchObject({ failure: "uid-pool", message: expect.stringMatching(/util-linux flock is not installed/) });
  });

  it("refuses a lock directory that others may write", async () => {
    const lockDir = path.join(temp.dir, "shared");
    mkdirSync(lockDir);
    chmodSync(lockDir, 0o777);

    const attempt = leaseUid({ base: 240300, count: 1, lockDir });

    await expect(attempt).rejects.toMatchObject({ name: "SandboxStartError", failure: "uid-pool", message: expect.stringMatching(/writable only by it/) });
  });

  it.skipIf(process.getuid?.() !== 0)(
    "a uid held for a synchronous probe is skipped by leases, so the probe is not killed as a leftover",
    async () => {
      const pool = { base: 250400, count: 2, lockDir: path.join(temp.dir, "uids") };
      const held = holdUidSync(pool);
      expect(held?.uid).toBe(250400);
      // Stands for bubblewrap's probe, running as the held uid.
      const probe = spawn("/bin/sleep", ["30"], { uid: 250400, gid: 250400, stdio: "ignore" });
      const probeExit = exited(probe);
      await new Promise((resolve) => probe.once("spawn", resolve));

      const lease = await leaseUid(pool);
      expect(lease.uid).toBe(250401);
      expect(probe.exitCode).toBeNull();
      expect(probe.signalCode).toBeNull();
      await lease.release();

      // Once released, a lease may take it, and kills what still runs as it (a crashed run's leftovers).
      held?.release();
      const next = await leaseUid({ ...pool, count: 1 });
      expect(next.uid).toBe(250400);
      expect(await probeExit).toMatchObject({ signal: "SIGKILL" });
      await next.release();
    },
    60_000,
  );
});
