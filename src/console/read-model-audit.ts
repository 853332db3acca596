// The read model's audit part: audit events a reader may see, filtered and paged by sequence number, and the
// chain's verification status. An event is visible when its subject names a visible repository
// (`owner/repo`, `owner/repo#12`, `owner/repo#12/key`, `owner/repo@sha`, `owner/repo/task:3`), a visible
// repository's task (`task:3`), or an installation the reader directs a repository of (`installation:5`,
// `installation:5/employee:x`: halts, HR changes). Events with any other subject are shown to nobody here.
import type pg from "pg";
import { verifyAudit, type VerifyResult } from "../audit/verify.js";
import { MAX_PAGE } from "./read-model.js";
import { visibilityParams, type Visibility } from "./visible.js";

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

export type AuditEvent = { seq: number; ts: Date; actor: string; action: string; subject: string; payload: unknown; hash: string };

export type AuditFilter = {
  /** Exactly this subject (one subject's chain of events). */
  subject?: string;
  action?: string;
  /** Events at or after / before this time. */
  since?: Date;
  until?: Date;
  /** Newest first, below this seq (the next page of a listing). */
  beforeSeq?: number;
  /** Oldest first, above this seq (following the log forward); wins over beforeSeq. */
  afterSeq?: number;
  limit?: number;
};

export type AuditPage = {
  events: AuditEvent[];
  /** The seq to pass as beforeSeq (newest first) or afterSeq (oldest first) for the next page; null at the end. */
  next: number | null;
};

// The subject's repository part, its installation and its task, as SQL over `e.subject`.
const SUBJECT_REPO = "lower(substring(e.subject from '^[^/#@:]+/[^/#@:]+'))";
const SUBJECT_INSTALLATION = "substring(e.subject from '^installation:([0-9]{1,18})(?:/|$)')::bigint";
const SUBJECT_TASK = "substring(e.subject from '^task:([0-9]{1,18})$')::bigint";

const VISIBLE_EVENT = `(${SUBJECT_REPO} IN (SELECT repo FROM vis)
    OR ${SUBJECT_INSTALLATION} IN (SELECT installation_id FROM vis)
    OR ${SUBJECT_TASK} IN (SELECT t.id FROM tasks t JOIN requirements r ON r.id = t.requirement_id
                            WHERE (r.installation_id, lower(r.repo)) IN (SELECT installation_id, repo FROM vis)))`;

/** The visible audit events matching `filter`, newest first (or oldest first with `afterSeq`). */
export async function listAuditEvents(db: Queryable, visible: Visibility, filter: AuditFilter = {}): Promise<AuditPage> {
  if (visible.length === 0) return { events: [], next: null };
  const limit = Math.max(1, Math.min(MAX_PAGE, Math.floor(filter.limit ?? 100)));
  const forward = filter.afterSeq !== undefined;
  const { rows } = await db.query<{ seq: string; ts: Date; actor: string; action: string; subject: string; payload: unknown; hash: string }>(
    `WITH vis AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS v(installation_id, repo))
     SELECT e.seq, e.ts, e.actor, e.action, e.subject, e.payload, encode(e.hash, 'hex') AS hash FROM audit.events e
      WHERE ${VISIBLE_EVENT}
        AND ($3::text IS NULL OR e.subject = $3) AND ($4::text IS NULL OR e.action = $4)
        AND ($5::timestamptz IS NULL OR e.ts >= $5) AND ($6::timestamptz IS NULL OR e.ts < $6)
        AND ${forward ? "e.seq > $7" : "($7::bigint IS NULL OR e.seq < $7)"}
      ORDER BY e.seq ${forward ? "ASC" : "DESC"} LIMIT $8`,
    [
      ...visibilityParams(visible),
      filter.subject ?? null,
      filter.action ?? null,
      filter.since ?? null,
      filter.until ?? null,
      forward ? filter.afterSeq : (filter.beforeSeq ?? null),
      limit + 1,
    ],
  );
  const events = rows.slice(0, limit).map((row) => ({ ...row, seq: Number(row.seq) }));
  return { events, next: rows.length > limit ? (events.at(-1)?.seq ?? null) : null };
}

export type AuditStatus = Omit<VerifyResult, "firstBad"> & { firstBad: { seq: number; reason: string } | null; checkedAt: Date };

/**
 * Verifies the whole chain (Audit Core's verify, hashes recomputed by the database) and says whether it is
 * intact. The chain is one for every installation, so its status is the same for every reader; a reader who
 * sees no repository gets undefined.
 */
export async function auditStatus(pool: pg.Pool, visible: Visibility, now: () => Date = () => new Date()): Promise<AuditStatus | undefined> {
  if (visible.length === 0) return undefined;
  const result = await verifyAudit(pool);
  return { ...result, firstBad: result.firstBad ? { seq: result.firstBad.seq, reason: result.firstBad.reason } : null, checkedAt: now() };
}
