// Verifies the Audit Core: streams every event after the newest retention checkpoint with COPY, recomputes
// the hash chain, checks that the seq and ts columns match the canonical text (the other columns are
// generated from it), that no sequence number is missing, that the chain ends at the head row, and that
// every recorded anchor matches the chain.
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
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

/** Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01), for binary timestamps. */
const PG_EPOCH_MICROS = 946_684_800_000_000n;
const COPY_SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");

/** ISO text of a binary timestamp; events of one batch share their timestamp, so the last one is kept. */
let lastMicros = -1n;
let lastIso = "";
function isoOf(tsMicros: bigint): string {
  if (tsMicros !== lastMicros) {
    lastMicros = tsMicros;
    lastIso = new Date(Number((tsMicros + PG_EPOCH_MICROS) / 1000n)).toISOString();
  }
  return lastIso;
}

/** The end of every canonical text, `},"seq":N,"ts":"ISO"}`, rebuilt from the seq and ts columns. */
function canonicalTail(seq: bigint, tsMicros: bigint): string {
  return `},"seq":${seq},"ts":"${isoOf(tsMicros)}"}`;
}

/**
 * Consumes `COPY (SELECT seq, ts, prev_hash, hash, canonical …) TO STDOUT (FORMAT binary)`: raw bytes, no
 * escaping, so each row costs one SHA-256 and a few buffer comparisons.
 */
class ChainChecker extends Writable {
  expectedSeq: bigint;
  prev: Buffer;
  count = 0;
  firstBad: VerifyProblem | undefined;
  anchorsChecked = 0;
  #buffer: Buffer = Buffer.alloc(0);
  #headerDone = false;
  readonly #anchors: Map<bigint, Anchor[]>;

  constructor(startSeq: number, startHash: Buffer, anchors: Anchor[]) {
    super();
    this.expectedSeq = BigInt(startSeq) + 1n;
    this.prev = startHash;
    this.#anchors = new Map();
    for (const anchor of anchors) {
      const key = BigInt(anchor.seq);
      this.#anchors.set(key, [...(this.#anchors.get(key) ?? []), anchor]);
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.firstBad) return done();
    const data = this.#buffer.length > 0 ? Buffer.concat([this.#buffer, chunk]) : chunk;
    let offset = 0;
    if (!this.#headerDone) {
      if (data.length < 19) {
        this.#buffer = data;
        return done();
      }
      if (!data.subarray(0, 11).equals(COPY_SIGNATURE)) return done(new Error("unexpected COPY stream format"));
      offset = 19 + data.readUInt32BE(15);
      this.#headerDone = true;
    }
    while (offset + 2 <= data.length) {
      const fields = data.readInt16BE(offset);
      if (fields === -1) {
        offset = data.length;
        break;
      }
      // seq(8) ts(8) prev(32) hash(32): four length words plus fixed sizes before the canonical text.
      const fixed = 2 + 4 + 8 + 4 + 8 + 4 + 32 + 4 + 32 + 4;
      if (offset + fixed > data.length) break;
      const canonicalLength = data.readInt32BE(offset + fixed - 4);
      const end = offset + fixed + canonicalLength;
      if (end > data.length) break;
      this.#row(
        data.readBigInt64BE(offset + 6),
        data.readBigInt64BE(offset + 18),
        data.subarray(offset + 30, offset + 62),
        data.subarray(offset + 66, offset + 98),
        data.subarray(offset + fixed, end),
      );
      offset = end;
      if (this.firstBad) break;
    }
    this.#buffer = offset < data.length ? Buffer.from(data.subarray(offset)) : Buffer.alloc(0);
    done();
  }

  #fail(seq: bigint, reason: string): void {
    this.firstBad ??= { seq: Number(seq), reason };
  }

  #row(seq: bigint, tsMicros: bigint, prevHash: Buffer, storedHash: Buffer, canonical: Buffer): void {
    if (seq !== this.expectedSeq) {
      this.#fail(this.expectedSeq, `event ${this.expectedSeq} is missing (next stored event is ${seq})`);
      return;
    }
    if (!prevHash.equals(this.prev)) {
      this.#fail(seq, "previous hash does not link to the event before it");
      return;
    }
    const hash = createHash("sha256").update(this.prev).update(canonical).digest();
    if (!hash.equals(storedHash)) {
      this.#fail(seq, "stored hash does not match sha256(prev_hash || canonical)");
      return;
    }
    const tail = canonicalTail(seq, tsMicros);
    if (canonical.toString("latin1", canonical.length - tail.length) !== tail) {
      this.#fail(seq, "stored columns differ from the canonical text");
      return;
    }
    const anchors = this.#anchors.get(seq);
    if (anchors) {
      const hex = hash.toString("hex");
      for (const anchor of anchors) {
        this.anchorsChecked += 1;
        if (anchor.hash !== hex) this.#fail(seq, `anchor in ${anchor.location} records a different hash`);
      }
    }
    this.prev = hash;
    this.expectedSeq = seq + 1n;
    this.count += 1;
  }
}

/** Verifies the chain. `externalAnchors` are head hashes recorded outside the database. */
export async function verifyAudit(pool: pg.Pool, externalAnchors: Anchor[] = []): Promise<VerifyResult> {
  const client = await pool.connect();
  try {
    // One snapshot for the head, the checkpoints and the rows, so concurrent appends cannot look like
    // tampering; ordered index scans so the rows stream without a sort.
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query("SET LOCAL enable_sort = off");
    await client.query("SET LOCAL enable_bitmapscan = off");
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
      copyTo(`COPY (SELECT seq, ts, prev_hash, hash, canonical FROM audit.events WHERE seq > ${startSeq} ORDER BY seq)
              TO STDOUT (FORMAT binary)`),
    );
    await pipeline(copy, checker);
    await client.query("COMMIT");

    const result: VerifyResult = {
      ok: true,
      count: checker.count,
      headSeq: Number(checker.expectedSeq) - 1,
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
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
