// bench:console — the Director's console at size: with 10,000 tasks and 1,000,000 audit events in the database,
// the server time to render the board and a task page (the read model's queries plus the HTML, as the console's
// handlers do), the time from an audit append to its arrival on an open event stream (p95), and 500 concurrent
// streams on one process with the server's memory per stream. The 500 clients run in a child process, so the
// memory measured here is the server's alone.
import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { appendEvents } from "../src/audit/append.js";
import { createPool } from "../src/db/pool.js";
import { recordStep, startRun } from "../src/employees/agent/trajectory.js";
import { currentCursor, formatCursor, LiveHub, liveStream } from "../src/console/live.js";
import { getTask, listRequirements, listTasks } from "../src/console/read-model.js";
import type { Visibility } from "../src/console/visible.js";
import { boardView } from "../src/console/views/board.js";
import { page } from "../src/console/views/layout.js";
import { taskView } from "../src/console/views/task.js";
import { benchDatabase, machine } from "./database.js";

const TASKS = Number(process.env.BENCH_CONSOLE_TASKS ?? 10_000);
const EVENTS = Number(process.env.BENCH_CONSOLE_EVENTS ?? 1_000_000);
const STREAMS = Number(process.env.BENCH_CONSOLE_STREAMS ?? 500);
const REPOS = 20;
const TASKS_PER_REQUIREMENT = 10;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};
const ms = (value: number) => `${value.toFixed(1)} ms`;

async function seed(pool: ReturnType<typeof createPool>): Promise<void> {
  const requirements = TASKS / TASKS_PER_REQUIREMENT;
  await pool.query("INSERT INTO installations (id, account) VALUES (1, 'acme')");
  await pool.query(
    `INSERT INTO requirements (installation_id, repo, issue_number, title, state, plan_revision)
     SELECT 1, 'acme/repo-' || (g % ${REPOS}), g, 'Requirement ' || g, (ARRAY['planned','awaiting_approval','in_progress','done'])[1 + g % 4], 1
     FROM generate_series(1, ${requirements}) g`,
  );
  await pool.query(
    `INSERT INTO tasks (requirement_id, task_key, title, instructions, task_class, scope, state, cost_usd)
     SELECT r.id, 't' || k, 'Task ' || k || ' of ' || r.id, 'Change the code', 'code', '{src/**}',
            (ARRAY['queued','assigned','working','pr_open','merged'])[1 + (r.id + k) % 5], 0.01 * k
     FROM requirements r CROSS JOIN generate_series(1, ${TASKS_PER_REQUIREMENT}) k`,
  );
  // The audit log through its own append function (so the chain is real), 50,000 events per call.
  for (let done = 0; done < EVENTS; done += 50_000) {
    const n = Math.min(50_000, EVENTS - done);
    await pool.query(
      `SELECT count(*) FROM audit.append_events(
         array(SELECT 'aura' FROM generate_series(1, $1)),
         array(SELECT 'task.state_changed' FROM generate_series(1, $1)),
         array(SELECT CASE WHEN g % 2 = 0 THEN 'acme/repo-' || (g % ${REPOS}) || '#' || g ELSE 'task:' || (1 + g % ${TASKS}) END FROM generate_series($2 + 1, $2 + $1) g),
         array(SELECT '{"from":"queued","to":"assigned"}' FROM generate_series(1, $1)))`,
      [n, done],
    );
  }
  await pool.query("ANALYZE");
}

async function timeRender(label: string, runs: number, render: () => Promise<string>): Promise<void> {
  await render();
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    bytes = (await render()).length;
    times.push(performance.now() - start);
  }
  console.log(
    `${label.padEnd(52)} median ${ms(percentile(times, 50))}, p95 ${ms(percentile(times, 95))}, max ${ms(Math.max(...times))} (${Math.round(bytes / 1024)} KiB)`,
  );
}

// The clients: a child process opens N streams and reports when all N have received each audit record.
const CLIENTS = `
const http = require("node:http");
const [url, n] = [process.argv[1], Number(process.argv[2])];
let open = 0; const seen = new Map();
for (let i = 0; i < n; i++) {
  http.get(url, { agent: false, headers: { Accept: "text/event-stream" } }, (res) => {
    res.setEncoding("utf8"); let buf = "";
    if (++open === n) console.log("ready");
    res.on("data", (chunk) => {
      buf += chunk; let end;
      while ((end = buf.indexOf("\\n\\n")) >= 0) {
        const block = buf.slice(0, end); buf = buf.slice(end + 2);
        const m = /"action":"bench\\.live\\.(\\d+)"/.exec(block);
        if (!m) continue;
        const c = (seen.get(m[1]) || 0) + 1; seen.set(m[1], c);
        if (c === 1) console.log("first " + m[1]);
        if (c === n) { console.log("all " + m[1]); seen.delete(m[1]); }
      }
    });
  }).on("error", (e) => { console.error(String(e)); process.exit(1); });
}`;

type Clients = { waitFor: (line: string) => Promise<void>; stop: () => void };

function startClients(url: string, n: number): Clients {
  const child = spawn(process.execPath, ["-e", CLIENTS, url, String(n)], { stdio: ["ignore", "pipe", "inherit"] });
  const waiting = new Map<string, () => void>();
  const seen = new Set<string>();
  let buffer = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      seen.add(line);
      waiting.get(line)?.();
    }
  });
  return {
    waitFor: (line) => (seen.has(line) ? Promise.resolve() : new Promise((resolve) => waiting.set(line, resolve))),
    stop: () => child.kill(),
  };
}

function serverMemory(): number {
  globalThis.gc?.();
  globalThis.gc?.();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external + usage.arrayBuffers;
}

async function main(): Promise<void> {
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 10 });
  console.log(`Console benchmark on ${machine()}`);
  try {
    let start = performance.now();
    await seed(pool);
    console.log(
      `seeded ${TASKS.toLocaleString("en-US")} tasks and ${EVENTS.toLocaleString("en-US")} audit events in ${((performance.now() - start) / 1000).toFixed(1)} s`,
    );

    const visible: Visibility = Array.from({ length: REPOS }, (_, i) => ({ installationId: 1, repo: `acme/repo-${i}` }));
    const viewer = { login: "director", csrf: "x".repeat(43) };
    const { rows } = await pool.query<{ id: number }>("SELECT id FROM tasks ORDER BY id DESC LIMIT 1");
    const taskId = Number(rows[0]?.id);
    const run = await startRun(pool, {
      taskId,
      attempt: 1,
      revisionRound: 0,
      employeeId: "ada",
      mode: "native",
      maxSteps: 100,
      jobId: null,
      subject: `task:${taskId}`,
    });
    for (let i = 0; i < 40; i++)
      await recordStep(pool, run, { kind: "tool", tool: "read_file", arguments: `{"path":"src/f${i}.ts"}`, status: "ok", observation: "x".repeat(1_500) });

    await timeRender("board (every visible requirement and task)", 30, async () => {
      const [requirements, tasks, cursor] = await Promise.all([listRequirements(pool, visible), listTasks(pool, visible), currentCursor(pool, null)]);
      const installations = [{ installationId: 1, repos: visible.map((v) => v.repo) }];
      return page(
        { title: "Board", viewer, current: "board", mainId: "board", scripts: ["/console/static/live.js"] },
        boardView({ viewer, requirements, tasks, installations, liveSince: formatCursor(cursor) }),
      );
    });
    await timeRender("task page (40 steps in its trajectory)", 30, async () => {
      const [task, cursor] = await Promise.all([getTask(pool, visible, taskId, { steps: true }), currentCursor(pool, taskId)]);
      if (!task) throw new Error("the benchmark's task is not visible");
      return page({ title: `Task ${taskId}`, viewer, mainId: "task", scripts: ["/console/static/live.js"] }, taskView(viewer, task, formatCursor(cursor)));
    });

    const hub = new LiveHub(pool, db.url);
    await hub.start();
    const server = http.createServer((req, res) => void liveStream(hub, pool, req, res, { visible }));
    server.maxConnections = STREAMS + 10;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/live`;

    const latency = async (label: string, clients: Clients, count: number) => {
      const first: number[] = [];
      const all: number[] = [];
      for (let i = 0; i < count; i++) {
        const id = `${label.length}${i}`;
        start = performance.now();
        const gotFirst = clients.waitFor(`first ${id}`).then(() => first.push(performance.now() - start));
        const gotAll = clients.waitFor(`all ${id}`).then(() => all.push(performance.now() - start));
        await appendEvents(pool, [{ actor: "aura", action: `bench.live.${id}`, subject: "acme/repo-1#1", payload: {} }]);
        await Promise.all([gotFirst, gotAll]);
      }
      console.log(
        `${label.padEnd(52)} first stream p50 ${ms(percentile(first, 50))}, p95 ${ms(percentile(first, 95))}; all streams p50 ${ms(percentile(all, 50))}, p95 ${ms(percentile(all, 95))}`,
      );
    };

    const one = startClients(url, 1);
    await one.waitFor("ready");
    await latency("append → event on 1 open stream", one, 200);
    one.stop();

    const before = serverMemory();
    const many = startClients(url, STREAMS);
    await many.waitFor("ready");
    while (hub.subscriberCount < STREAMS) await new Promise((resolve) => setTimeout(resolve, 20));
    const after = serverMemory();
    console.log(
      `${`${STREAMS} concurrent streams on one process`.padEnd(52)} server memory ${((after - before) / 2 ** 20).toFixed(1)} MiB, ${((after - before) / STREAMS / 1024).toFixed(1)} KiB per stream (heap + buffers, after GC)`,
    );
    await latency(`append → event on ${STREAMS} open streams`, many, 100);
    many.stop();
    await hub.close();
    server.closeAllConnections();
    server.close();
  } finally {
    await pool.end();
    await db.stop();
  }
}

await main();
