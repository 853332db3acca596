// The soak's app processes: `src/main.ts` as `npm start` runs it (node with tsx, no npm in between, so the pid
// killed is the app's own), each on its own port and data directory with its own range of sandbox uids, as
// separate hosts or pods would have, all on one database. A process is killed with SIGKILL (no shutdown at all)
// and started again on the same port.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { getFreePort } from "../../src/db/embedded.js";

export type Fleet = {
  ports: number[];
  /** Ports of the processes running now (a killed one is left out until it is started again). */
  live: () => number[];
  kill: (index: number) => Promise<void>;
  start: (index: number) => Promise<void>;
  stop: () => Promise<void>;
  kills: number;
  /** The last lines each process wrote to stderr, for a run that goes wrong. */
  stderr: string[];
};

async function waitForReady(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the app process on port ${port} exited with ${child.exitCode} before it was ready`);
    const status = await fetch(`http://127.0.0.1:${port}/ready`).then(
      (response) => response.status,
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the app process on port ${port} was not ready within ${timeoutMs / 1000} s`);
}

export async function startFleet(input: { count: number; root: string; env: Record<string, string> }): Promise<Fleet> {
  const ports = await Promise.all(Array.from({ length: input.count }, () => getFreePort()));
  const children: (ChildProcess | undefined)[] = [];
  const stderr = ports.map(() => "");
  const fleet: Fleet = {
    ports,
    live: () => ports.filter((_port, index) => children[index] !== undefined),
    kills: 0,
    stderr,
    start: async (index) => {
      const dataDir = path.join(input.root, `app-${index}`);
      mkdirSync(dataDir, { recursive: true, mode: 0o711 });
      const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
        env: {
          ...input.env,
          PORT: String(ports[index]),
          HOST: "127.0.0.1",
          AURA_DATA_DIR: dataDir,
          // Each process its own uids, as each host has its own; 300000 + 1000 per process, 16 each.
          AURA_SANDBOX_UID_BASE: String(300_000 + index * 1_000),
          AURA_SANDBOX_UID_COUNT: "16",
        },
        stdio: ["ignore", "ignore", "pipe"],
      });
      child.stderr?.on("data", (chunk: Buffer) => (stderr[index] = `${stderr[index] ?? ""}${chunk.toString("utf8")}`.slice(-4_000)));
      await waitForReady(ports[index] as number, child, 90_000);
      children[index] = child;
    },
    kill: async (index) => {
      const child = children[index];
      if (!child) return;
      children[index] = undefined;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      fleet.kills++;
    },
    stop: async () => {
      await Promise.all(
        children.map(async (child, index) => {
          if (!child) return;
          children[index] = undefined;
          const exited = new Promise((resolve) => child.once("exit", resolve));
          child.kill("SIGTERM");
          await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 20_000))]);
          if (child.exitCode === null) child.kill("SIGKILL");
        }),
      );
    },
  };
  await Promise.all(ports.map((_port, index) => fleet.start(index)));
  return fleet;
}
