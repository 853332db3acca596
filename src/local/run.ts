// `aura run`: the whole company on a local repository, through the same code paths as on GitHub. It starts the
// app itself (src/server/start.ts: database, migrations, webhook route, workers, leader) pointed at a GitHub edge
// served on a loopback port (GHE_HOST) with an App key made for the run, opens an issue with the requirement
// labelled as one by the user (the director, admin on the edge), and plays GitHub's webhooks to the app's own
// route. The app clones the user's repository by file:// and pushes only its `aura/…` branches there; the
// checked-out branch, the working tree and uncommitted changes are never touched. It waits while the roles work,
// shows progress on stderr, and reports from the records the roles wrote.
import { generateKeyPair, randomBytes } from "node:crypto";
import { chmodSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import pino from "pino";
import { loadConfig } from "../config/env.js";
import { loadPolicySet, type Employee, type PolicySet } from "../config/policy-files.js";
import { getFreePort } from "../db/embedded.js";
import { createPool } from "../db/pool.js";
import type { ModelClient } from "../models/model-client.js";
import { JOBS } from "../queue/enqueue.js";
import { startAura, type RunningAura } from "../server/start.js";
import { deliver, deliveryBuilder, type Delivery } from "./deliveries.js";
import { serveGitHubEdges, type EdgeServer } from "./edge-server.js";
import { localPolicies } from "./employees.js";
import { createGitHubEdge, type GitHubEdge, type GitHubEdgeOptions } from "./github-edge.js";
import { readReport, renderReport, type LocalReport } from "./report.js";
import { inspectRepository, LocalRunInputError, type LocalRepository } from "./repository.js";

export { LocalRunInputError } from "./repository.js";

export type LocalRunOptions = {
  repoPath: string;
  requirement: string;
  employee?: string | undefined;
  planOnly?: boolean;
  json?: boolean;
  env: NodeJS.ProcessEnv;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Give up waiting after this long (default 60 minutes). */
  timeoutMs?: number;
  /** Stop waiting when aborted (`aura eval run` stops a replay that has no recording for a request). */
  signal?: AbortSignal;
  /** Benchmarks only: replace an employee's model client. Local runs use the providers from the environment. */
  modelOverride?: (employee: Employee) => ModelClient;
};

const INSTALLATION_ID = 1;
/** Jobs an employee runs: held back in a plan-only run, so nothing works on the plan. */
const WORK_JOBS = ["task.work", "task.sync-base", "task.reroute"];
const SETTLED_REQUIREMENT = ["done", "failed", "needs_director", "cancelled", "halted"];
const SETTLED_TASK = ["merged", "rejected", "failed", "needs_director", "cancelled"];

/** The local director's login: the user's name as a GitHub login would spell it. */
function directorLogin(): string {
  const name = os
    .userInfo()
    .username.replace(/[^A-Za-z0-9-]/g, "-")
    .replace(/^-+|-+$/g, "");
  return name === "" ? "local-director" : name.slice(0, 39);
}

let runKey: Promise<string> | undefined;

/**
 * The App key local runs sign their app's tokens with. Only the run's own GitHub edge (on a loopback port) ever
 * sees what it signs, and the edge takes any signature, so one key per process does: made once, off the event
 * loop (a 2048-bit RSA key costs ~0.35 s of CPU, which `aura eval run` paid per attempt). A failure is not kept.
 */
function localAppKey(): Promise<string> {
  runKey ??= promisify(generateKeyPair)("rsa", { modulusLength: 2048 }).then(
    ({ privateKey }) => privateKey.export({ type: "pkcs1", format: "pem" }) as string,
    (error: unknown) => {
      runKey = undefined;
      throw error;
    },
  );
  return runKey;
}

/** Variables of a GitHub App `.env` that local mode sets itself (the run never talks to GitHub). */
const GITHUB_VARIABLES = ["APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET", "GHE_HOST", "GHE_PROTOCOL", "PORT", "HOST"];

export async function runLocal(options: LocalRunOptions): Promise<number> {
  const started = Date.now();
  const requirement = checkedRequirement(options.requirement);
  const basePolicies = loadPolicySet();
  const repo = inspectRepository(options.repoPath, basePolicies);
  // Everything local mode keeps lives under the repository's git directory, which git ignores.
  const session = await openLocalSession({ ...options, dataDir: path.join(repo.gitDir, "aura"), basePolicies, beforeStart: repo });
  try {
    const { report } = await session.run({ repoPath: options.repoPath, repo, requirement, started, signal: options.signal, timeoutMs: options.timeoutMs });
    options.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
    if (options.planOnly) return report.requirement?.plan ? 0 : 1;
    return report.outcome === "passed" ? 0 : 1;
  } finally {
    await session.close();
  }
}

function checkedRequirement(text: string): string {
  const requirement = text.trim();
  if (requirement === "")
    throw new LocalRunInputError('The requirement text is empty. Say what should change, e.g. aura run . "add() subtracts; make it add".');
  return requirement;
}

export type LocalSessionOptions = Pick<LocalRunOptions, "employee" | "planOnly" | "env" | "stderr" | "modelOverride"> & {
  /** Where the app keeps its log and its work trees (`aura run`: the repository's `.git/aura`). */
  dataDir: string;
  basePolicies?: PolicySet;
  /** `aura run`'s repository: its notes are printed before the app starts, as the one run's. */
  beforeStart?: LocalRepository;
};

/** One requirement on one repository, in a session (`repo`: the repository at `repoPath` when already inspected). */
export type LocalSessionRun = {
  repoPath: string;
  repo?: LocalRepository;
  requirement: string;
  started?: number;
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
};

/**
 * The app and its GitHub edge, started once for several requirements run one after another, each on a repository
 * of its own (`aura eval run`'s attempts; `aura run` is a session of one). `settled` is false when a run stopped
 * waiting (timeout, abort) with work possibly still going: such a session is closed rather than given another run.
 */
export type LocalSession = {
  run: (request: LocalSessionRun) => Promise<{ report: LocalReport; settled: boolean }>;
  close: () => Promise<void>;
};

/** What a session is set up with before anything starts: the app's config and policies, the edge's port and secret. */
type SessionSetup = {
  options: LocalSessionOptions;
  /** The policy files as read, before local mode narrows the employees (repositories' configs are checked against them). */
  basePolicies: PolicySet;
  /** The caller's environment less the GitHub App variables local mode sets itself. */
  env: Record<string, string | undefined>;
  dataDir: string;
  edgePort: number;
  secret: string;
  config: ReturnType<typeof loadConfig>;
  policies: PolicySet;
  employees: string[];
};

/** What one run of a session works on: the checked requirement and the repository. */
type RunSetup = SessionSetup & { requirement: string; repo: LocalRepository; fullName: string };

/** Checks the employees and builds the app's config for a session against a GitHub edge on a free loopback port. */
async function prepareSession(options: LocalSessionOptions): Promise<SessionSetup> {
  const basePolicies = options.basePolicies ?? loadPolicySet();
  const env = Object.fromEntries(Object.entries(options.env).filter(([key]) => !GITHUB_VARIABLES.includes(key)));
  const { dataDir } = options;
  const edgePort = await getFreePort();
  const secret = randomBytes(24).toString("hex");
  const privateKey = await localAppKey();
  const config = loadConfig({
    ...env,
    APP_ID: "1",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: secret,
    GHE_HOST: `127.0.0.1:${edgePort}`,
    GHE_PROTOCOL: "http",
    AURA_DATA_DIR: dataDir,
    AURA_ALLOW_LOCAL_CLONE: "true",
    AURA_GITHUB_WRITE_INTERVAL_MS: "0",
  });
  const { policies, employees } = await localPolicies(basePolicies, config, options.employee);
  mkdirSync(dataDir, { recursive: true });
  // The sandbox's unprivileged user must reach the work trees below it.
  chmodSync(dataDir, 0o711);
  return { options, basePolicies, env, dataDir, edgePort, secret, config, policies, employees };
}

/** The edges a session serves, by repository (`owner/name`): the current run's and the one before (late requests). */
const EDGES_KEPT = 2;

export async function openLocalSession(options: LocalSessionOptions): Promise<LocalSession> {
  const setup = await prepareSession(options);
  if (options.beforeStart) for (const note of startNotes(options.beforeStart, setup.employees)) options.stderr.write(`aura: ${note}\n`);
  let wakeCurrent = () => undefined as void;
  const aura = await startApp(setup, options, () => wakeCurrent());
  const edges = new Map<string, GitHubEdge>();
  let current: GitHubEdge | undefined;
  let pool: ReturnType<typeof createPool> | undefined;
  let edgeServer: EdgeServer | undefined;
  try {
    pool = createPool(aura.databaseUrl, { max: 2 });
    edgeServer = await serveGitHubEdges((fullName) => (fullName === undefined ? current : edges.get(fullName)), setup.edgePort);
  } catch (error) {
    await pool?.end();
    await aura.stop();
    throw error;
  }
  const sessionPool = pool;
  let runs = 0;
  return {
    run: async (request) => {
      const { started = Date.now(), signal, timeoutMs } = request;
      const requirement = checkedRequirement(request.requirement);
      const repo = request.repo ?? inspectRepository(request.repoPath, setup.basePolicies);
      const run: RunSetup = { ...setup, requirement, repo, fullName: `${repo.owner}/${repo.name}` };
      const notes = startNotes(repo, setup.employees);
      if (runs++ > 0 || !options.beforeStart) for (const note of notes) options.stderr.write(`aura: ${note}\n`);
      const issue = await localIssue(sessionPool, run);
      // Jobs queued before this run's first webhook are not this run's (an earlier run on the same database may
      // have left some, for a GitHub edge that is gone): the run neither waits for them nor reports their errors.
      const firstJobAfter = await lastJobId(sessionPool);
      const edge = createGitHubEdge(edgeOptions(run, issue));
      // Newest last (a repository run again moves to the end), the oldest dropped.
      edges.delete(run.fullName);
      edges.set(run.fullName, edge);
      while (edges.size > EDGES_KEPT) edges.delete(edges.keys().next().value as string);
      current = edge;
      const between = wakeablePause();
      wakeCurrent = between.wake;
      const { player, build } = playEdgeEvents(edge, aura, run, issue);
      player.send(build.labeled());
      const watched = await watch({
        pool: sessionPool,
        edge,
        aura,
        player,
        build,
        fullName: run.fullName,
        issue: issue.number,
        options: { planOnly: options.planOnly, stderr: options.stderr, timeoutMs, signal },
        started,
        director: issue.user,
        firstJobAfter,
        between,
      });
      const report = await finalReport({
        pool: sessionPool,
        edge,
        setup: run,
        issue: issue.number,
        started,
        approved: watched.approved,
        notes: [...notes, ...watched.notes],
      });
      return { report, settled: watched.settled };
    },
    close: async () => {
      await sessionPool.end();
      await aura.stop();
      await edgeServer?.close();
    },
  };
}

/** What the person should know before the run starts (uncommitted work left alone, who may work). */
function startNotes(repo: LocalRepository, employees: string[]): string[] {
  const notes: string[] = [];
  if (repo.dirty.length > 0) {
    notes.push(
      `${repo.root} has ${repo.dirty.length} uncommitted change${repo.dirty.length === 1 ? "" : "s"}; the run works from the committed ${repo.branch} (${repo.head.slice(0, 12)}) and leaves them untouched.`,
    );
  }
  notes.push(`Employees available to this run: ${employees.join(", ")} (test command: ${repo.testCommand}).`);
  return notes;
}

/** The whole app, logging to a file under the data directory; a plan-only run holds the employees' jobs back. */
async function startApp({ config, dataDir, env, policies }: SessionSetup, options: LocalSessionOptions, wake: () => void): Promise<RunningAura> {
  const log = pino({ level: env.LOG_LEVEL ?? "info" }, pino.destination({ dest: path.join(dataDir, "aura.log"), mkdir: true, sync: false }));
  options.stderr.write(`aura: starting the app (database and log under ${dataDir})\n`);
  return startAura(config, {
    log,
    port: 0,
    host: "127.0.0.1",
    policies,
    // New jobs are picked up at once (LISTEN); polling finds only jobs that became due later (a retry, a job
    // waiting for a task's tree). Four idle workers polling every 200 ms were ~50 queries per eval attempt.
    workerPollMs: 500,
    leaderRetryMs: 500,
    modelOverride: options.modelOverride,
    // A job that ended is what the watch loop waits for most; graphile-worker deletes its row just after the event.
    onJobEnd: () => void setTimeout(wake, JOB_RECORDED_MS),
    ...(options.planOnly ? { onlyTasks: Object.keys(JOBS).filter((name) => !WORK_JOBS.includes(name)) } : {}),
  });
}

type LocalIssue = { number: number; title: string; body: string; user: string };

/** The issue the requirement is written on, opened by the local director. */
async function localIssue(pool: ReturnType<typeof createPool>, { fullName, repo, requirement }: RunSetup): Promise<LocalIssue> {
  return { number: await nextIssueNumber(pool, fullName, repo), title: titleOf(requirement), body: requirement, user: directorLogin() };
}

function edgeOptions({ repo, config }: RunSetup, issue: LocalIssue): GitHubEdgeOptions {
  return {
    owner: repo.owner,
    name: repo.name,
    bare: repo.root,
    cloneUrl: pathToFileURL(repo.root).href,
    defaultBranch: repo.branch,
    webUrl: config.githubWebUrl,
    apiUrl: config.githubApiUrl,
    botLogin: config.botLogin,
    permissions: { [issue.user]: "admin" },
    issue,
  };
}

/** The webhook player, with a pull request the app opens on the edge announced to it as GitHub would. */
function playEdgeEvents(edge: GitHubEdge, aura: RunningAura, { secret, repo, config }: RunSetup, issue: LocalIssue) {
  const build = deliveryBuilder(edge, {
    installationId: INSTALLATION_ID,
    issue: { number: issue.number, title: issue.title, body: issue.body },
    director: issue.user,
    label: repo.config.requirementLabel,
    botLogin: config.botLogin,
  });
  const player = playWebhooks(aura, secret);
  edge.onEvent((event) => {
    if (event.kind === "pull.created") player.send(build.pullOpened(event.number));
  });
  return { player, build };
}

type ReportInput = {
  pool: ReturnType<typeof createPool>;
  edge: GitHubEdge;
  setup: RunSetup;
  issue: number;
  started: number;
  approved: boolean;
  notes: string[];
};

/** The report from the roles' records; `passed` only when every task has a passing verdict and passed evidence. */
async function finalReport({ pool, edge, setup, issue, started, approved, notes }: ReportInput): Promise<LocalReport> {
  const { repo, config, dataDir, options } = setup;
  const report: LocalReport = {
    repository: repo.root,
    base: repo.branch,
    issue,
    ...(await readReport(pool, edge, {
      installationId: INSTALLATION_ID,
      repo: setup.fullName,
      issue,
      trajectoryCommand: config.DATABASE_URL ? "npx aura trajectory" : `AURA_DATA_DIR=${dataDir} npx aura trajectory`,
    })),
    approvedByLocalDirector: approved,
    seconds: (Date.now() - started) / 1000,
    notes,
    outcome: options.planOnly ? "plan-only" : "not-passed",
  };
  const passed = report.tasks.length > 0 && report.tasks.every((task) => task.verdict?.conclusion === "success" && task.evidence?.state === "passed");
  if (!options.planOnly && passed) report.outcome = "passed";
  return report;
}

function titleOf(requirement: string): string {
  const first = requirement.split("\n")[0]?.trim() ?? requirement;
  return first.length > 80 ? `${first.slice(0, 77)}…` : first;
}

/** An issue number no earlier local run of this database or repository used (requirements and `aura/N-…` branches). */
async function nextIssueNumber(pool: ReturnType<typeof createPool>, fullName: string, repo: LocalRepository): Promise<number> {
  const { rows } = await pool.query<{ n: number | null }>("SELECT max(issue_number) AS n FROM requirements WHERE installation_id = $1 AND repo = $2", [
    INSTALLATION_ID,
    fullName,
  ]);
  const { execFileSync } = await import("node:child_process");
  const branches = execFileSync("git", ["for-each-ref", "--format=%(refname:short)", "refs/heads/aura/"], { cwd: repo.root, encoding: "utf8" });
  const used = branches
    .split("\n")
    .map((ref) => Number(/^aura\/(\d+)-/.exec(ref)?.[1] ?? 0))
    .concat(rows[0]?.n ?? 0);
  return Math.max(...used) + 1;
}

/** Webhook deliveries in the order GitHub's events happened, one at a time; `idle` when none is left. */
function playWebhooks(aura: RunningAura, secret: string) {
  let chain: Promise<void> = Promise.resolve();
  let pending = 0;
  const errors: string[] = [];
  const delivered: (() => void)[] = [];
  return {
    send(delivery: Delivery) {
      pending++;
      chain = chain
        .then(() => deliver(aura.port, secret, delivery))
        .catch((error: unknown) => void errors.push(error instanceof Error ? error.message : String(error)))
        .finally(() => {
          pending--;
          for (const listener of delivered) listener();
        });
    },
    get idle() {
      return pending === 0;
    },
    /** Calls `listener` after each delivery has been answered (or has failed). */
    onDelivered(listener: () => void) {
      delivered.push(listener);
    },
    errors,
  };
}

/**
 * The watch loop's pause: it ends after `ms`, or at once when something the loop looks at may have changed (the
 * edge recorded a pull request, comment, status or review; a webhook delivery was answered; one of the app's jobs
 * ended). What changes only in the database otherwise (a requirement's state) is seen at the next check.
 */
function wakeablePause() {
  let wake: (() => void) | undefined;
  return {
    wake: () => wake?.(),
    pause: (ms: number) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => done(), ms);
        const done = () => {
          clearTimeout(timer);
          wake = undefined;
          resolve();
        };
        wake = done;
      }),
  };
}

/** How long the watch loop waits between two checks of the database when nothing wakes it earlier. */
const CHECK_MS = 100;
/** How long after a job's end the watch loop looks: graphile-worker records the end just after announcing it. */
const JOB_RECORDED_MS = 10;

type WatchInput = {
  pool: ReturnType<typeof createPool>;
  edge: GitHubEdge;
  aura: RunningAura;
  player: ReturnType<typeof playWebhooks>;
  build: ReturnType<typeof deliveryBuilder>;
  fullName: string;
  issue: number;
  options: { planOnly?: boolean | undefined; stderr: NodeJS.WritableStream; timeoutMs?: number | undefined; signal?: AbortSignal | undefined };
  started: number;
  director: string;
  /** The id of the last job queued before this run's first webhook ("0" when none). */
  firstJobAfter: string;
  /** The loop's pause, which the edge's events, answered deliveries and ended jobs cut short. */
  between: ReturnType<typeof wakeablePause>;
};

async function lastJobId(pool: ReturnType<typeof createPool>): Promise<string> {
  const { rows } = await pool.query<{ id: string }>("SELECT coalesce(max(id), 0)::text AS id FROM graphile_worker.jobs");
  return rows[0]?.id ?? "0";
}

type Snapshot = {
  requirement: string | undefined;
  tasks: { key: string; state: string; pr: number | null; employee: string | null }[];
  spend: number;
  jobs: number;
  failing: string | undefined;
};

type SnapshotRow = {
  state: string | null;
  tasks: { key: string; state: string; pr: number | null; employee: string | null }[];
  spend: number;
  jobs: { task_identifier: string; last_error: string | null }[];
};

/**
 * What the watch loop looks at, in one statement (it runs on every wake: each comment, status and review the
 * edge records, each delivery answered, each job ended): the requirement's state, its tasks with their active
 * employee, its spend, and graphile-worker's public `jobs` view (waiting or running jobs queued after the run's
 * first webhook, with the last error of one being retried).
 */
async function snapshot(input: WatchInput): Promise<Snapshot> {
  const { rows } = await input.pool.query<SnapshotRow>(
    `WITH r AS (SELECT id, state FROM requirements WHERE installation_id = $1 AND repo = $2 AND issue_number = $3)
     SELECT (SELECT state FROM r) AS state,
            coalesce((SELECT json_agg(json_build_object('key', t.task_key, 'state', t.state, 'pr', t.pr_number, 'employee', a.employee_id) ORDER BY t.id)
                        FROM tasks t LEFT JOIN assignments a ON a.task_id = t.id AND a.active WHERE t.requirement_id = (SELECT id FROM r)), '[]') AS tasks,
            (SELECT coalesce(sum(usd), 0)::float8 FROM model_spend WHERE requirement_id = (SELECT id FROM r)) AS spend,
            coalesce((SELECT json_agg(json_build_object('task_identifier', task_identifier, 'last_error', last_error) ORDER BY id)
                        FROM graphile_worker.jobs WHERE id > $4::bigint), '[]') AS jobs`,
    [INSTALLATION_ID, input.fullName, input.issue, input.firstJobAfter],
  );
  const row = rows[0] ?? { state: null, tasks: [], spend: 0, jobs: [] };
  // A plan-only run holds the employees' jobs back; they do not keep it waiting.
  const counted = row.jobs.filter((job) => !(input.options.planOnly === true && WORK_JOBS.includes(job.task_identifier)));
  const failing = counted.find((job) => job.last_error !== null);
  return {
    requirement: row.state ?? undefined,
    tasks: row.tasks,
    spend: row.spend,
    jobs: counted.length,
    failing: failing ? `${failing.task_identifier}: ${failing.last_error?.split("\n")[0] ?? ""}` : undefined,
  };
}

/** The step a person would name for what the company is doing now. */
function stepOf(now: Snapshot, edge: GitHubEdge): string {
  if (now.requirement === undefined) return "opening the requirement";
  if (now.requirement === "received" || now.requirement === "planning") return "the Manager is planning";
  if (now.requirement === "awaiting_approval") return "the plan waits for the director's approval";
  const parts = now.tasks.map((task) => {
    if (task.state === "pr_open" && task.pr !== null) {
      const gate = edge.statuses.filter((status) => status.context === "aura/hnsc").at(-1);
      const reviewed = edge.reviews.some((review) => review.pull === task.pr);
      return `${task.key}: PR #${task.pr}, gate ${gate?.state ?? "waiting"}${reviewed ? ", Auditor reviewed" : ", Auditor testing"}`;
    }
    if (task.state === "working") return `${task.key}: ${task.employee ?? "an employee"} is working`;
    return `${task.key}: ${task.state}${task.employee ? ` (${task.employee})` : ""}`;
  });
  return `requirement ${now.requirement}; ${parts.join("; ") || "no tasks"}`;
}

/** Whether the run has come to rest: every task has its verdict and evidence, or has ended otherwise. */
function settled(now: Snapshot, input: WatchInput, planOnly: boolean): boolean {
  if (!input.player.idle || now.requirement === undefined) return false;
  if (planOnly) return now.requirement === "cancelled" && now.jobs === 0;
  if (SETTLED_REQUIREMENT.includes(now.requirement) && now.jobs === 0) return true;
  if (now.requirement !== "in_progress" || now.tasks.length === 0 || now.jobs > 0) return false;
  // Only now the edge is asked for heads (a git read on this event loop), not on every check while roles work.
  return now.tasks.every((task) => {
    if (SETTLED_TASK.includes(task.state)) return true;
    if (task.state !== "pr_open" || task.pr === null) return false;
    const head = input.edge.pullHeadSha(task.pr);
    const gate = input.edge.statuses.filter((status) => status.context === "aura/hnsc" && status.sha === head).at(-1);
    return gate !== undefined && gate.state !== "pending" && input.edge.reviews.some((review) => review.pull === task.pr && review.commit_id === head);
  });
}

async function watch(input: WatchInput): Promise<{ approved: boolean; notes: string[]; settled: boolean }> {
  const { options, edge, player, build } = input;
  const deadline = input.started + (options.timeoutMs ?? 60 * 60_000);
  const notes: string[] = [];
  let approved = false;
  let closing = false;
  let rest = false;
  let last = "";
  let lastAt = 0;
  const { between } = input;
  edge.onEvent(() => between.wake());
  player.onDelivered(() => between.wake());
  for (;;) {
    const now = await snapshot(input);
    const step = stepOf(now, edge);
    const elapsed = Math.round((Date.now() - input.started) / 1000);
    if (step !== last || Date.now() - lastAt > 15_000) {
      options.stderr.write(`aura [${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, "0")}] ${step} — spent $${now.spend.toFixed(4)}\n`);
      if (now.failing && step === last) options.stderr.write(`aura:   retrying ${now.failing}\n`);
      last = step;
      lastAt = Date.now();
    }
    if (now.requirement === "awaiting_approval" && !approved && !options.planOnly) {
      // The user is the director: approving is their `/aura approve`, through the Director's command path.
      const comment = edge.addComment(input.issue, "/aura approve", input.director);
      player.send(build.comment(comment.id, "/aura approve"));
      approved = true;
      notes.push(`The repository asks for plan approval; you approved the plan as the local director (/aura approve on #${input.issue}).`);
    }
    const planned = now.requirement !== undefined && !["received", "planning"].includes(now.requirement);
    if (options.planOnly && planned && !closing) {
      // A plan-only run ends the requirement the way a director does on GitHub: by closing its issue.
      edge.closeIssue();
      player.send(build.closed());
      closing = true;
      notes.push(`Plan only: the requirement was closed after planning (${now.requirement}); no employee worked on it.`);
    }
    if (settled(now, input, options.planOnly === true)) {
      rest = true;
      break;
    }
    if (options.signal?.aborted) {
      notes.push(`Stopped waiting: ${String(options.signal.reason)}`);
      break;
    }
    if (Date.now() > deadline) {
      notes.push(`Stopped waiting after ${Math.round((deadline - input.started) / 60_000)} minutes; the report shows where the run was.`);
      break;
    }
    await between.pause(CHECK_MS);
  }
  for (const error of player.errors) notes.push(`A webhook delivery failed: ${error}`);
  return { approved, notes, settled: rest };
}
