// Task benchmark, two parts, both on a fixture repository of 1,000 files in a local bare remote with zero-latency
// recorded model replies and GitHub faked behind nock.
// 1. Time: one assigned task, from the assignment (the router's decision committed) to the draft PR opened.
// 2. Requests: the whole requirement of one task through the running app, from the `issues.labeled` delivery
//    (intake, planning, routing, work) to the draft PR and the last status comment, counting every GitHub API
//    request at the HTTP edge, installation tokens included.
// Targets: <= 3 s and <= 15 requests. Run: npm run bench:task (tsx bench/task.ts).
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import nock from "nock";
import pino from "pino";
import { AuditLog } from "../src/audit/append.js";
import { loadConfig } from "../src/config/env.js";
import { loadPolicySet } from "../src/config/policy-files.js";
import { createPool } from "../src/db/pool.js";
import { CircuitBreaker } from "../src/models/circuit-breaker.js";
import { runTaskWork } from "../src/employees/work-loop.js";
import { createGitHubAccess } from "../src/github/octokit.js";
import { createModelRegistry, defaultWorkspaceOptions, type Services } from "../src/services.js";
import { startAura } from "../src/server/start.js";
import { probeBwrap } from "../src/workspace/sandbox.js";
import { scriptedCompany } from "../test/e2e/pipeline-fixture.js";
import { FLOW_PROJECT, runLabelToPull, summarise, type LabelToPullRun } from "../test/work/label-to-pull.js";
import { testSecret } from "../test/helpers/webhooks.js";
import { createBareRemote } from "../test/workspace/git-fixture.js";
import { BUGGY_PROJECT, createTaskFixture, edits, fakeGitHub, FIX_ADD, scriptedEmployees } from "../test/work/work-fixtures.js";
import { benchDatabase, machine } from "./database.js";

const FILES = 1_000;
const RUNS = 5;
const TARGET_MS = 3_000;
const TARGET_REQUESTS = 15;

function fixtureFiles(base: Record<string, string> = BUGGY_PROJECT): Record<string, string> {
  const files: Record<string, string> = { ...base };
  for (let i = 0; Object.keys(files).length < FILES; i++) {
    files[`lib/module-${i % 25}/file-${i}.js`] = `// module ${i}\nexports.value${i} = ${i};\n`;
  }
  return files;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const probe = probeBwrap();
  nock.disableNetConnect();
  nock.enableNetConnect((host) => host.startsWith("127.0.0.1") || host.startsWith("localhost"));
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 8 });
  const temp = mkdtempSync(path.join(os.tmpdir(), "aura-bench-task-"));
  chmodSync(temp, 0o711);
  const privateKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }) as string;
  const config = loadConfig({
    APP_ID: "123",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: "bench",
    DATABASE_URL: db.url,
    AURA_DATA_DIR: path.join(temp, "data"),
    AURA_ALLOW_LOCAL_CLONE: "true",
    AURA_ALLOW_UNSANDBOXED: probe.ok ? "false" : "true",
    OPENAI_API_KEY: "sk-bench",
    LOG_LEVEL: "silent",
  });
  const log = pino({ level: "silent" });
  const breaker = new CircuitBreaker();
  const script = scriptedEmployees([edits("Use + in add().", FIX_ADD)]);
  const services: Services = {
    config,
    pool,
    audit: new AuditLog(pool),
    log,
    // The app's real GitHub access: throttling, retries and the no-merge guard, as in production.
    github: createGitHubAccess({ appId: 123, privateKey, baseUrl: config.githubApiUrl, log }),
    policies: loadPolicySet(),
    breaker,
    modelFor: createModelRegistry(config, breaker, script.override),
    workspace: defaultWorkspaceOptions(config, config.botIdentity),
    sandbox: { allowUnsandboxed: config.AURA_ALLOW_UNSANDBOXED },
    now: () => new Date(),
  };
  const github = fakeGitHub();
  const remote = createBareRemote(temp, fixtureFiles());
  const testDb = { url: db.url, pool, drop: async () => undefined };

  const durations: number[] = [];
  const requestCounts: number[] = [];
  let breakdown = "";
  let flow: LabelToPullRun | undefined;
  try {
    for (let run = 0; run < RUNS; run++) {
      // Octokit's throttling spaces content-creating writes 3 s apart process-wide; independent requirements
      // are not back to back, so each run starts after that gap (outside the measured time).
      if (run > 0) await new Promise((resolve) => setTimeout(resolve, 3_100));
      // A separate installation per run: each is an independent requirement with its own GitHub client.
      const fixture = await createTaskFixture(testDb, services, { parent: temp, remote, installationId: 1000 + run });
      const before = github.requests.length;
      const started = performance.now();
      const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});
      if (outcome.kind !== "pr_open") throw new Error(`run ${run + 1} ended ${JSON.stringify(outcome)}`);
      const requests = github.requests.slice(before);
      const opened = requests.find((request) => request.method === "POST" && /\/pulls$/.test(request.path));
      if (!opened) throw new Error("no pull request was opened");
      durations.push(opened.at - started);
      requestCounts.push(requests.length);
      if (run === 0) {
        const counts = new Map<string, number>();
        for (const request of requests) {
          const key = `${request.method} ${request.path.replace(/\/\d+(?=\/|$)/g, "/{n}").replace(/\/repos\/[^/]+\/[^/]+/, "/repos/{owner}/{repo}")}`;
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        breakdown = [...counts].map(([key, count]) => `      ${count} × ${key}`).join("\n");
      }
    }
    nock.cleanAll();
    flow = await measureLabelToPull(db.url, temp, privateKey, probe.ok);
  } finally {
    await pool.end();
    await db.stop();
    rmSync(temp, { recursive: true, force: true });
    nock.cleanAll();
  }

  const cold = durations[0] ?? Number.NaN;
  const warm = median(durations.slice(1));
  const maxRequests = Math.max(...requestCounts);
  const flowCount = flow?.requests.length ?? Number.NaN;
  const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");
  console.log(
    [
      "Task benchmark",
      `  machine:            ${machine()}`,
      `  fixture:            ${FILES} files in a local bare remote; recorded model replies (zero latency); sandbox ${probe.ok ? "bwrap" : "none (bubblewrap unavailable)"}`,
      "1. Assignment → draft pull request (runTaskWork)",
      `  runs:               ${RUNS}, each a new requirement on its own repository (a cold clone every time), 3.1 s apart`,
      `  time to PR opened:  first ${cold.toFixed(0)} ms, median of the rest ${warm.toFixed(0)} ms (all: ${durations.map((d) => d.toFixed(0)).join(", ")} ms)`,
      `  target:             <= ${TARGET_MS} ms → ${verdict(Math.max(cold, warm) <= TARGET_MS)}`,
      `  GitHub requests:    ${maxRequests} per task from the assignment through the status comment`,
      breakdown,
      "2. Label → draft pull request, the whole requirement of one task through the running app",
      `  GitHub requests:    ${flowCount} from the issues.labeled delivery until every job was done (${flow?.untilPull.length ?? "?"} up to the PR's creation)`,
      `  target:             <= ${TARGET_REQUESTS} → ${verdict(flowCount <= TARGET_REQUESTS)}`,
      ...(flow ? flow.requests.map((request, index) => `      ${String(index + 1).padStart(2)}. ${request.method} ${request.route}`) : []),
      "  by route:",
      ...(flow ? summarise(flow.requests).map((line) => `      ${line}`) : []),
      `  label → PR opened:  ${flow ? flow.msToPull.toFixed(0) : "?"} ms (GitHub writes unpaced; one cold run, for orientation only)`,
    ].join("\n"),
  );
  if (Math.max(cold, warm) > TARGET_MS || maxRequests > TARGET_REQUESTS || !(flowCount <= TARGET_REQUESTS)) process.exitCode = 1;
}

/**
 * Part 2: the app itself (Probot server, worker, leader) on the benchmark's database, one labelled issue of a
 * fresh 1,000-file repository, every GitHub request counted.
 */
async function measureLabelToPull(databaseUrl: string, temp: string, privateKey: string, sandboxed: boolean): Promise<LabelToPullRun> {
  const company = scriptedCompany();
  const dataDir = path.join(temp, "app");
  mkdirSync(dataDir, { mode: 0o755 });
  const config = loadConfig({
    APP_ID: "123",
    PRIVATE_KEY: privateKey,
    WEBHOOK_SECRET: testSecret,
    DATABASE_URL: databaseUrl,
    AURA_DATA_DIR: dataDir,
    AURA_ALLOW_LOCAL_CLONE: "true",
    AURA_ALLOW_UNSANDBOXED: sandboxed ? "false" : "true",
    // Pacing changes when requests are sent, not how many; unpaced keeps the benchmark short.
    AURA_GITHUB_WRITE_INTERVAL_MS: "0",
    OPENAI_API_KEY: "sk-bench",
    LOG_LEVEL: "silent",
  });
  const aura = await startAura(config, {
    log: pino({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
    workerPollMs: 20,
    leaderRetryMs: 100,
    modelOverride: company.override,
  });
  try {
    const pool = createPool(databaseUrl, { max: 2 });
    try {
      return await runLabelToPull(aura, pool, { parent: temp, name: "widgets-flow", installationId: 2000, files: fixtureFiles(FLOW_PROJECT) });
    } finally {
      await pool.end();
    }
  } finally {
    await aura.stop();
  }
}

await main();
