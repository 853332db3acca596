// One soak run (`npm run bench:soak` and test/soak/soak.test.ts): N app processes (`src/main.ts`) on one
// database behind the soak's GitHub (bench/soak/github.ts: the product edge per repository, 502s and secondary
// rate limits, webhooks through a round-robin balancer with GitHub's redelivery), a loopback model that answers
// at once, and one requirement per repository (a real bare git remote each). A director merges each pull request
// once its gate passed and the Auditor reviewed its head. Every `killEveryMs` one process is killed with SIGKILL
// and started again. The run ends when every requirement is done (or at the deadline) and reports throughput,
// GitHub requests and database work per requirement, and the checks in bench/soak/checks.ts.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { deliveryBuilder, type Delivery } from "../../src/local/deliveries.js";
import type { GitHubEdge } from "../../src/local/github-edge.js";
import { PROJECT } from "../../test/e2e/pipeline-fixture.js";
import { auditVerifies, databaseDelta, findDuplicates, readDatabaseWork, readEndStates, readReservations, type DatabaseWork } from "./checks.js";
import { startFleet, type Fleet } from "./fleet.js";
import { startSoakGitHub, type Faults, type SoakGitHub } from "./github.js";
import { startModelServer } from "./model-server.js";

export type SoakOptions = {
  databaseUrl: string;
  requirements: number;
  processes?: number;
  /** One process is killed (SIGKILL) and started again this often; 0 never. */
  killEveryMs: number;
  faults?: Partial<Faults>;
  /** Give up waiting for the requirements after this long. */
  timeoutMs: number;
  /** How long the started processes are watched idle first, to take their background database work out of the figures (0: not). */
  idleSampleMs?: number;
  progress?: (line: string) => void;
};

export type SoakReport = {
  requirements: number;
  processes: number;
  kills: number;
  seconds: number;
  done: number;
  requirementsPerHour: number;
  github: {
    reads: number;
    writes: number;
    faulted502: number;
    faultedSecondary: number;
    /** Writes applied and then answered 502 (only with `share502AfterApply`). */
    faulted502AfterApply: number;
    readsPerRequirement: number;
    writesPerRequirement: number;
  };
  webhooks: SoakGitHub["hooks"];
  model: { plan: number; turns: number };
  /**
   * pg_stat_database deltas over the run; `idlePerSecond` is what the idle processes cost (polling, heartbeats,
   * leader duties), `perRequirement` the run's work less that idle cost, per requirement done.
   */
  database: DatabaseWork & { idlePerSecond: Record<keyof DatabaseWork, number>; perRequirement: Record<keyof DatabaseWork, number> };
  checks: {
    duplicates: string[];
    lost: string[];
    stuck: string[];
    audit: { ok: boolean; events: number; problem?: string };
    reservations: Record<string, number>;
  };
  ok: boolean;
};

const INSTALLATION_ID = 1;
const OWNER = "soak-org";
const DIRECTOR = "soak-director";
const SLUG = "aura-orchestra";
const BOT = `${SLUG}[bot]`;
/** Issue numbers 100, 200, …: the pull requests the edges number after them stay unique across repositories. */
const issueOf = (index: number) => (index + 1) * 100;
const nameOf = (index: number) => `svc-${String(index + 1).padStart(3, "0")}`;

/** The fixture project, with its test command and the one employee the loopback model serves. */
const SOAK_PROJECT = { ...PROJECT, ".github/aura.yml": ["test: node --test test/", "employees: [gpt-4.1-mini]", ""].join("\n") };

function git(cwd: string, ...args: string[]): void {
  execFileSync("git", args, {
    cwd,
    stdio: "ignore",
    env: {
      ...process.env,
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_AUTHOR_NAME: "soak",
      GIT_AUTHOR_EMAIL: "soak@example.com",
      GIT_COMMITTER_NAME: "soak",
      GIT_COMMITTER_EMAIL: "soak@example.com",
    },
  });
}

/** One seeded bare repository, cloned bare once per requirement. */
function createRepositories(root: string, count: number): string[] {
  const seed = path.join(root, "seed");
  mkdirSync(seed, { recursive: true });
  git(seed, "init", "--quiet", "--initial-branch=main");
  for (const [file, content] of Object.entries(SOAK_PROJECT)) {
    mkdirSync(path.dirname(path.join(seed, file)), { recursive: true });
    writeFileSync(path.join(seed, file), content);
  }
  git(seed, "add", "--all");
  git(seed, "commit", "--quiet", "-m", "Initial commit");
  return Array.from({ length: count }, (_unused, index) => {
    const bare = path.join(root, "remotes", `${nameOf(index)}.git`);
    git(root, "clone", "--quiet", "--bare", "--no-hardlinks", seed, bare);
    return bare;
  });
}

type Repository = {
  name: string;
  fullName: string;
  issue: number;
  edge: GitHubEdge;
  build: ReturnType<typeof deliveryBuilder>;
  merged: Set<number>;
  /** The head each open pull request was last announced with (opened or synchronize). */
  heads: Map<number, string>;
};

const headOf = (repo: Repository, number: number) => (repo.edge.pullJson(number) as { head: { sha: string } }).head.sha;

/**
 * GitHub's `pull_request.synchronize`: a push to a pull request's branch (a retried work run pushes again) is
 * announced. A push reaches the bare repository without a REST request; the app updates the PR's body after
 * every push, so its PATCH is where the soak looks whether the head moved.
 */
function announcePush(github: SoakGitHub, repo: Repository, number: number): void {
  const pull = repo.edge.pulls.get(number);
  const before = repo.heads.get(number);
  if (!pull || pull.state !== "open" || before === undefined) return;
  const after = headOf(repo, number);
  if (after === before) return;
  repo.heads.set(number, after);
  const opened = repo.build.pullOpened(number);
  void github.send({ event: "pull_request", payload: { ...opened.payload, action: "synchronize", before, after } });
}

/** The director's merge: once a pull request's head has a passing gate and the Auditor's review, merge it. */
function mergeWhenReady(github: SoakGitHub, repo: Repository): void {
  for (const pull of repo.edge.pulls.values()) {
    if (pull.state !== "open" || repo.merged.has(pull.number)) continue;
    const head = headOf(repo, pull.number);
    const gate = repo.edge.statuses.filter((status) => status.context === "aura/hnsc" && status.sha === head).at(-1);
    const reviewed = repo.edge.reviews.some((review) => review.pull === pull.number && review.commit_id === head);
    if (gate?.state !== "success" || !reviewed) continue;
    repo.merged.add(pull.number);
    repo.edge.closePull(pull.number, { merged: true, by: DIRECTOR });
    const opened = repo.build.pullOpened(pull.number);
    void github.send({ event: "pull_request", payload: { ...opened.payload, action: "closed", sender: repo.edge.userJson(DIRECTOR) } });
  }
}

function addRepositories(github: SoakGitHub, bares: string[]): Repository[] {
  const repos = bares.map((bare, index) => {
    const name = nameOf(index);
    const issue = { number: issueOf(index), title: `add() subtracts in ${name}`, body: "add(2, 3) returns -1; it should return 5.", user: DIRECTOR };
    const edge = github.addRepository({
      owner: OWNER,
      name,
      bare,
      cloneUrl: `file://${bare}`,
      defaultBranch: "main",
      webUrl: `http://${github.host}`,
      apiUrl: `http://${github.host}/api/v3`,
      botLogin: BOT,
      permissions: { [DIRECTOR]: "admin" },
      issue,
    });
    const build = deliveryBuilder(edge, { installationId: INSTALLATION_ID, issue, director: DIRECTOR, label: "aura:requirement", botLogin: BOT });
    const repo: Repository = { name, fullName: `${OWNER}/${name}`, issue: issue.number, edge, build, merged: new Set(), heads: new Map() };
    edge.onEvent((event) => {
      if (event.kind === "pull.created") {
        const opened = build.pullOpened(event.number);
        repo.heads.set(event.number, (opened.payload.pull_request as { head: { sha: string } }).head.sha);
        void github.send(opened);
      }
      if (event.kind === "status.created" || event.kind === "review.created") mergeWhenReady(github, repo);
    });
    return repo;
  });
  const byName = new Map(repos.map((repo) => [repo.name, repo]));
  github.onWrite((name, method, pathname) => {
    const pull = /\/pulls\/(\d+)$/.exec(pathname)?.[1];
    const repo = byName.get(name);
    if (method === "PATCH" && pull && repo) announcePush(github, repo, Number(pull));
  });
  return repos;
}

/** Sends the deliveries a few at a time, as GitHub sends a burst of labels. */
async function sendAll(github: SoakGitHub, deliveries: Delivery[]): Promise<void> {
  const queue = [...deliveries];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let next = queue.shift(); next; next = queue.shift()) await github.send(next);
    }),
  );
}

/** Every `everyMs`, the next process in turn is killed with SIGKILL and started again at once. */
function startKiller(fleet: Fleet, everyMs: number, progress: (line: string) => void) {
  let stopped = false;
  let wake: () => void = () => undefined;
  const done = (async () => {
    for (let victim = 0; everyMs > 0; victim = (victim + 1) % fleet.ports.length) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, everyMs);
      });
      if (stopped) return;
      await fleet.kill(victim);
      progress(`killed process ${victim} (SIGKILL); starting it again`);
      await fleet.start(victim);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      wake();
      await done;
    },
  };
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const progress = options.progress ?? (() => undefined);
  const processes = options.processes ?? 3;
  const root = mkdtempSync(path.join(os.tmpdir(), "aura-soak-"));
  // The sandbox's unprivileged users must reach the work trees below it.
  chmodSync(root, 0o711);
  const secret = randomBytes(24).toString("hex");
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }) as string;
  const model = await startModelServer();
  let fleet: Fleet | undefined;
  const github = await startSoakGitHub({
    secret,
    appPorts: () => fleet?.live() ?? [],
    faults: { share502: 0.03, shareSecondary: 0.03, seed: 17, ...options.faults },
  });
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  try {
    const repos = addRepositories(github, createRepositories(root, options.requirements));
    fleet = await startFleet({
      count: processes,
      root,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: process.env.HOME ?? os.tmpdir(),
        DATABASE_URL: options.databaseUrl,
        APP_ID: "1",
        PRIVATE_KEY: privateKey,
        WEBHOOK_SECRET: secret,
        GHE_HOST: github.host,
        GHE_PROTOCOL: "http",
        AURA_APP_SLUG: SLUG,
        AURA_ALLOW_LOCAL_CLONE: "true",
        // The fake GitHub needs no pacing; the capacity model (docs/operations.md) applies GitHub's limits.
        AURA_GITHUB_WRITE_INTERVAL_MS: "0",
        OPENAI_API_KEY: "sk-soak-loopback",
        OPENAI_BASE_URL: model.baseUrl,
        NO_SMEE_SETUP: "true",
        LOG_LEVEL: process.env.LOG_LEVEL ?? "warn",
      },
    });
    progress(`${processes} app processes ready on ports ${fleet.ports.join(", ")}; ${repos.length} requirements`);
    const idle = await sampleIdle(pool, options.idleSampleMs ?? 0);
    const before = await readDatabaseWork(pool);
    const measured = Date.now();
    const started = Date.now();
    const killer = startKiller(fleet, options.killEveryMs, progress);
    await sendAll(
      github,
      repos.map((repo) => repo.build.labeled()),
    );
    let ends = await readEndStates(pool, INSTALLATION_ID, repos);
    let finished = started;
    while (Date.now() - started < options.timeoutMs) {
      ends = await readEndStates(pool, INSTALLATION_ID, repos);
      if (ends.done === repos.length) {
        finished = Date.now();
        break;
      }
      progress(
        `${Math.round((Date.now() - started) / 1000)} s: ${ends.done} of ${repos.length} done; GitHub ${github.counts.reads} reads, ${github.counts.writes} writes; ${fleet.kills} kills`,
      );
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
    if (finished === started) finished = Date.now();
    await killer.stop();
    // Jobs still queued after the last requirement (scoreboard, status edits) finish before the processes stop.
    await waitForIdleQueue(pool, 30_000);
    await fleet.stop();
    const after = await readDatabaseWork(pool);
    const database = { delta: databaseDelta(before, after), idle, seconds: (Date.now() - measured) / 1000 };
    return await report({ options, processes, repos, github, fleet, model, pool, seconds: (finished - started) / 1000, database });
  } catch (error) {
    if (fleet) progress(`app stderr: ${fleet.stderr.join("\n---\n")}`);
    throw error;
  } finally {
    await fleet?.stop();
    await pool.end();
    await github.close();
    await model.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/** The database work of the processes while nothing happens, per second (zeros when not sampled). */
async function sampleIdle(pool: pg.Pool, ms: number): Promise<DatabaseWork> {
  const start = await readDatabaseWork(pool);
  if (ms <= 0) return databaseDelta(start, start);
  await new Promise((resolve) => setTimeout(resolve, ms));
  const delta = databaseDelta(start, await readDatabaseWork(pool));
  return Object.fromEntries(Object.entries(delta).map(([key, value]) => [key, value / (ms / 1000)])) as DatabaseWork;
}

async function waitForIdleQueue(pool: pg.Pool, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM graphile_worker.jobs WHERE run_at <= now() + interval '1 minute'");
    if (rows[0]?.n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function mapWork(work: DatabaseWork, fn: (key: keyof DatabaseWork, value: number) => number): Record<keyof DatabaseWork, number> {
  return Object.fromEntries(Object.entries(work).map(([key, value]) => [key, fn(key as keyof DatabaseWork, value)])) as Record<keyof DatabaseWork, number>;
}

type ReportInput = {
  options: SoakOptions;
  processes: number;
  repos: Repository[];
  github: SoakGitHub;
  fleet: Fleet;
  model: { calls: { plan: number; turns: number } };
  pool: pg.Pool;
  seconds: number;
  database: { delta: DatabaseWork; idle: DatabaseWork; seconds: number };
};

async function report(input: ReportInput): Promise<SoakReport> {
  const { repos, github, pool } = input;
  const { delta, idle, seconds } = input.database;
  const ends = await readEndStates(pool, INSTALLATION_ID, repos);
  const duplicates = repos.flatMap((repo) => findDuplicates(repo.fullName, repo.edge, BOT));
  const audit = await auditVerifies(pool);
  const reservations = await readReservations(pool);
  const per = (n: number) => (ends.done > 0 ? Math.round((n / ends.done) * 10) / 10 : 0);
  const ok = duplicates.length === 0 && ends.lost.length === 0 && ends.stuck.length === 0 && audit.ok && (reservations.reserved ?? 0) === 0;
  return {
    requirements: repos.length,
    processes: input.processes,
    kills: input.fleet.kills,
    seconds: Math.round(input.seconds),
    done: ends.done,
    requirementsPerHour: Math.round((ends.done / input.seconds) * 3600),
    github: { ...github.counts, readsPerRequirement: per(github.counts.reads), writesPerRequirement: per(github.counts.writes) },
    webhooks: github.hooks,
    model: input.model.calls,
    database: {
      ...delta,
      idlePerSecond: mapWork(idle, (_key, value) => Math.round(value * 10) / 10),
      perRequirement: mapWork(delta, (key, value) => per(Math.max(0, value - idle[key] * seconds))),
    },
    checks: { duplicates, lost: ends.lost, stuck: ends.stuck, audit, reservations },
    ok,
  };
}
