// Verifies the Audit Core: streams every event after the newest retention checkpoint with COPY, recomputes
// the hash chain, checks that the stored columns match the canonical text, that no sequence number is
// missing, that the chain ends at the head row, and that every recorded anchor matches the chain.
import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { GENESIS_HASH } from "./canonical.js";

export type VerifyProblem = { seq: number; reason: string };

export type VerifyResult = {
  ok: boolean;
  /** Events checked (after the newest checkpoint). */
  count: number;
  /** The last sequence number and hash of the chain as recomputed. */
  headSeq: number;
  headHash: string;
  /** Where verification started: after this checkpoint's last seq, or 0. */
  startedAfterSeq: number;
  anchorsChecked: number;
  firstBad?: VerifyProblem;
};

export type Anchor = { seq: number; hash: string; location: string };

const NEWLINE = 0x0a;
const TAB = 0x09;
const BACKSLASH = 0x5c;

/** Undoes COPY text-format escaping (only backslash escapes can occur in canonical JSON). */
function unescapeCopy(field: Buffer): Buffer {
  if (!field.includes(BACKSLASH)) return field;
  return Buffer.from(
    field.toString("utf8").replace(/\\(.)/g, (_m, c: string) => ({ n: "\n", t: "\t", r: "\r", b: "\b", f: "\f", v: "\v" })[c] ?? c),
    "utf8",
  );
}

class ChainChecker extends Transform {
  expectedSeq: number;
  prev: Buffer;
  count = 0;
  firstBad: VerifyProblem | undefined;
  #rest: Buffer | undefined;
  readonly #anchors: Map<number, Anchor[]>;
  anchorsChecked = 0;

  constructor(startSeq: number, startHash: Buffer, anchors: Anchor[]) {
    super({ readableObjectMode: true });
    this.expectedSeq = startSeq + 1;
    this.prev = startHash;
    this.#anchors = new Map();
    for (const anchor of anchors) {
      const list = this.#anchors.get(anchor.seq) ?? [];
      list.push(anchor);
      this.#anchors.set(anchor.seq, list);
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.firstBad) return done();
    const data = this.#rest ? Buffer.concat([this.#rest, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const end = data.indexOf(NEWLINE, start);
      if (end === -1) break;
      this.#row(data.subarray(start, end));
      start = end + 1;
      if (this.firstBad) return done();
    }
    this.#rest = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
    done();
  }

  #fail(seq: number, reason: string): void {
    this.firstBad ??= { seq, reason };
  }

  #row(line: Buffer): void {
    const t1 = line.indexOf(TAB);
    const t2 = line.indexOf(TAB, t1 + 1);
    const t3 = line.indexOf(TAB, t2 + 1);
    const t4 = line.lastIndexOf(TAB);
    const seq = Number(line.toString("latin1", 0, t1));
    if (seq !== this.expectedSeq) {
      this.#fail(this.expectedSeq, `event ${this.expectedSeq} is missing (next stored event is ${seq})`);
      return;
    }
    const prevHex = line.toString("latin1", t1 + 1, t2);
    const hashHex = line.toString("latin1", t2 + 1, t3);
    const canonical = unescapeCopy(line.subarray(t3 + 1, t4));
    const columnsMatch = line[t4 + 1] === 0x74; // 't'
    if (prevHex !== this.prev.toString("hex")) {
      this.#fail(seq, "previous hash does not link to the event before it");
      return;
    }
    const hash = createHash("sha256").update(this.prev).update(canonical).digest();
    if (hash.toString("hex") !== hashHex) {
      this.#fail(seq, "stored hash does not match sha256(prev_hash || canonical)");
      return;
    }
    if (!columnsMatch) {
      this.#fail(seq, "stored columns differ from the canonical text");
      return;
    }
    const anchors = this.#anchors.get(seq);
    if (anchors) {
      for (const anchor of anchors) {
        this.anchorsChecked += 1;
        if (anchor.hash !== hashHex) this.#fail(seq, `anchor in ${anchor.location} records a different hash`);
      }
    }
    this.prev = hash;
    this.expectedSeq = seq + 1;
    this.count += 1;
  }

  override _flush(done: TransformCallback): void {
    if (this.#rest && this.#rest.length > 0 && !this.firstBad) this.#row(this.#rest);
    done();
  }
}

/** Verifies the chain. `externalAnchors` are head hashes recorded outside the database. */
export async function verifyAudit(pool: pg.Pool, externalAnchors: Anchor[] = []): Promise<VerifyResult> {
  const client = await pool.connect();
  try {
    const checkpoint = (
      await client.query<{ last_seq: string; last_hash: Buffer }>(
        "SELECT last_seq, last_hash FROM audit.checkpoints ORDER BY last_seq DESC LIMIT 1",
      )
    ).rows[0];
    const startSeq = checkpoint ? Number(checkpoint.last_seq) : 0;
    const startHash = checkpoint ? checkpoint.last_hash : GENESIS_HASH;
    const stored = (
      await client.query<{ seq: string; hash: Buffer; location: string }>("SELECT seq, hash, location FROM audit.anchors")
    ).rows.map((row) => ({ seq: Number(row.seq), hash: row.hash.toString("hex"), location: row.location }));
    const anchors = [...stored, ...externalAnchors].filter((anchor) => anchor.seq > startSeq);
    const head = (await client.query<{ seq: string; hash: Buffer }>("SELECT seq, hash FROM audit.head WHERE id = 1"))
      .rows[0];

    const checker = new ChainChecker(startSeq, startHash, anchors);
    const copy = client.query(
      copyTo(`COPY (
        SELECT e.seq, encode(e.prev_hash, 'hex'), encode(e.hash, 'hex'), e.canonical,
          CASE WHEN (j->>'seq')::bigint = e.seq AND (j->>'ts')::timestamptz = e.ts
                AND j->'event'->>'actor' = e.actor AND j->'event'->>'action' = e.action
                AND j->'event'->>'subject' = e.subject AND j->'event'->'payload' = e.payload
               THEN 't' ELSE 'f' END
        FROM audit.events e CROSS JOIN LATERAL (SELECT e.canonical::jsonb AS j) c
        WHERE e.seq > ${startSeq} ORDER BY e.seq) TO STDOUT`),
    );
    await pipeline(copy, checker);

    const result: VerifyResult = {
      ok: true,
      count: checker.count,
      headSeq: checker.expectedSeq - 1,
      headHash: checker.prev.toString("hex"),
      startedAfterSeq: startSeq,
      anchorsChecked: checker.anchorsChecked,
    };
    let firstBad = checker.firstBad;
    if (!firstBad && head) {
      const headSeq = Number(head.seq);
      if (headSeq > result.headSeq) {
        firstBad = { seq: result.headSeq + 1, reason: `event ${result.headSeq + 1} is missing (head is at ${headSeq})` };
      } else if (headSeq === result.headSeq && head.hash.toString("hex") !== result.headHash && headSeq > startSeq) {
        firstBad = { seq: headSeq, reason: "chain head row records a different hash" };
      }
    }
    if (!firstBad) {
      const unreached = anchors.find((anchor) => anchor.seq > result.headSeq);
      if (unreached) firstBad = { seq: unreached.seq, reason: `anchor in ${unreached.location} names an event that is missing` };
    }
    if (firstBad) return { ...result, ok: false, firstBad };
    return result;
  } finally {
    client.release();
  }
}
