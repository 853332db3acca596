// Live updates (src/console/live.ts, migration 026): audit appends and agent steps reach open event streams
// through LISTEN/NOTIFY, filtered to the person's repositories; Last-Event-ID resumes; heartbeats; a client that
// never reads is dropped; the listener survives losing its connection.
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { appendEvents } from "../../src/audit/append.js";
import { recordStep, startRun } from "../../src/employees/agent/trajectory.js";
import { LiveHub, liveStream, parseCursor } from "../../src/console/live.js";
import { asAdmin, createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { until } from "../helpers/wait.js";
import { SseClient } from "./live-client.js";

let db: TestDatabase;
let taskId: number;
let otherTaskId: number;

async function seedTask(repo: string, issue: number): Promise<number> {
  const { rows } = await db.pool.query<{ id: number }>(
    `WITH r AS (INSERT INTO requirements (installation_id, repo, issue_number, title) VALUES (1, $1, $2, 'Add a flag') RETURNING id)
     INSERT INTO tasks (requirement_id, task_key, title, instructions, task_class, scope) SELECT r.id, 't1', 'Add a flag', 'Do it', 'code', '{src/**}' FROM r RETURNING id`,
    [repo, issue],
  );
  return Number(rows[0]?.id);
}

const open: Served[] = [];

type Served = { url: string; hub: LiveHub; responses: http.ServerResponse[]; close: () => Promise<void> };

// Stands in for the console's mounting: ?repo= names what the person may see, ?task= a task page, ?since= its cursor.
async function serve(options: ConstructorParameters<typeof LiveHub>[2] = {}): Promise<Served> {
  const hub = new LiveHub(db.pool, db.url, options);
  await hub.start();
  const responses: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    responses.push(res);
    const task = url.searchParams.get("task");
    void liveStream(hub, db.pool, req, res, {
      visible: url.searchParams.getAll("repo").map((repo) => ({ installationId: 1, repo })),
      taskId: task === null ? null : Number(task),
      since: url.searchParams.get("since"),
      ...(url.searchParams.has("until") ? { until: Number(url.searchParams.get("until")) } : {}),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const served: Served = {
    url: `http://127.0.0.1:${port}/live`,
    hub,
    responses,
    close: async () => {
      await hub.close();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  open.push(served);
  return served;
}

/** A native run of ada's on the task of acme/widgets#7. */
const adaRun = (attempt: number, maxSteps: number) =>
  startRun(db.pool, { taskId, attempt, revisionRound: 0, employeeId: "ada", mode: "native", maxSteps, jobId: null, subject: "acme/widgets#7/t1" });
const audit = (subject: string, action = "task.state_changed", payload: Record<string, unknown> = {}) => ({ actor: "aura", action, subject, payload });

beforeAll(async () => {
  db = await createTestDatabase();
  await db.pool.query("INSERT INTO installations (id, account) VALUES (1, 'acme')");
  taskId = await seedTask("acme/widgets", 7);
  otherTaskId = await seedTask("acme/secret", 8);
});

afterEach(async () => {
  for (const served of open.splice(0)) await served.close();
});

afterAll(async () => {
  await db.drop();
});

describe("the notification (migration 026)", () => {
  it("is one per committed append, carries only the ids, and never comes from a rolled-back one", async () => {
    const listener = new pg.Client({ connectionString: db.url });
    await listener.connect();
    const payloads: string[] = [];
    listener.on("notification", (m) => payloads.push(m.payload ?? ""));
    await listener.query("LISTEN aura_live");

    const client = await db.pool.connect();
    await client.query("BEGIN");
    await appendEvents(client, [audit("acme/widgets#1")]);
    await client.query("ROLLBACK");
    client.release();
    const appended = await appendEvents(db.pool, [audit("acme/widgets#1"), audit("acme/widgets#2"), audit("acme/widgets#3")]);
    const run = await adaRun(1, 10);
    await recordStep(db.pool, run, { kind: "turn", model: "m", observation: "x".repeat(20_000) });
    await until(() => payloads.length >= 2);
    await listener.end();

    expect(payloads.map((p) => JSON.parse(p))).toEqual([
      { k: "a", from: appended[0]?.seq, to: appended[2]?.seq },
      { k: "s", runs: [[run, taskId, 1, 1]] },
    ]);
    expect(payloads.every((p) => p.length < 200)).toBe(true);
  });
});

describe("live streams", () => {
  it("sends a director the audit events and agent steps of their repositories as they commit, and nothing else", async () => {
    const served = await serve();
    const director = new SseClient(`${served.url}?repo=acme/widgets&task=${taskId}`);
    const stranger = new SseClient(`${served.url}?repo=acme/elsewhere`);
    await until(() => served.hub.subscriberCount === 2);

    await appendEvents(db.pool, [audit("acme/secret#8", "task.state_changed")]);
    await appendEvents(db.pool, [
      audit("acme/widgets#7/t1", "task.state_changed"),
      audit(`task:${taskId}`, "task.halted"),
      audit(`task:${otherTaskId}`, "task.halted"),
    ]);
    const run = await adaRun(2, 10);
    await recordStep(db.pool, run, { kind: "tool", tool: "read_file", status: "ok", observation: "hello" });
    await recordStep(db.pool, run, { kind: "tool", tool: "run_command", status: "ok", exitCode: 0 });
    await director.until(() => director.of("step").length === 2, "two steps");

    // (startRun closes the task's run left open by the test above: its task.trajectory record is the task's too.)
    expect(director.of("audit").map((e) => [e.subject, e.action, e.repo])).toEqual([
      ["acme/widgets#7/t1", "task.state_changed", "acme/widgets"],
      [`task:${taskId}`, "task.halted", "acme/widgets"],
      ["acme/widgets#7/t1", "task.trajectory", "acme/widgets"],
    ]);
    expect(director.of("step").map((e) => [e.runId, e.step, e.tool, e.observation])).toEqual([
      [run, 1, "read_file", "hello"],
      [run, 2, "run_command", null],
    ]);
    expect(parseCursor(director.events.at(-1)?.id)).toEqual({ audit: expect.any(Number), run, step: 2 });
    expect(stranger.events).toEqual([]);
    director.close();
    stranger.close();
  });

  it("refuses a task stream for a task outside the person's repositories", async () => {
    const served = await serve();

    const response = await fetch(`${served.url}?repo=acme/widgets&task=${otherTaskId}`);

    expect(response.status).toBe(404);
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await response.text()).toContain("No such task");
    expect(served.hub.subscriberCount).toBe(0);
    const stream = await fetch(`${served.url}?repo=acme/widgets`);
    expect(stream.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    await stream.body?.cancel();
  });

  it("sends every missed step when more than a page of them was missed", async () => {
    const served = await serve();
    const run = await adaRun(3, 600);
    await recordStep(db.pool, run, { kind: "turn" });
    const client = new SseClient(`${served.url}?repo=acme/widgets&task=${taskId}`);
    await until(() => served.hub.subscriberCount === 1);
    const id = (await db.pool.query<{ seq: number }>("SELECT seq FROM audit.head")).rows[0]?.seq;
    client.close();
    await until(() => served.hub.subscriberCount === 0);

    await db.pool.query(
      `WITH n AS (UPDATE work_runs SET steps = steps + 700 WHERE id = $1 RETURNING steps)
       INSERT INTO work_steps (run_id, step, kind) SELECT $1, g, 'tool' FROM n, generate_series(2, 701) g`,
      [run],
    );
    const again = new SseClient(`${served.url}?repo=acme/widgets&task=${taskId}`, { "Last-Event-ID": `${id}_${run}_1` });
    await again.until(() => again.of("step").length === 700, "700 steps");

    expect(again.of("step").map((e) => e.step)).toEqual(Array.from({ length: 700 }, (_, i) => i + 2));
    again.close();
  });

  it("resumes from Last-Event-ID: what was committed while the client was away arrives once, in order", async () => {
    const served = await serve();
    const first = new SseClient(`${served.url}?repo=acme/widgets`);
    await until(() => served.hub.subscriberCount === 1);
    await appendEvents(db.pool, [audit("acme/widgets#7", "seen.before")]);
    await first.until(() => first.events.length === 1, "the first event");
    const lastId = first.events[0]?.id as string;
    first.close();
    await until(() => served.hub.subscriberCount === 0);

    await appendEvents(db.pool, [audit("acme/widgets#7", "missed.one"), audit("acme/secret#8", "missed.hidden")]);
    await appendEvents(db.pool, [audit("acme/widgets#7", "missed.two")]);
    const again = new SseClient(`${served.url}?repo=acme/widgets`, { "Last-Event-ID": lastId });
    await again.until(() => again.events.length === 2, "the missed events");
    await appendEvents(db.pool, [audit("acme/widgets#7", "live.after")]);
    await again.until(() => again.events.length === 3, "the live event");

    expect(again.of("audit").map((e) => e.action)).toEqual(["missed.one", "missed.two", "live.after"]);
    again.close();
  });

  it("tells a client that missed more than the replay limit to reload instead of replaying it all", async () => {
    const served = await serve({ replayLimit: 3 });
    const { rows } = await db.pool.query<{ seq: number }>("SELECT seq FROM audit.head");
    await appendEvents(
      db.pool,
      Array.from({ length: 5 }, (_, i) => audit("acme/widgets#7", `gap.${i}`)),
    );

    const client = new SseClient(`${served.url}?repo=acme/widgets&since=${rows[0]?.seq}_0_0`);
    await client.until(() => client.events.length === 1, "the reset");

    expect(client.events[0]?.event).toBe("reset");
    client.close();
  });

  it("sends a heartbeat comment on its interval", async () => {
    const served = await serve({ heartbeatMs: 20 });
    const client = new SseClient(`${served.url}?repo=acme/widgets`);

    await client.until(() => client.comments.includes("heartbeat"), "a heartbeat");

    expect(client.comments[0]).toBe("connected");
    client.close();
  });

  it("ends a stream when its time is up or its session expires, so the browser reconnects and is checked again", async () => {
    let clock = 1_000_000;
    const served = await serve({ heartbeatMs: 20, maxStreamMs: 60_000, now: () => clock });
    const aged = new SseClient(`${served.url}?repo=acme/widgets`);
    const expiring = new SseClient(`${served.url}?repo=acme/widgets&until=${clock + 10_000}`);
    await aged.until(() => aged.comments.includes("heartbeat"), "a heartbeat");
    await expiring.until(() => expiring.comments.includes("heartbeat"), "a heartbeat");

    clock += 10_000;
    await expiring.until(() => expiring.ended, "the end of the stream at the session's expiry");
    expect(aged.ended).toBe(false);

    clock += 50_000;
    await aged.until(() => aged.ended, "the end of the stream at its age limit");
    expect(served.hub.subscriberCount).toBe(0);
  });

  it("drops a client that never reads its stream once its buffer is full, and frees it", async () => {
    const served = await serve({ maxBufferBytes: 64 * 1024 });
    const { port } = new URL(served.url);
    const socket = net.connect(Number(port), "127.0.0.1");
    socket.pause();
    socket.write(`GET /live?repo=acme/widgets HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
    await until(() => served.hub.subscriberCount === 1);
    const reader = new SseClient(`${served.url}?repo=acme/widgets`);
    await until(() => served.hub.subscriberCount === 2);

    // Until the kernel's socket buffers are full nothing stays in the process; then the limit applies.
    const long = `acme/widgets#7/${"x".repeat(4_000)}`;
    for (let batch = 0; batch < 400 && served.hub.stats.dropped === 0; batch++) {
      await appendEvents(
        db.pool,
        Array.from({ length: 50 }, () => audit(long, "bulk")),
      );
      await reader.until(() => reader.events.length === (batch + 1) * 50, "the reader's events");
    }
    await until(() => served.hub.stats.dropped === 1);

    expect(served.hub.subscriberCount).toBe(1);
    const slow = served.responses[0] as http.ServerResponse;
    expect(slow.destroyed).toBe(true);
    expect(slow.socket?.destroyed ?? true).toBe(true);
    expect(reader.ended).toBe(false);
    socket.destroy();
    reader.close();
  });

  it("starts while the database cannot be reached, and keeps trying", async () => {
    const errors: string[] = [];
    const hub = new LiveHub(db.pool, "postgres://aura@127.0.0.1:1/nowhere", { reconnectMs: 60_000, onError: (message) => errors.push(message) });

    await hub.start();

    expect(hub.stats.connects).toBe(0);
    expect(errors).toEqual(["the live-update listener has no database connection; reconnecting (open streams catch up once it is back)"]);
    await hub.close();
  });

  it("keeps streaming after the database ends the listener's connection, including what was committed meanwhile", async () => {
    const served = await serve({ reconnectMs: 10 });
    const client = new SseClient(`${served.url}?repo=acme/widgets`);
    await until(() => served.hub.subscriberCount === 1);
    const reconnected = served.hub.listening();

    const ended = await asAdmin((admin) =>
      admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'aura-live' AND datname = $1", [
        new URL(db.url).pathname.slice(1),
      ]),
    );
    await appendEvents(db.pool, [audit("acme/widgets#7", "while.away")]);
    await reconnected;
    await appendEvents(db.pool, [audit("acme/widgets#7", "after.reconnect")]);
    await client.until(() => client.events.length === 2, "both events");

    expect(ended.rowCount).toBe(1);
    expect(served.hub.stats.connects).toBe(2);
    expect(client.of("audit").map((e) => e.action)).toEqual(["while.away", "after.reconnect"]);
    client.close();
  });
});
