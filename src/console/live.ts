// Live updates for the Director's console: Server-Sent Events fed by PostgreSQL LISTEN/NOTIFY (migration 026),
// never by polling. One LISTEN connection per process (LiveHub) fans out to every open stream; a notification
// carries only ids, and the hub reads the rows once per distinct cursor and sends each stream what its person
// may see. Every event id carries both cursors (`<audit seq>_<run id>_<step>`), so a reconnect with
// Last-Event-ID resumes from the database. A stream whose client stops reading is dropped once its buffer
// passes a limit; a heartbeat comment keeps proxies from closing idle streams; the listener reconnects after
// the database goes away and then catches every stream up from its cursor.
import type { IncomingMessage, ServerResponse } from "node:http";
import pg from "pg";
import { z } from "zod";
import { isVisible, type Visibility } from "./visible.js";

export const LIVE_CHANNEL = "aura_live";

export type LiveOptions = {
  /** A heartbeat comment every this many ms (default 15,000). */
  heartbeatMs?: number;
  /** A stream whose unsent bytes pass this is dropped (default 1 MiB). */
  maxBufferBytes?: number;
  /** At most this many missed audit events are replayed; past it the client is told to reload (default 1,000). */
  replayLimit?: number;
  /** First wait before reconnecting the listener, doubled up to 5 s (default 250 ms). */
  reconnectMs?: number;
  /**
   * A stream is ended after this long (default 5 minutes), or when its session expires if sooner; the browser
   * reconnects with Last-Event-ID, and that new request checks the session and the person's repositories again,
   * so a person who lost a director's rights stops receiving events within this time.
   */
  maxStreamMs?: number;
  /** The clock the stream ages are read from (tests inject one). */
  now?: () => number;
  onError?: (message: string, error: unknown) => void;
};

export type Cursor = { audit: number; run: number; step: number };

export type AuditItem = { seq: number; ts: string; actor: string; action: string; subject: string; repo: string | null; taskId: number | null };
export type StepItem = {
  taskId: number;
  runId: number;
  step: number;
  kind: string;
  tool: string | null;
  arguments: string | null;
  status: string | null;
  model: string | null;
  inputTokens: number | null;
  outputTokens: number | null;
  costUsd: string | null;
  exitCode: number | null;
  durationMs: number | null;
  observation: string | null;
  recordedAt: string;
};

type Subscriber = {
  res: ServerResponse;
  repos: ReadonlySet<string>;
  taskId: number | null;
  cursor: Cursor;
  closed: boolean;
  /** When the stream is ended so that the browser reconnects and is checked again (ms since the epoch). */
  closeAt: number;
};

const Notification = z.union([
  z.object({ k: z.literal("a"), from: z.number().int(), to: z.number().int() }),
  z.object({ k: z.literal("s"), runs: z.array(z.tuple([z.number().int(), z.number().int(), z.number().int(), z.number().int()])) }),
]);

const OBSERVATION_CHARS = 2_000;
const STEP_PAGE = 500;

// The repository of an audit event: "owner/repo#…" subjects name it; "task:N" subjects and payloads with a
// taskId reach it through the task; otherwise a payload's "repo". Events with none (installation-wide HR,
// settings) belong to no repository and are not streamed: the audit page shows them to those who may see them.
const AUDIT_ROWS = `
  SELECT e.seq, to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS ts, e.actor, e.action, e.subject,
         coalesce(substring(e.subject from '^([^/#\\s]+/[^/#\\s]+)#'), r.repo, e.payload ->> 'repo') AS repo, t.id AS task_id
  FROM audit.events e
  LEFT JOIN tasks t ON t.id = coalesce(substring(e.subject from '^task:(\\d{1,18})$'),
                                       substring(e.payload ->> 'taskId' from '^\\d{1,18}$'))::bigint
  LEFT JOIN requirements r ON r.id = t.requirement_id
  WHERE e.seq > $1 AND e.seq <= $2
  ORDER BY e.seq`;

const STEP_ROWS = `
  SELECT w.task_id, s.run_id, s.step, s.kind, s.tool, left(s.arguments, ${OBSERVATION_CHARS}) AS arguments, s.status, s.model, s.input_tokens, s.output_tokens, s.cost_usd::text AS cost_usd,
         s.exit_code, s.duration_ms, left(s.observation, ${OBSERVATION_CHARS}) AS observation,
         to_char(s.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS recorded_at
  FROM work_steps s JOIN work_runs w ON w.id = s.run_id
  WHERE w.task_id = $1 AND (s.run_id, s.step) > ($2::bigint, $3::integer)
  ORDER BY s.run_id, s.step
  LIMIT ${STEP_PAGE}`;

/** Parses an event id or a `since` value (`<seq>_<run>_<step>`); anything else is no cursor. */
export function parseCursor(value: string | undefined | null): Cursor | null {
  const match = /^(\d{1,15})_(\d{1,15})_(\d{1,9})$/.exec(value ?? "");
  if (!match) return null;
  return { audit: Number(match[1]), run: Number(match[2]), step: Number(match[3]) };
}

export function formatCursor(cursor: Cursor): string {
  return `${cursor.audit}_${cursor.run}_${cursor.step}`;
}

/** The cursor of "now" for a page being rendered: the audit head, and the task's last recorded step. */
export async function currentCursor(pool: pg.Pool, taskId: number | null): Promise<Cursor> {
  const { rows } = await pool.query<{ seq: number; run: number | null; step: number | null }>(
    `SELECT (SELECT seq FROM audit.head WHERE id = 1) AS seq, last.run_id AS run, last.step AS step
     FROM (SELECT 1) one LEFT JOIN LATERAL (
       SELECT s.run_id, s.step FROM work_steps s JOIN work_runs w ON w.id = s.run_id
       WHERE w.task_id = $1 ORDER BY s.run_id DESC, s.step DESC LIMIT 1) last ON true`,
    [taskId ?? -1],
  );
  const row = rows[0];
  return { audit: Number(row?.seq ?? 0), run: Number(row?.run ?? 0), step: Number(row?.step ?? 0) };
}

export class LiveHub {
  readonly #pool: pg.Pool;
  readonly #databaseUrl: string;
  readonly #heartbeatMs: number;
  readonly #maxBuffer: number;
  readonly #replayLimit: number;
  readonly #reconnectMs: number;
  readonly #maxStreamMs: number;
  readonly #now: () => number;
  readonly #onError: (message: string, error: unknown) => void;
  readonly #subscribers = new Set<Subscriber>();
  #listener: pg.Client | null = null;
  #heartbeat: NodeJS.Timeout | null = null;
  #reconnectTimer: NodeJS.Timeout | null = null;
  #backoff: number;
  #closed = false;
  // Deliveries run one after another, so events reach every stream in commit order.
  #queue: Promise<void> = Promise.resolve();
  #connected: Array<() => void> = [];
  /** Counts of what happened, for tests and the benchmark. */
  readonly stats = { connects: 0, dropped: 0, notifications: 0 };

  constructor(pool: pg.Pool, databaseUrl: string, options: LiveOptions = {}) {
    this.#pool = pool;
    this.#databaseUrl = databaseUrl;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#maxBuffer = options.maxBufferBytes ?? 1024 * 1024;
    this.#replayLimit = options.replayLimit ?? 1_000;
    this.#reconnectMs = options.reconnectMs ?? 250;
    this.#backoff = this.#reconnectMs;
    this.#maxStreamMs = options.maxStreamMs ?? 300_000;
    this.#now = options.now ?? Date.now;
    this.#onError = options.onError ?? (() => undefined);
  }

  /**
   * Opens the LISTEN connection; resolves once it listens, or after a first failed attempt (the hub keeps
   * retrying, and streams catch up when it connects), so a database that is down does not hold up a start.
   */
  async start(): Promise<void> {
    const listening = this.listening();
    this.#heartbeat = setInterval(() => this.#beat(), this.#heartbeatMs);
    this.#heartbeat.unref();
    await this.#connect();
    if (this.#listener) await listening;
  }

  /** Resolves the next time the listener is (re)connected and listening. */
  listening(): Promise<void> {
    return new Promise((resolve) => this.#connected.push(resolve));
  }

  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    for (const sub of this.#subscribers) this.#drop(sub, false);
    const listener = this.#listener;
    this.#listener = null;
    await listener?.end().catch(() => undefined);
    await this.#queue;
  }

  /** Adds a stream; its first delivery catches it up from `cursor` (a Last-Event-ID or a page's `since`). */
  subscribe(res: ServerResponse, input: { repos: ReadonlySet<string>; taskId: number | null; cursor: Cursor; until?: number }): void {
    const closeAt = Math.min(this.#now() + this.#maxStreamMs, input.until ?? Number.POSITIVE_INFINITY);
    const repos = new Set([...input.repos].map((r) => r.toLowerCase()));
    const sub: Subscriber = { res, repos, taskId: input.taskId, cursor: input.cursor, closed: false, closeAt };
    this.#subscribers.add(sub);
    res.on("close", () => this.#drop(sub, false));
    this.#enqueue(async () => {
      await this.#deliverAudit([sub], await this.#head());
      if (sub.taskId !== null) await this.#deliverSteps([sub]);
    });
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client({ connectionString: this.#databaseUrl, application_name: "aura-live", keepAlive: true });
    let failed = false;
    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      if (this.#listener === client) this.#listener = null;
      client.end().catch(() => undefined);
      if (this.#closed) return;
      this.#onError("the live-update listener has no database connection; reconnecting (open streams catch up once it is back)", error);
      this.#reconnectTimer = setTimeout(() => void this.#connect(), this.#backoff);
      this.#backoff = Math.min(this.#backoff * 2, 5_000);
    };
    client.on("error", fail);
    client.on("end", () => fail(new Error("connection ended")));
    client.on("notification", (message) => {
      if (message.channel === LIVE_CHANNEL) this.#onNotification(message.payload ?? "");
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${LIVE_CHANNEL}`);
    } catch (error) {
      fail(error);
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#listener = client;
    this.#backoff = this.#reconnectMs;
    this.stats.connects += 1;
    // Whatever was committed while nobody listened: every stream catches up from its own cursor.
    this.#enqueue(async () => {
      const subs = [...this.#subscribers];
      await this.#deliverAudit(subs, await this.#head());
      await this.#deliverSteps(subs.filter((s) => s.taskId !== null));
    });
    const waiting = this.#connected;
    this.#connected = [];
    this.#enqueue(async () => waiting.forEach((resolve) => resolve()));
  }

  #onNotification(payload: string): void {
    this.stats.notifications += 1;
    let parsed: z.infer<typeof Notification>;
    try {
      parsed = Notification.parse(JSON.parse(payload));
    } catch (error) {
      this.#onError("a live-update notification was not understood and is ignored", error);
      return;
    }
    if (parsed.k === "a") {
      this.#enqueue(() => this.#deliverAudit([...this.#subscribers], parsed.to));
    } else {
      const tasks = new Set(parsed.runs.map((run) => run[1]));
      this.#enqueue(() => this.#deliverSteps([...this.#subscribers].filter((s) => s.taskId !== null && tasks.has(s.taskId))));
    }
  }

  #enqueue(work: () => Promise<void>): void {
    this.#queue = this.#queue.then(work).catch((error: unknown) => this.#onError("a live update could not be delivered", error));
  }

  async #head(): Promise<number> {
    const { rows } = await this.#pool.query<{ seq: number }>("SELECT seq FROM audit.head WHERE id = 1");
    return Number(rows[0]?.seq ?? 0);
  }

  // Streams that share a cursor (nearly all of them, once live) share one read.
  async #deliverAudit(subs: Subscriber[], to: number): Promise<void> {
    const byCursor = new Map<number, Subscriber[]>();
    for (const sub of subs) {
      if (sub.closed || sub.cursor.audit >= to) continue;
      byCursor.set(sub.cursor.audit, [...(byCursor.get(sub.cursor.audit) ?? []), sub]);
    }
    for (const [from, group] of byCursor) {
      if (to - from > this.#replayLimit) {
        for (const sub of group) {
          if (!this.#admit(sub)) continue;
          sub.cursor = { ...sub.cursor, audit: to };
          this.#send(sub, "reset", { reason: `more than ${this.#replayLimit} audit events were missed; reload the page` });
        }
        continue;
      }
      const { rows } = await this.#pool.query<{
        seq: number;
        ts: string;
        actor: string;
        action: string;
        subject: string;
        repo: string | null;
        task_id: number | null;
      }>(AUDIT_ROWS, [from, to]);
      const items: AuditItem[] = rows.map((r) => ({
        seq: Number(r.seq),
        ts: r.ts,
        actor: r.actor,
        action: r.action,
        subject: r.subject,
        repo: r.repo,
        taskId: r.task_id === null ? null : Number(r.task_id),
      }));
      for (const sub of group) {
        if (!this.#admit(sub)) continue;
        for (const item of items) {
          sub.cursor = { ...sub.cursor, audit: item.seq };
          if (item.repo !== null && sub.repos.has(item.repo.toLowerCase())) this.#send(sub, "audit", item);
        }
        sub.cursor = { ...sub.cursor, audit: Math.max(sub.cursor.audit, to) };
      }
    }
  }

  async #deliverSteps(subs: Subscriber[]): Promise<void> {
    const groups = new Map<string, Subscriber[]>();
    for (const sub of subs) {
      if (sub.closed || sub.taskId === null) continue;
      const key = `${sub.taskId}:${sub.cursor.run}:${sub.cursor.step}`;
      groups.set(key, [...(groups.get(key) ?? []), sub]);
    }
    for (const group of groups.values()) {
      const first = group[0] as Subscriber;
      const { rows } = await this.#pool.query(STEP_ROWS, [first.taskId, first.cursor.run, first.cursor.step]);
      const items = rows.map(toStepItem);
      for (const sub of group) {
        if (!this.#admit(sub)) continue;
        for (const item of items) {
          sub.cursor = { ...sub.cursor, run: item.runId, step: item.step };
          this.#send(sub, "step", item);
        }
      }
      // More than a page was missed: the rest after everything already waiting, so one stream cannot hold up others.
      if (items.length === STEP_PAGE) this.#enqueue(() => this.#deliverSteps(group));
    }
  }

  #send(sub: Subscriber, event: string, data: unknown): void {
    this.#write(sub, `id: ${formatCursor(sub.cursor)}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  #write(sub: Subscriber, text: string): void {
    if (!sub.closed) sub.res.write(text);
  }

  // A client that does not read leaves its bytes here once the socket's buffers are full. The check comes before
  // each delivery (a burst of one read's rows, which Node corks into one write), so a burst may pass the limit
  // once but a backlog never grows: the stream is dropped and its buffer freed.
  #admit(sub: Subscriber): boolean {
    if (sub.closed) return false;
    if (sub.res.writableLength <= this.#maxBuffer) return true;
    this.#drop(sub, true);
    return false;
  }

  /** A heartbeat to every stream, and the end of every stream whose time is up (its browser reconnects). */
  #beat(): void {
    const now = this.#now();
    for (const sub of this.#subscribers) {
      if (now >= sub.closeAt) this.#drop(sub, false);
      else if (this.#admit(sub)) this.#write(sub, ": heartbeat\n\n");
    }
  }

  #drop(sub: Subscriber, slow: boolean): void {
    if (sub.closed) return;
    sub.closed = true;
    this.#subscribers.delete(sub);
    if (slow) {
      this.stats.dropped += 1;
      // destroy() discards the unsent buffer at once; end() would keep it until the client read it.
      sub.res.destroy();
    } else if (!sub.res.writableEnded) {
      sub.res.end();
    }
  }
}

function toStepItem(r: Record<string, unknown>): StepItem {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  const str = (v: unknown) => (v === null || v === undefined ? null : String(v));
  return {
    taskId: Number(r.task_id),
    runId: Number(r.run_id),
    step: Number(r.step),
    kind: String(r.kind),
    tool: str(r.tool),
    arguments: str(r.arguments),
    status: str(r.status),
    model: str(r.model),
    inputTokens: num(r.input_tokens),
    outputTokens: num(r.output_tokens),
    costUsd: str(r.cost_usd),
    exitCode: num(r.exit_code),
    durationMs: num(r.duration_ms),
    observation: str(r.observation),
    recordedAt: String(r.recorded_at),
  };
}

export type LiveStreamInput = {
  /**
   * The repositories the signed-in person directs (access.ts): only their events are sent. Audit subjects name a
   * repository, not its installation, so the match is by repository name.
   */
  visible: Visibility;
  /** A task page's stream also carries the task's agent steps. The caller has checked the person may see it. */
  taskId?: number | null;
  /** The cursor the page was rendered at (formatCursor(currentCursor(...))), used when no Last-Event-ID is sent. */
  since?: string | null;
  /** When the person's session expires (ms since the epoch): the stream ends then at the latest. */
  until?: number;
};

/**
 * Answers one SSE request: headers, then events from the hub until the client goes away. Last-Event-ID (sent by
 * the browser when it reconnects) wins over `since`; with neither, the stream starts at the present.
 */
// The console checks the task before it mounts the stream; checked again here, so an id from another
// installation or repository never opens a stream of its steps whoever mounts this.
async function taskVisible(pool: pg.Pool, visible: Visibility, taskId: number): Promise<boolean> {
  const { rows } = await pool.query<{ installation_id: number; repo: string }>(
    "SELECT r.installation_id, r.repo FROM tasks t JOIN requirements r ON r.id = t.requirement_id WHERE t.id = $1",
    [taskId],
  );
  const row = rows[0];
  return row !== undefined && isVisible(visible, Number(row.installation_id), row.repo);
}

// An event stream is never rendered as a page, but it gets the console's guards all the same.
const STREAM_SAFETY_HEADERS = {
  "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
} as const;

export async function liveStream(hub: LiveHub, pool: pg.Pool, req: IncomingMessage, res: ServerResponse, input: LiveStreamInput): Promise<void> {
  const taskId = input.taskId ?? null;
  if (taskId !== null && !(await taskVisible(pool, input.visible, taskId))) {
    res.writeHead(404, { "Content-Type": "text/plain; charset=utf-8", ...STREAM_SAFETY_HEADERS }).end("No such task among the repositories you direct.\n");
    return;
  }
  const header = req.headers["last-event-id"];
  const cursor = parseCursor(Array.isArray(header) ? header[0] : header) ?? parseCursor(input.since) ?? (await currentCursor(pool, taskId));
  res.writeHead(200, {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache, no-transform",
    Connection: "keep-alive",
    "X-Accel-Buffering": "no",
    ...STREAM_SAFETY_HEADERS,
  });
  res.write(`retry: 2000\n: connected\n\n`);
  hub.subscribe(res, {
    repos: new Set(input.visible.map((entry) => entry.repo)),
    taskId,
    cursor,
    ...(input.until !== undefined ? { until: input.until } : {}),
  });
}
