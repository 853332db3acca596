// Appends to the Audit Core. Every append goes through the database function audit.append_events, which
// serialises writers on the chain head row. Appends made close together in one process are committed as
// one batch (group commit), so many concurrent producers cost one lock and one round trip per batch.
import type pg from "pg";
import { countAuditAppends } from "../observability/metrics.js";
import { prepareEvent, type AuditEvent, type PreparedEvent } from "./canonical.js";

export type AppendedEvent = { seq: number; hash: string };

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

/** Appends events using `db`, which may be a client inside the caller's own transaction. */
export async function appendEvents(db: Queryable, events: readonly AuditEvent[]): Promise<AppendedEvent[]> {
  if (events.length === 0) return [];
  return appendPrepared(db, events.map(prepareEvent));
}

async function appendPrepared(db: Queryable, events: PreparedEvent[]): Promise<AppendedEvent[]> {
  const result = await db.query<{ seq: string; hash: Buffer }>("SELECT seq, hash FROM audit.append_events($1::text[], $2::text[], $3::text[], $4::text[])", [
    events.map((e) => e.actor),
    events.map((e) => e.action),
    events.map((e) => e.subject),
    events.map((e) => e.payload),
  ]);
  if (result.rows.length !== events.length) throw new Error("audit append returned a different number of rows than events");
  countAuditAppends(events.length);
  return result.rows.map((row) => ({ seq: Number(row.seq), hash: row.hash.toString("hex") }));
}

type Pending = { event: PreparedEvent; resolve: (event: AppendedEvent) => void; reject: (error: unknown) => void };

/** The audit log of one process: `append` and `appendBatch` with group commit over a pool. */
export class AuditLog {
  #pending: Pending[] = [];
  #flushing = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly maxBatch = 1000,
  ) {}

  /** Appends one event; resolves once it is committed. */
  append(event: AuditEvent): Promise<AppendedEvent> {
    const prepared = prepareEvent(event);
    return new Promise((resolve, reject) => {
      this.#pending.push({ event: prepared, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  /** Appends many events in order; resolves once all are committed. */
  appendBatch(events: readonly AuditEvent[]): Promise<AppendedEvent[]> {
    return Promise.all(events.map((event) => this.append(event)));
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#pending.length > 0) {
        const batch = this.#pending.splice(0, this.maxBatch);
        try {
          const appended = await appendPrepared(
            this.pool,
            batch.map((p) => p.event),
          );
          batch.forEach((p, i) => p.resolve(appended[i] as AppendedEvent));
        } catch (error) {
          for (const p of batch) p.reject(error);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}
