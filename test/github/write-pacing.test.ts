// GitHub write pacing across processes (src/github/write-pacer.ts): three GitHub clients, each with its own pool
// and pacer as three app processes have, on one database, against a loopback GitHub that records when each
// request arrives. Limits are scaled down (a "minute" of 1 s) so a run takes seconds; the assertions are over
// arrival times, on the process's monotonic clock, never the date.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import type pg from "pg";
import pino from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/env.js";
import { createPool } from "../../src/db/pool.js";
import { createGitHubAccess, type GitHubAccess, type InstallationOctokit } from "../../src/github/octokit.js";
import { createWritePacer, WritePacingInvalid, WritePacingUnavailable, type WritePacing } from "../../src/github/write-pacer.js";
import { metrics } from "../../src/observability/metrics.js";
import { asAdmin, createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { testPrivateKey } from "../helpers/webhooks.js";

type Arrival = { method: string; path: string; installation: number; at: number };
type RecordingGitHub = { url: string; arrivals: Arrival[]; close: () => Promise<void> };
type AppProcess = { github: GitHubAccess; logs: { msg: string; installationId?: number }[] };

/** A GitHub that answers every request and records its arrival; installation tokens name their installation. */
async function startRecordingGitHub(): Promise<RecordingGitHub> {
  const arrivals: Arrival[] = [];
  const server = http.createServer((req, res) => {
    const at = performance.now();
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    req.resume();
    req.on("end", () => {
      const tokenFor = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
      res.setHeader("content-type", "application/json");
      if (tokenFor) {
        res.statusCode = 201;
        res.end(
          JSON.stringify({ token: `ghs_installation_${tokenFor[1]}`, expires_at: new Date(Date.now() + 3_600_000).toISOString(), repository_selection: "all" }),
        );
        return;
      }
      const installation = Number(/ghs_installation_(\d+)/.exec(req.headers.authorization ?? "")?.[1] ?? 0);
      arrivals.push({ method: req.method ?? "GET", path, installation, at });
      res.statusCode = req.method === "GET" ? 200 : 201;
      res.end(JSON.stringify({ id: arrivals.length }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, arrivals, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The largest number of `times` that fall within any half-open span of `windowMs`. */
function mostInAnyWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while ((sorted[last] as number) - (sorted[first] as number) >= windowMs) first++;
    most = Math.max(most, last - first + 1);
  }
  return most;
}

// A "minute" of 2 s holds 20 writes; the hourly budget (500) does not bind unless a test says otherwise. In one
// test process the three clients, their pools and the fake GitHub share an event loop, so a write may leave a few
// hundred ms after its slot: the pacer's jitter allowance is scaled up to 600 ms to cover that.
const minutePacing: WritePacing = { perMinute: 20, perHour: 500, minuteMs: 2_000, hourMs: 2_000, jitterMs: 600 };

let db: TestDatabase;
let github: RecordingGitHub;
const pools: pg.Pool[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  github = await startRecordingGitHub();
});

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.end()));
});

afterAll(async () => {
  await github.close();
  await db.drop();
});

/** One app process's GitHub access: its own pool and pacer over the shared database (or `databaseUrl`). */
function startProcess(pacing: WritePacing, databaseUrl = db.url): AppProcess {
  const logs: AppProcess["logs"] = [];
  const log = pino({ level: "warn" }, { write: (line: string) => logs.push(JSON.parse(line) as AppProcess["logs"][number]) });
  const pool = createPool(databaseUrl, { max: 4 });
  pools.push(pool);
  const pacer = createWritePacer({ pool, log, pacing });
  const access = createGitHubAccess({ appId: 123, privateKey: testPrivateKey, baseUrl: github.url, log, writeIntervalMs: 1, retryUnitMs: 1, pacer });
  return { github: access, logs };
}

// Content-creating requests of every method; none is one the throttling plugin also spaces as notifying (comments, issues, pulls).
const writes = [
  (octokit: InstallationOctokit) =>
    octokit.request("POST /repos/{owner}/{repo}/statuses/{sha}", { owner: "o", repo: "r", sha: "a".repeat(40), state: "pending" }),
  (octokit: InstallationOctokit) =>
    octokit.request("PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}", { owner: "o", repo: "r", comment_id: 1, body: "progress" }),
  (octokit: InstallationOctokit) =>
    octokit.request("PUT /repos/{owner}/{repo}/issues/{issue_number}/labels", { owner: "o", repo: "r", issue_number: 1, labels: ["aura"] }),
  (octokit: InstallationOctokit) =>
    octokit.request("DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", { owner: "o", repo: "r", issue_number: 1, name: "aura" }),
];
let sent = 0;
const write = (process: AppProcess, installation: number) =>
  (writes[sent++ % writes.length] as (typeof writes)[number])(process.github.forInstallation(installation));

const read = (process: AppProcess, installation: number) =>
  process.github.forInstallation(installation).request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" });

/** Each process sends `each` writes for the installation at once. */
/**
 * Each process reads once for the installation (its token is fetched then, not between a write's slot and its
 * sending) and writes once for another (its pool and HTTP connections are open before the writes that count).
 */
const warmUp = (processes: AppProcess[], installation: number) =>
  Promise.all(processes.flatMap((process) => [read(process, installation), write(process, installation + 1_000)]));

const writesFrom = (processes: AppProcess[], installation: number, each: number) =>
  processes.flatMap((process) => Array.from({ length: each }, () => write(process, installation)));

const writeTimes = (installation: number) => github.arrivals.filter((a) => a.installation === installation && a.method !== "GET").map((a) => a.at);

describe("GitHub write pacing shared by processes on one database", () => {
  it("keeps one installation's writes from three processes within the per-minute limit in every window", async () => {
    const processes = [startProcess(minutePacing), startProcess(minutePacing), startProcess(minutePacing)];
    await warmUp(processes, 101);

    await Promise.all(writesFrom(processes, 101, 10));

    const times = writeTimes(101);
    expect(times).toHaveLength(30);
    expect(mostInAnyWindow(times, 2_000)).toBeLessThanOrEqual(20);
  });

  it("does not pace reads, nor hold up another installation's writes, behind an installation's backlog", async () => {
    const processes = [startProcess(minutePacing), startProcess(minutePacing), startProcess(minutePacing)];
    const backlog = Promise.all(writesFrom(processes, 102, 5));

    await Promise.all(processes.flatMap((process) => [read(process, 102), read(process, 102), write(process, 103)]));
    const backlogSentMeanwhile = writeTimes(102).length;
    await backlog;

    // 15 writes at 20 in 2 s take about 2 s; the reads and the other installation's writes did not wait for them.
    expect(backlogSentMeanwhile).toBeLessThan(15);
    expect(writeTimes(103)).toHaveLength(3);
    expect(github.arrivals.filter((a) => a.installation === 102 && a.method === "GET")).toHaveLength(6);
  });

  it("defers writes past the hourly budget until the rolling hour frees a slot, and says so once per process", async () => {
    const pacing: WritePacing = { ...minutePacing, perHour: 6, hourMs: 3_000 };
    const processes = [startProcess(pacing), startProcess(pacing), startProcess(pacing)];
    await warmUp(processes, 104);

    // Half the budget, then a burst of three times that half later: a fixed window (one budget per "hour" from the
    // first write) would let the burst's first six through at its turn and hold nine in the span from the pause.
    await Promise.all(writesFrom(processes, 104, 1));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await Promise.all(writesFrom(processes, 104, 3));

    const times = writeTimes(104).sort((a, b) => a - b);
    expect(times).toHaveLength(12);
    expect(mostInAnyWindow(times, 3_000)).toBeLessThanOrEqual(6);
    expect((times[6] as number) - (times[0] as number)).toBeGreaterThanOrEqual(3_000);
    const warnings = processes.map(
      (process) => process.logs.filter((line) => line.installationId === 104 && /hourly GitHub write budget/.test(line.msg)).length,
    );
    expect(Math.max(...warnings)).toBe(1);
    expect(await metrics().registry.metrics()).toMatch(/aura_github_write_wait_seconds_count\{bound="hour"\} [1-9]/);
  });

  it("lets other processes write when a process is killed while taking a slot", async () => {
    const dying = createPool(db.url, { max: 1 });
    pools.push(dying);
    const held = await dying.connect();
    await held.query("BEGIN");
    await held.query("SELECT * FROM take_github_write_slot(105, 50, 500, 1000)");
    const { rows } = await held.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    const survivor = startProcess(minutePacing);

    const sending = write(survivor, 105);
    await asAdmin((admin) => admin.query("SELECT pg_terminate_backend($1)", [rows[0]?.pid]));
    held.release(true);
    await sending;

    expect(writeTimes(105)).toHaveLength(1);
  });

  it("fails a write with a clear error, and sends nothing, when the database does not answer; reads go on", async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = http.createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const cut = startProcess(minutePacing, `postgres://aura@127.0.0.1:${closed}/aura`);

    const attempt = write(cut, 106).catch((error: unknown) => error);
    await read(cut, 106);
    const failure = await attempt;

    expect(failure).toBeInstanceOf(WritePacingUnavailable);
    expect(String(failure)).toMatch(/installation 106 not sent: its pacing slot could not be taken from PostgreSQL/);
    expect(writeTimes(106)).toHaveLength(0);
  });
});

describe("Spacing of writes that notify people (comments, pull requests, reviews)", () => {
  const comment = (access: GitHubAccess, installation: number) =>
    access
      .forInstallation(installation)
      .request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", { owner: "o", repo: "r", issue_number: 1, body: "hi" });
  const noticeTimes = (installation: number) =>
    github.arrivals
      .filter((a) => a.installation === installation && a.path.endsWith("/comments"))
      .map((a) => a.at)
      .sort((a, b) => a - b);
  const access = (writeIntervalMs: number) =>
    createGitHubAccess({ appId: 123, privateKey: testPrivateKey, baseUrl: github.url, log: pino({ level: "silent" }), writeIntervalMs, retryUnitMs: 1 });

  it("follows the write interval: three intervals apart, and not held 3 s apart against a fake GitHub (interval 0)", async () => {
    const paced = access(200);
    // A read first, so the installation token is fetched before the writes that are timed.
    await paced.forInstallation(107).request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" });
    await Promise.all([1, 2, 3].map(() => comment(paced, 107)));
    const pacedTimes = noticeTimes(107);
    expect(pacedTimes[1]! - pacedTimes[0]!).toBeGreaterThanOrEqual(400);
    expect(pacedTimes[2]! - pacedTimes[1]!).toBeGreaterThanOrEqual(400);
    // ...and no more than that: the plugin's own 3 s would hold the third over 6 s after the first.
    expect(pacedTimes[2]! - pacedTimes[0]!).toBeLessThan(3_000);

    // The plugin's own default would hold each of these 3 s after the one before (over 6 s for three).
    const fake = access(0);
    await Promise.all([1, 2, 3].map(() => comment(fake, 108)));
    const fakeTimes = noticeTimes(108);
    expect(fakeTimes).toHaveLength(3);
    expect(fakeTimes[2]! - fakeTimes[0]!).toBeLessThan(3_000);
  });
});

describe("GitHub write pacing configuration", () => {
  const base = { AURA_DATA_DIR: "/tmp/aura-pacing-config" };

  it("defaults to 60 writes a minute and 450 an hour per installation", () => {
    const config = loadConfig(base);

    expect([config.AURA_GITHUB_WRITES_PER_MINUTE, config.AURA_GITHUB_WRITES_PER_HOUR]).toEqual([60, 450]);
  });

  it("refuses limits above GitHub's (80 a minute, 500 an hour)", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig({ ...base, ...env });
        return "";
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).message;
      }
    };

    expect(problems({ AURA_GITHUB_WRITES_PER_MINUTE: "81" })).toMatch(/AURA_GITHUB_WRITES_PER_MINUTE .*from 1 to 80/);
    expect(problems({ AURA_GITHUB_WRITES_PER_HOUR: "501" })).toMatch(/AURA_GITHUB_WRITES_PER_HOUR .*from 1 to 500/);
    expect(problems({ AURA_GITHUB_WRITES_PER_MINUTE: "80", AURA_GITHUB_WRITES_PER_HOUR: "500" })).toBe("");
    expect(() => createWritePacer({ pool: db.pool, log: pino({ level: "silent" }), pacing: { perMinute: 81, perHour: 450 } })).toThrow(WritePacingInvalid);
    expect(() => createWritePacer({ pool: db.pool, log: pino({ level: "silent" }), pacing: { perMinute: 60, perHour: 501 } })).toThrow(WritePacingInvalid);
  });

  it("warns when the process's own write interval is slower than the per-minute pace asked for", () => {
    const lines: { msg: string; paceMs?: number }[] = [];
    const log = pino({ level: "warn" }, { write: (line: string) => lines.push(JSON.parse(line) as (typeof lines)[number]) });

    createWritePacer({ pool: db.pool, log, pacing: { perMinute: 80, perHour: 450 }, intervalMs: 1_000 });
    createWritePacer({ pool: db.pool, log, pacing: { perMinute: 80, perHour: 450 }, intervalMs: 750 });

    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      paceMs: 750,
      msg: expect.stringMatching(/AURA_GITHUB_WRITE_INTERVAL_MS is longer than AURA_GITHUB_WRITES_PER_MINUTE's spacing/),
    });
  });
});
