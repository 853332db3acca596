// A working copy of the app in a directory of its own, run with `npm start` as a newcomer would: the test
// controls its `.env`, its data directory and who can enter it, and stops the whole process group after.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { cpSync, readFileSync, symlinkSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { getFreePort, isAlive } from "../../src/db/embedded.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * Copies the app's files into `dir`. node_modules is a symlink (fast), or hard links (`cp -al`) when it must
 * really lie inside `dir`, as in a clone whose directory other users cannot enter.
 */
export function makeClone(dir: string, nodeModules: "symlink" | "hardlink" = "symlink"): string {
  for (const entry of ["src", "db", "policies", "bin", "package.json", "app.yml", "tsconfig.json"]) {
    cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true });
  }
  if (nodeModules === "symlink") symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
  else {
    const copied = spawnSync("cp", ["-al", path.join(root, "node_modules"), path.join(dir, "node_modules")]);
    if (copied.status !== 0) throw new Error(`cp -al node_modules failed: ${copied.stderr.toString()}`);
  }
  return dir;
}

export type StartedApp = { port: number; child: ChildProcess; stderr: () => string; postgresPid: () => number; stop: () => Promise<void> };

/** `npm start` in `cwd` with exactly `env` (plus PATH); resolves once /ready answers 200. */
export async function npmStart(cwd: string, env: Record<string, string>, options: { dataDir?: string } = {}): Promise<StartedApp> {
  const port = env.PORT ? Number(env.PORT) : await getFreePort();
  const child = spawn("npm", ["start", "--silent"], {
    cwd,
    env: { PATH: process.env.PATH ?? "", HOME: cwd, NO_SMEE_SETUP: "true", LOG_LEVEL: "warn", HOST: "127.0.0.1", PORT: String(port), ...env },
    stdio: ["ignore", "ignore", "pipe"],
    detached: true,
  });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  const dataDir = path.resolve(cwd, options.dataDir ?? env.AURA_DATA_DIR ?? ".data");
  const postgresPid = () => Number(readFileSync(path.join(dataDir, "postgres", "postmaster.pid"), "utf8").split("\n")[0]);
  const stop = async () => {
    if (!exited) process.kill(-(child.pid as number), "SIGTERM");
    await exit;
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    const response = await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined);
    if (response?.status === 200) break;
    if (exited || Date.now() > deadline) {
      if (!exited) process.kill(-(child.pid as number), "SIGKILL");
      await exit;
      throw new Error(`npm start did not become ready: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { port, child, stderr: () => stderr, postgresPid, stop };
}

export { isAlive };
