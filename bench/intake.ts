// Intake benchmark: signed `issues.labeled` deliveries posted to the running app on loopback at a fixed rate
// (open loop: a slow answer does not slow the sender), measuring acknowledged deliveries per second and the
// acknowledgement latency. A delivery is acknowledged only after its inbox row and its job are committed in one
// transaction, so every 200 here is durably enqueued work. Target: p99 <= 25 ms at 200 deliveries/s.
// The app runs in a child process (as GitHub and the app never share an event loop); bodies and signatures are
// prepared before the timed window, so the sender does as little as possible while measuring.
// Run: npm run bench:intake   (RATE, SECONDS and WARMUP_SECONDS override the defaults)
import http from "node:http";
import { fork } from "node:child_process";
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import pino from "pino";
import { loadConfig } from "../src/config/env.js";
import { startAura } from "../src/server/start.js";
import { benchDatabase, machine } from "./database.js";

const RATE = Number(process.env.RATE ?? 200);
const SECONDS = Number(process.env.SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.WARMUP_SECONDS ?? 2);
const TARGET_P99_MS = 25;
const SECRET = "bench-webhook-secret";

type Example = { name: string; examples: Record<string, unknown>[] };
const examples = createRequire(import.meta.url)("@octokit/webhooks-examples/api.github.com/index.json") as Example[];
const labeled = examples.find((group) => group.name === "issues")?.examples.find((example) => example.action === "labeled");
if (!labeled) throw new Error("@octokit/webhooks-examples has no issues.labeled payload");

/** One delivery body per issue number, so no two jobs collapse and every delivery must enqueue its own job. */
function body(issue: number): string {
  const issueObject = labeled?.issue as Record<string, unknown>;
  return JSON.stringify({
    ...labeled,
    label: { id: 1, name: "aura:requirement", color: "5319e7", default: false },
    issue: { ...issueObject, number: issue },
    installation: { id: 4242 },
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

type Prepared = { payload: string; headers: Record<string, string> };

function prepare(issue: number): Prepared {
  const payload = body(issue);
  return {
    payload,
    headers: {
      "content-type": "application/json",
      "x-github-event": "issues",
      "x-github-delivery": randomUUID(),
      "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(payload).digest("hex")}`,
    },
  };
}

// A keep-alive agent, like GitHub's own delivery workers: the figure is the app's answer, not TCP set-up
// or a heavy client library in the measuring process.
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function post(port: number, delivery: Prepared): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const request = http.request({ host: "127.0.0.1", port, path: "/api/github/webhooks", method: "POST", headers: delivery.headers, agent }, (response) => {
      response.resume();
      response.on("end", () => resolve({ status: response.statusCode ?? 0, ms: performance.now() - started }));
    });
    request.on("error", reject);
    request.end(delivery.payload);
  });
}

/** Sends `count` deliveries at `rate` per second on a fixed schedule; resolves when all are answered. */
async function offer(port: number, firstIssue: number, count: number, rate: number) {
  const deliveries = Array.from({ length: count }, (_, i) => prepare(firstIssue + i));
  const interval = 1000 / rate;
  const start = performance.now();
  const pending: Promise<{ status: number; ms: number }>[] = [];
  for (const [i, delivery] of deliveries.entries()) {
    const due = start + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(post(port, delivery).catch(() => ({ status: 0, ms: Number.NaN })));
  }
  const results = await Promise.all(pending);
  return { results, seconds: (performance.now() - start) / 1000 };
}

/** The child process: the app alone, on the benchmark database; it reports its port and waits to be stopped. */
async function serve(databaseUrl: string): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "aura-bench-intake-"));
  const config = loadConfig({
    APP_ID: "123",
    PRIVATE_KEY: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs1", format: "pem" }) as string,
    WEBHOOK_SECRET: SECRET,
    DATABASE_URL: databaseUrl,
    AURA_DATA_DIR: dataDir,
    LOG_LEVEL: "error",
  });
  // Workers off: the figure is the webhook path alone (record + enqueue), not the jobs competing for the CPU.
  const aura = await startAura(config, { log: pino({ level: "error" }), port: 0, host: "127.0.0.1", workers: false });
  process.send?.({ port: aura.port });
  process.once("message", () => {
    void aura.stop().then(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    });
  });
}

async function main(): Promise<void> {
  const database = await benchDatabase();
  const child = fork(new URL(import.meta.url).pathname, [], { env: { ...process.env, AURA_BENCH_SERVER_DB: database.url }, execArgv: ["--import", "tsx"] });
  const aura = await new Promise<{ port: number }>((resolve, reject) => {
    child.once("message", (message) => resolve(message as { port: number }));
    child.once("exit", (code) => reject(new Error(`the app process exited with code ${code}`)));
  });
  try {
    await offer(aura.port, 1_000_000, Math.round(RATE * WARMUP_SECONDS), RATE);
    const count = Math.round(RATE * SECONDS);
    const { results, seconds } = await offer(aura.port, 1, count, RATE);

    const ok = results.filter((result) => result.status === 200);
    const latencies = ok.map((result) => result.ms).sort((a, b) => a - b);
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    const durable = await client.query<{ deliveries: number; jobs: number }>(
      `SELECT (SELECT count(*)::int FROM webhook_deliveries WHERE (payload #>> '{issue,number}')::int < 1000000) AS deliveries,
              (SELECT count(*)::int FROM queued_jobs q JOIN graphile_worker.jobs j ON j.id = q.job_id
                WHERE (q.payload->>'issueNumber')::int < 1000000) AS jobs`,
    );
    await client.end();

    const row = durable.rows[0];
    const lines = [
      "",
      "Intake webhook benchmark (bench/intake.ts)",
      `  machine        ${machine()}`,
      `  offered        ${RATE} signed issues.labeled deliveries/s for ${SECONDS} s on loopback (${count} deliveries, after ${WARMUP_SECONDS} s warm-up), workers off`,
      `  acknowledged   ${ok.length}/${count} with 200 = ${(ok.length / seconds).toFixed(1)} deliveries/s (${results.length - ok.length} failed)`,
      `  ack latency    p50 ${p50.toFixed(2)} ms · p99 ${p99.toFixed(2)} ms · max ${(latencies.at(-1) ?? Number.NaN).toFixed(2)} ms`,
      `  durable        ${row?.deliveries ?? 0} inbox rows, ${row?.jobs ?? 0} requirement.intake jobs committed before each 200`,
      `  target         p99 <= ${TARGET_P99_MS} ms at ${RATE}/s: ${p99 <= TARGET_P99_MS && ok.length === count ? "met" : "NOT met"}`,
      "",
    ];
    process.stdout.write(lines.join("\n"));
  } finally {
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.send("stop");
    await exited;
    await database.stop();
  }
}

const serverDatabase = process.env.AURA_BENCH_SERVER_DB;
if (serverDatabase) await serve(serverDatabase);
else await main();
