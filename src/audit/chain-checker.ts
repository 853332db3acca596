// Checks one range of the audit chain from a binary COPY stream: raw bytes, no escaping, no per-row
// allocation beyond the hash. Each row: seq is the next expected one, prev_hash links to the running hash,
// hash = sha256(prev_hash || canonical), and the canonical text ends with the row's own seq and ts.
// Who computes sha256 is a choice: the verifier itself ("verifier", independent of the database server), or
// PostgreSQL's built-in sha256 per block of events ("database", about three times cheaper per event here
// because Node pays ~1.5 µs of call overhead per hash); the verifier always checks links, sequence numbers,
// columns and anchors itself, and a block the database reports bad is re-checked here to name the exact event.
import { hash as sha256 } from "node:crypto";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";

export type Anchor = { seq: number; hash: string; location: string };
export type VerifyProblem = { seq: number; reason: string };
/** Where each event's sha256 is recomputed: in this process, or by the database server for each block. */
export type HashedBy = "verifier" | "database";

export type RangeResult = {
  count: number;
  /** First row's seq and stored prev_hash (hex), to check the junction with the range before. */
  firstSeq: number | null;
  firstPrev: string | null;
  /** Last row's seq and recomputed hash (hex). */
  lastSeq: number;
  lastHash: string;
  anchorsChecked: number;
  firstBad: VerifyProblem | null;
};

const BLOCK = 2_000;

/** Milliseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
const PG_EPOCH_MS = 946_684_800_000;
const COPY_SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");
const TS_KEY = Buffer.from(`,"ts":"`, "latin1");
const SEQ_KEY = Buffer.from(`},"seq":`, "latin1");
/** Bytes of canonical text sent when the database hashes: enough for the `},"seq":…,"ts":"…"}` tail. */
const TAIL_BYTES = 64;
const RECORD_BYTES = 8 + 8 + 32 + 32 + TAIL_BYTES;
/** Left padding for a canonical text shorter than the tail (only a damaged row can be): the check then fails. */
const TAIL_PAD = `'\\x${"00".repeat(TAIL_BYTES)}'::bytea`;

/** Byte comparison in JavaScript: for a few dozen bytes it is cheaper than a call into Buffer.compare. */
function sameBytes(a: Buffer, aAt: number, b: Buffer, bAt: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a[aAt + i] !== b[bAt + i]) return false;
  return true;
}

/** End offset of the row starting at `offset` (`fields` length-prefixed fields), or -1 if it is incomplete. */
function rowEnd(data: Buffer, offset: number, fields: number): number {
  let at = offset + 2;
  for (let field = 0; field < fields; field++) {
    if (at + 4 > data.length) return -1;
    const length = data.readInt32BE(at);
    at += 4 + Math.max(length, 0);
  }
  return at <= data.length ? at : -1;
}

class ChainChecker extends Writable {
  expectedSeq: number;
  prev: Buffer;
  count = 0;
  firstSeq: number | null = null;
  firstPrev: string | null = null;
  firstBad: VerifyProblem | null = null;
  anchorsChecked = 0;
  /** Received bytes not yet consumed, kept as a list so a large block is joined once, not once per chunk. */
  #parts: Buffer[] = [];
  #partsLength = 0;
  /** Bytes needed before the next row can be parsed (0 = unknown, try whenever data arrives). */
  #needed = 0;
  #headerDone = false;
  #scratch = Buffer.alloc(64 * 1024);
  #tsHi = -1;
  #tsLo = -1;
  #iso = Buffer.alloc(24);
  readonly #anchors: Map<number, Anchor[]>;
  /** When false, the first row's stored prev_hash starts the range (a later range of a parallel check). */
  #trustFirstPrev: boolean;
  readonly #hashedBy: HashedBy;
  /** A block whose hashes the database found wrong: where the verifier must re-check it to name the event. */
  suspect: { afterSeq: number; startHash: Buffer; trustFirstPrev: boolean; toSeq: number } | null = null;

  constructor(afterSeq: number, startHash: Buffer | null, anchors: readonly Anchor[], hashedBy: HashedBy) {
    super();
    this.#hashedBy = hashedBy;
    this.expectedSeq = afterSeq + 1;
    this.prev = startHash ?? Buffer.alloc(32);
    this.#trustFirstPrev = startHash === null;
    this.#anchors = new Map();
    for (const anchor of anchors) this.#anchors.set(anchor.seq, [...(this.#anchors.get(anchor.seq) ?? []), anchor]);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.firstBad || this.suspect) return done();
    this.#parts.push(chunk);
    this.#partsLength += chunk.length;
    if (this.#partsLength < this.#needed) return done();
    const data = this.#parts.length === 1 ? chunk : Buffer.concat(this.#parts, this.#partsLength);
    this.#parts = [];
    this.#partsLength = 0;
    this.#needed = 0;
    let offset = 0;
    if (!this.#headerDone) {
      if (data.length < 19) {
        this.#keep(data, 0, 19);
        return done();
      }
      if (!data.subarray(0, 11).equals(COPY_SIGNATURE)) return done(new Error("unexpected COPY stream format"));
      offset = 19 + data.readUInt32BE(15);
      this.#headerDone = true;
    }
    // Each COPY row is one block: (block number, the block's events laid out as COPY binary rows).
    const fields = this.#hashedBy === "database" ? 4 : 2;
    while (offset + 2 <= data.length && !this.firstBad && !this.suspect) {
      if (data.readInt16BE(offset) === -1) {
        offset = data.length;
        break;
      }
      const end = rowEnd(data, offset, fields);
      if (end === -1) {
        // Wait for the whole block: its length is known once the first field and the length word are in.
        const lengthAt = offset + 6 + (offset + 6 <= data.length ? Math.max(data.readInt32BE(offset + 2), 0) : 0);
        const needed = lengthAt + 4 <= data.length ? lengthAt + 4 + Math.max(data.readInt32BE(lengthAt), 0) - offset : 0;
        this.#keep(data, offset, needed);
        return done();
      }
      const blockAt = offset + 6 + data.readInt32BE(offset + 2) + 4;
      const blockLength = data.readInt32BE(blockAt - 4);
      if (this.#hashedBy === "database") {
        // Two more fields: whether every hash in the block matched (bool), and the block's last seq (int8).
        const okAt = blockAt + Math.max(blockLength, 0) + 4;
        const okLength = data.readInt32BE(okAt - 4);
        // NULL: the block has no rows (a gap the row checks below report).
        const hashesMatch = okLength === -1 || (okLength === 1 && data[okAt] === 1);
        if (!hashesMatch) {
          const lastAt = okAt + Math.max(okLength, 0) + 4;
          const toSeq = data.readUInt32BE(lastAt) * 2 ** 32 + data.readUInt32BE(lastAt + 4);
          this.suspect = { afterSeq: this.expectedSeq - 1, startHash: Buffer.from(this.prev), trustFirstPrev: this.#trustFirstPrev && this.firstSeq === null, toSeq };
          break;
        }
      }
      if (blockLength > 0) this.#block(data, blockAt, blockAt + blockLength);
      offset = end;
    }
    this.#keep(data, offset, 0);
    done();
  }

  #keep(data: Buffer, from: number, needed: number): void {
    if (from < data.length) {
      this.#parts = [data.subarray(from)];
      this.#partsLength = data.length - from;
    }
    this.#needed = needed;
  }

  #block(data: Buffer, start: number, end: number): void {
    let offset = start;
    if (this.#hashedBy === "database") {
      // Fixed records: seq int8, ts int8, prev_hash 32, hash 32, the canonical text's last TAIL_BYTES.
      if ((end - start) % RECORD_BYTES !== 0) return this.#fail(this.expectedSeq, "the event stream is malformed");
      for (; offset < end && !this.firstBad; offset += RECORD_BYTES) {
        this.#row(data, { seqAt: offset, tsAt: offset + 8, prevAt: offset + 16, hashAt: offset + 48, textAt: offset + 80, end: offset + RECORD_BYTES });
      }
      return;
    }
    while (offset < end && !this.firstBad) {
      const next = rowEnd(data, offset, 5);
      if (next === -1 || next > end) return this.#fail(this.expectedSeq, "the event stream is malformed");
      // A COPY binary row: field count, then length-prefixed seq, ts, prev_hash, hash, canonical.
      const prevLength = data.readInt32BE(offset + 26);
      const hashLengthAt = offset + 30 + Math.max(prevLength, 0);
      const hashLength = data.readInt32BE(hashLengthAt);
      const hashAt = hashLengthAt + 4;
      if (prevLength !== 32 || hashLength !== 32) {
        const seq = data.readUInt32BE(offset + 6) * 2 ** 32 + data.readUInt32BE(offset + 10);
        if (seq === this.expectedSeq || this.firstSeq === null) return this.#fail(seq, "stored hashes are not 32 bytes long");
        return this.#fail(this.expectedSeq, `event ${this.expectedSeq} is missing (next stored event is ${seq})`);
      }
      this.#row(data, { seqAt: offset + 6, tsAt: offset + 18, prevAt: offset + 30, hashAt, textAt: hashAt + 36, end: next });
      offset = next;
    }
  }

  #fail(seq: number, reason: string): void {
    this.firstBad ??= { seq, reason };
  }

  /** One event; `textAt`..`end` is its canonical text (or, when the database hashes, the text's tail). */
  #row(data: Buffer, at: { seqAt: number; tsAt: number; prevAt: number; hashAt: number; textAt: number; end: number }): void {
    const { prevAt, hashAt, textAt, end } = at;
    // seq and ts are int64; both stay far below 2^53, so two 32-bit halves are enough.
    const seq = data.readUInt32BE(at.seqAt) * 2 ** 32 + data.readUInt32BE(at.seqAt + 4);
    if (this.firstSeq === null) {
      this.firstSeq = seq;
      this.firstPrev = data.toString("hex", prevAt, prevAt + 32);
      if (this.#trustFirstPrev) {
        this.prev = Buffer.from(data.subarray(prevAt, prevAt + 32));
        this.expectedSeq = seq;
      }
    }
    if (seq !== this.expectedSeq) return this.#fail(this.expectedSeq, `event ${this.expectedSeq} is missing (next stored event is ${seq})`);
    if (!sameBytes(this.prev, 0, data, prevAt, 32)) return this.#fail(seq, "previous hash does not link to the event before it");
    let hash: Buffer;
    if (this.#hashedBy === "database") {
      // The database has recomputed sha256(prev_hash || canonical) for this row's block and found it equal.
      hash = data.subarray(hashAt, hashAt + 32);
    } else {
      const length = end - textAt;
      if (this.#scratch.length < 32 + length) this.#scratch = Buffer.alloc(2 * (32 + length));
      this.prev.copy(this.#scratch, 0);
      data.copy(this.#scratch, 32, textAt, end);
      hash = sha256("sha256", this.#scratch.subarray(0, 32 + length), "buffer");
      if (!sameBytes(hash, 0, data, hashAt, 32)) return this.#fail(seq, "stored hash does not match sha256(prev_hash || canonical)");
    }
    if (!this.#tailMatches(data, at.tsAt, textAt, end, seq)) return this.#fail(seq, "stored columns differ from the canonical text");
    const anchors = this.#anchors.get(seq);
    if (anchors) {
      const hex = hash.toString("hex");
      for (const anchor of anchors) {
        this.anchorsChecked += 1;
        if (anchor.hash !== hex) this.#fail(seq, `anchor in ${anchor.location} records a different hash`);
      }
    }
    this.prev = hash;
    this.expectedSeq = seq + 1;
    this.count += 1;
  }

  /** The canonical text must end with `},"seq":<seq>,"ts":"<ts as ISO>"}` for this row's seq and ts columns. */
  #tailMatches(data: Buffer, tsAt: number, start: number, end: number, seq: number): boolean {
    const tsHi = data.readInt32BE(tsAt);
    const tsLo = data.readUInt32BE(tsAt + 4);
    if (tsHi !== this.#tsHi || tsLo !== this.#tsLo) {
      this.#tsHi = tsHi;
      this.#tsLo = tsLo;
      const micros = tsHi * 2 ** 32 + tsLo;
      this.#iso.write(new Date(Math.floor(micros / 1000) + PG_EPOCH_MS).toISOString(), "latin1");
    }
    const isoAt = end - 26;
    if (isoAt - TS_KEY.length < start || data[end - 1] !== 0x7d || data[end - 2] !== 0x22) return false;
    if (!sameBytes(data, isoAt, this.#iso, 0, 24)) return false;
    const tsKeyAt = isoAt - TS_KEY.length;
    if (!sameBytes(data, tsKeyAt, TS_KEY, 0, TS_KEY.length)) return false;
    let digitsAt = tsKeyAt;
    let value = 0;
    let place = 1;
    while (digitsAt > start && data[digitsAt - 1]! >= 0x30 && data[digitsAt - 1]! <= 0x39) {
      digitsAt -= 1;
      value += (data[digitsAt]! - 0x30) * place;
      place *= 10;
    }
    if (value !== seq || digitsAt === tsKeyAt) return false;
    const seqKeyAt = digitsAt - SEQ_KEY.length;
    return seqKeyAt >= start && sameBytes(data, seqKeyAt, SEQ_KEY, 0, SEQ_KEY.length);
  }
}

/**
 * Checks events with afterSeq < seq <= toSeq on `client` (already inside the verifying snapshot).
 * `startHash` is the hash of event `afterSeq`; null means "trust the first row's prev_hash", for a later
 * range whose junction the caller checks.
 */
export async function checkRange(
  client: Pick<pg.ClientBase, "query">,
  range: { afterSeq: number; toSeq: number; startHash: Buffer | null; anchors: readonly Anchor[]; hashedBy?: HashedBy },
): Promise<RangeResult> {
  const hashedBy = range.hashedBy ?? "verifier";
  const checker = new ChainChecker(range.afterSeq, range.startHash, range.anchors, hashedBy);
  // Events are sent in blocks of BLOCK: one COPY row per block, the block built by PostgreSQL from an
  // ordered index scan in the same binary layout COPY uses per row. Far fewer, larger messages cost the
  // client much less than one message per event. When the database hashes, a block carries only the tail
  // of each canonical text (for the seq/ts column check), whether all its hashes matched, and its last seq.
  const after = Math.trunc(range.afterSeq);
  const to = Math.trunc(range.toSeq);
  const block =
    hashedBy === "database"
      ? `string_agg(int8send(seq) || timestamptz_send(ts) || prev_hash || hash
                    || substring(${TAIL_PAD} || text_bytes FROM octet_length(text_bytes) + 1), ''::bytea ORDER BY seq),
         bool_and(octet_length(prev_hash) = 32 AND octet_length(hash) = 32 AND pg_catalog.sha256(prev_hash || text_bytes) = hash), max(seq)`
      : `string_agg('\\x0005'::bytea || '\\x00000008'::bytea || int8send(seq) || '\\x00000008'::bytea || timestamptz_send(ts)
                    || int4send(length(prev_hash)) || prev_hash || int4send(length(hash)) || hash
                    || int4send(octet_length(text_bytes)) || text_bytes, ''::bytea ORDER BY seq)`;
  const copy = (client as pg.ClientBase).query(
    copyTo(
      `COPY (
         SELECT b, x.* FROM generate_series(${Math.floor(after / BLOCK)}, ${Math.floor(Math.max(to - 1, after) / BLOCK)}) b,
         LATERAL (
           SELECT ${block}
           FROM (SELECT seq, ts, prev_hash, hash, convert_to(canonical, 'UTF8') AS text_bytes FROM audit.events
                 WHERE seq > greatest(b * ${BLOCK}, ${after}) AND seq <= least((b + 1) * ${BLOCK}, ${to}) OFFSET 0) e
         ) x ORDER BY b
       ) TO STDOUT (FORMAT binary)`,
    ),
  );
  await pipeline(copy, checker);
  if (checker.suspect) {
    // The database found a hash that does not match in this block: recompute it here to name the event.
    const suspect = checker.suspect;
    const recheck = await checkRange(client, {
      afterSeq: suspect.afterSeq,
      toSeq: suspect.toSeq,
      startHash: suspect.trustFirstPrev ? null : suspect.startHash,
      anchors: range.anchors,
      hashedBy: "verifier",
    });
    const firstBad = recheck.firstBad ?? {
      seq: suspect.afterSeq + 1,
      reason: `the database reports a hash mismatch among events ${suspect.afterSeq + 1}–${suspect.toSeq} that the verifier does not reproduce`,
    };
    return {
      count: checker.count + recheck.count,
      firstSeq: checker.firstSeq ?? recheck.firstSeq,
      firstPrev: checker.firstPrev ?? recheck.firstPrev,
      lastSeq: recheck.lastSeq,
      lastHash: recheck.lastHash,
      anchorsChecked: checker.anchorsChecked + recheck.anchorsChecked,
      firstBad,
    };
  }
  return {
    count: checker.count,
    firstSeq: checker.firstSeq,
    firstPrev: checker.firstPrev,
    lastSeq: checker.expectedSeq - 1,
    lastHash: checker.prev.toString("hex"),
    anchorsChecked: checker.anchorsChecked,
    firstBad: checker.firstBad,
  };
}
