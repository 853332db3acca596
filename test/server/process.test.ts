import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, chmodSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { getFreePort, isAlive } from "../../src/db/embedded.js";

async function waitForReady(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/ready`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error("the app did not become ready");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** `npm start` without any configuration: embedded PostgreSQL, setup page; SIGTERM stops everything. */
async function runOnce(dataDir: string, signal: NodeJS.Signals): Promise<{ exitCode: number | null; postgresPid: number }> {
  const port = await getFreePort();
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: os.tmpdir(),
      PORT: String(port),
      AURA_DATA_DIR: dataDir,
      NO_SMEE_SETUP: "true",
      LOG_LEVEL: "warn",
      HOST: "127.0.0.1",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  try {
    await waitForReady(port, 60_000);
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`${(error as Error).message}: ${stderr}`);
  }
  const postgresPid = Number(readFileSync(path.join(dataDir, "postgres", "postmaster.pid"), "utf8").split("\n")[0]);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  child.kill(signal);
  return { exitCode: await exited, postgresPid };
}

describe("the app process", () => {
  it("starts on embedded PostgreSQL with no configuration, stops cleanly on SIGTERM and SIGINT, and keeps its data", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "aura-process-"));
    chmodSync(dataDir, 0o755);

    const first = await runOnce(dataDir, "SIGTERM");
    const initialised = statSync(path.join(dataDir, "postgres", "PG_VERSION")).mtimeMs;
    const second = await runOnce(dataDir, "SIGINT");

    expect(first.exitCode).toBe(0);
    expect(second.exitCode).toBe(0);
    expect(isAlive(first.postgresPid)).toBe(false);
    expect(isAlive(second.postgresPid)).toBe(false);
    expect(statSync(path.join(dataDir, "postgres", "PG_VERSION")).mtimeMs).toBe(initialised);
    expect(existsSync(path.join(dataDir, "postgres", "postmaster.pid"))).toBe(false);
  }, 120_000);
});
