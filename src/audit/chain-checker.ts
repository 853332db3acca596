// Checks one range of the audit chain from a binary COPY stream: raw bytes, no escaping, no per-row
// allocation beyond the hash. Each row: seq is the next expected one, prev_hash links to the running hash,
// hash = sha256(prev_hash || canonical), and the canonical text ends with the row's own seq and ts.
// Who computes sha256 is a choice: the verifier itself ("verifier", independent of the database server), or
// PostgreSQL's built-in sha256 per block of events ("database", which also checks the links inside each
// block; about twice as cheap per event here because Node pays ~1.3 µs of call overhead per hash); the
// verifier always checks sequence numbers, columns, the junctions between blocks and the anchors itself,
// and a block the database reports bad is re-checked here to name the exact event.
import { hash as sha256 } from "node:crypto";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";

/**
 * Settings for every verifying transaction: only pg_catalog resolves functions and operators (a function
 * planted in a schema on the search path, e.g. public.textsend, cannot change what is checked or run with
 * the verifier's rights); the client encoding is UTF-8, so `textsend(canonical)` gives the canonical text's
 * UTF-8 bytes (what was hashed) whatever the server's encoding, without the per-row cost of convert_to;
 * ordered index scans and no parallel workers, so the rows stream in seq order without a sort.
 */
export const VERIFY_SESSION_SQL =
  "SELECT set_config('search_path', 'pg_catalog, pg_temp', true), set_config('client_encoding', 'UTF8', true), set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)";

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
/**
 * Bytes of canonical text sent when the database hashes: enough for the `},"seq":…,"ts":"…"}` tail. Every
 * real event is longer; a shorter (damaged) one marks its block bad, and the verifier re-checks that block.
 */
const TAIL_BYTES = 64;
const RECORD_BYTES = 8 + 8 + TAIL_BYTES;

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

const DAY_MS = 86_400_000;

/**
 * The end every event's canonical text must have, `},"seq":<seq>,"ts":"<ts as ISO 8601>"}`, built from the
 * row's seq and ts columns and kept up to date from one event to the next: the seq digits count up in
 * place and, within a day, only the time of day is rewritten, so checking an event costs a byte comparison
 * rather than number formatting.
 */
class ExpectedTail {
  /**
   * The expected tail, right-aligned in 64 bytes: `},"seq":` and the digits end at 31, `,"ts":"` at 31, the
   * ISO text at 38. Its own ArrayBuffer, so that it can also be compared four bytes at a time.
   */
  readonly #buf = Buffer.from(new ArrayBuffer(64));
  readonly #words = new Int32Array(this.#buf.buffer);
  #from = 64;
  #seq = -2;
  #tsHi = -1;
  #tsLo = -1;
  /** Epoch milliseconds of midnight (UTC) of the day whose date the ISO text holds. */
  #dayStart = Number.NaN;

  constructor() {
    this.#buf.write(`,"ts":"`, 31, "latin1");
    this.#buf.write(`"}`, 62, "latin1");
  }

  /** Whether the text in data[start, end) ends with this event's tail (seq, and ts as int64 µs at tsAt). */
  matches(data: Buffer, tsAt: number, start: number, end: number, seq: number): boolean {
    if (!this.#prepare(data, tsAt, seq)) return false;
    const buf = this.#buf;
    const offset = end - 64;
    if (offset + this.#from < start) return false;
    for (let i = this.#from; i < 64; i++) if (data[offset + i] !== buf[i]) return false;
    return true;
  }

  /**
   * The same for an 80-byte record (seq, ts, the text's last 64 bytes) at bytes[recordAt], which is
   * words[wordAt] too (the same memory, four-byte aligned): the tail is compared four bytes at a time.
   */
  matchesRecord(bytes: Uint8Array, recordAt: number, words: Int32Array, wordAt: number, seq: number): boolean {
    if (!this.#prepare(bytes, recordAt + 8, seq)) return false;
    const tailAt = recordAt + 16;
    const from = this.#from;
    const firstWord = (from + 3) >> 2;
    const buf = this.#buf;
    for (let i = from; i < firstWord * 4; i++) if (bytes[tailAt + i] !== buf[i]) return false;
    const expected = this.#words;
    const tailWord = wordAt + 4;
    for (let k = firstWord; k < 16; k++) if (words[tailWord + k] !== expected[k]) return false;
    return true;
  }

  /** Brings the expected tail to `seq` and the ts at tsAt (int64 µs since 2000, big-endian). */
  #prepare(data: Uint8Array, tsAt: number, seq: number): boolean {
    const tsHi = (data[tsAt]! << 24) | (data[tsAt + 1]! << 16) | (data[tsAt + 2]! << 8) | data[tsAt + 3]!;
    const tsLo = ((data[tsAt + 4]! << 24) | (data[tsAt + 5]! << 16) | (data[tsAt + 6]! << 8) | data[tsAt + 7]!) >>> 0;
    if (tsHi !== this.#tsHi || tsLo !== this.#tsLo) {
      // Appends store whole milliseconds (the canonical text's precision), so any microseconds are an edit;
      // the remainder is taken from the two halves so that it stays exact beyond 2^53 µs (year 2285).
      if (((tsHi % 1000) * 2 ** 32 + tsLo) % 1000 !== 0) return false;
      if (!this.#setTime((tsHi * 2 ** 32 + tsLo) / 1000 + PG_EPOCH_MS)) return false;
      this.#tsHi = tsHi;
      this.#tsLo = tsLo;
    }
    if (seq !== this.#seq) this.#setSeq(seq);
    return true;
  }

  #setSeq(seq: number): void {
    const buf = this.#buf;
    if (seq === this.#seq + 1) {
      // Count up in place; a carry past the first digit needs one more digit, written below.
      let at = 30;
      while (at >= this.#from + 8 && buf[at] === 0x39) buf[at--] = 0x30;
      if (at >= this.#from + 8) {
        buf[at] = buf[at]! + 1;
        this.#seq = seq;
        return;
      }
    }
    const digits = String(seq);
    this.#from = 31 - 8 - digits.length;
    buf.write(`},"seq":${digits}`, this.#from, "latin1");
    this.#seq = seq;
  }

  /** Writes `ms` (epoch milliseconds) as ISO 8601; false when it has no 24-character form (years 0–9999). */
  #setTime(ms: number): boolean {
    const buf = this.#buf;
    const inDay = ms - this.#dayStart;
    if (!(inDay >= 0 && inDay < DAY_MS)) {
      // Dates beyond JavaScript's range (±8.64e15 ms, PostgreSQL allows a little more) have no ISO text.
      if (!(Math.abs(ms) <= 8.64e15)) return false;
      const iso = new Date(ms).toISOString();
      if (iso.length !== 24) return false;
      buf.write(iso, 38, "latin1");
      this.#dayStart = ms - (((ms % DAY_MS) + DAY_MS) % DAY_MS);
      return true;
    }
    const two = (at: number, value: number) => {
      buf[at] = 0x30 + Math.floor(value / 10);
      buf[at + 1] = 0x30 + (value % 10);
    };
    two(38 + 11, Math.floor(inDay / 3_600_000));
    two(38 + 14, Math.floor(inDay / 60_000) % 60);
    two(38 + 17, Math.floor(inDay / 1000) % 60);
    const millis = inDay % 1000;
    buf[38 + 20] = 0x30 + Math.floor(millis / 100);
    two(38 + 21, millis % 100);
    return true;
  }
}

class ChainChecker extends Writable {
  expectedSeq: number;
  /** The running hash lives at #prevAt in #prevBuf (often the received data itself: no copy per event). */
  #prevBuf: Buffer;
  #prevAt = 0;
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
  readonly #tail = new ExpectedTail();
  /** A block's records, at the start of their own ArrayBuffer (four-byte aligned). */
  #aligned = new Uint8Array(0);
  readonly #anchors: Map<number, Anchor[]>;
  /** Anchored seqs in order, and the next one at or after the expected seq (a number check per event). */
  #anchorSeqs: number[] = [];
  #nextAnchorSeq = -1;
  /** When false, the first row's stored prev_hash starts the range (a later range of a parallel check). */
  #trustFirstPrev: boolean;
  readonly #hashedBy: HashedBy;
  /** A block whose hashes the database found wrong: where the verifier must re-check it to name the event. */
  suspect: { afterSeq: number; startHash: Buffer; trustFirstPrev: boolean; toSeq: number } | null = null;

  constructor(afterSeq: number, startHash: Buffer | null, anchors: readonly Anchor[], hashedBy: HashedBy) {
    super();
    this.#hashedBy = hashedBy;
    this.expectedSeq = afterSeq + 1;
    this.#prevBuf = startHash ?? Buffer.alloc(32);
    this.#trustFirstPrev = startHash === null;
    this.#anchors = new Map();
    for (const anchor of anchors) this.#anchors.set(anchor.seq, [...(this.#anchors.get(anchor.seq) ?? []), anchor]);
    this.#anchorSeqs = [...this.#anchors.keys()].sort((a, b) => a - b);
    this.#nextAnchorSeq = this.#anchorAfter(afterSeq);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    // Whatever a malformed stream makes the parsing throw fails the verification's pipeline, not the process.
    let error: Error | null;
    try {
      error = this.#consume(chunk);
    } catch (thrown) {
      error = thrown instanceof Error ? thrown : new Error(String(thrown));
    }
    done(error);
  }

  /** Takes in one chunk of the COPY stream; an Error when the stream is not one this checker can read. */
  #consume(chunk: Buffer): Error | null {
    if (this.firstBad || this.suspect) return null;
    this.#parts.push(chunk);
    this.#partsLength += chunk.length;
    if (this.#partsLength < this.#needed) return null;
    const data = this.#parts.length === 1 ? chunk : Buffer.concat(this.#parts, this.#partsLength);
    this.#parts = [];
    this.#partsLength = 0;
    this.#needed = 0;
    let offset = 0;
    if (!this.#headerDone) {
      if (data.length < 19) {
        this.#keep(data, 0, 19);
        return null;
      }
      if (!data.subarray(0, 11).equals(COPY_SIGNATURE)) return new Error("unexpected COPY stream format");
      offset = 19 + data.readUInt32BE(15);
      this.#headerDone = true;
    }
    // Each COPY row is one block: (block number, the block's events, and when the database hashes, what it
    // found about them).
    const fields = this.#hashedBy === "database" ? 7 : 2;
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
        return null;
      }
      if (this.#hashedBy === "database") {
        this.#databaseBlock(data, offset);
      } else {
        const blockAt = offset + 6 + data.readInt32BE(offset + 2) + 4;
        const blockLength = data.readInt32BE(blockAt - 4);
        if (blockLength > 0) this.#block(data, blockAt, blockAt + blockLength);
      }
      offset = end;
    }
    this.#keep(data, offset, 0);
    return null;
  }

  /**
   * A block the database has checked: fields (block, records, links_ok, first_prev, last_hash,
   * anchor_hashes, last_seq). links_ok says every hash was recomputed equal and every prev_hash in the block
   * equals the hash before it; this checks the junction with the previous block, the sequence numbers, each
   * event's columns against its canonical tail, and the anchors. A block the database found bad is re-checked
   * by the verifier (see checkRange), which names the event.
   */
  #databaseBlock(data: Buffer, offset: number): void {
    type Field = { at: number; length: number };
    let at = offset + 2;
    const next = (): Field => {
      const length = data.readInt32BE(at);
      const field = { at: at + 4, length };
      at += 4 + Math.max(length, 0);
      return field;
    };
    next(); // the block number
    const records = next();
    const linksOk = next();
    const firstPrev = next();
    const lastHash = next();
    const anchorHashes = next();
    const lastSeq = next();
    if (records.length === -1) return; // no events in this block: the gap shows at the next event or the head
    const sound = linksOk.length === 1 && data[linksOk.at] === 1 && firstPrev.length === 32 && lastHash.length === 32 && records.length % RECORD_BYTES === 0;
    if (!sound) {
      const toSeq = lastSeq.length === 8 ? data.readUInt32BE(lastSeq.at) * 2 ** 32 + data.readUInt32BE(lastSeq.at + 4) : this.expectedSeq;
      this.suspect = { afterSeq: this.expectedSeq - 1, startHash: this.prevHash(), trustFirstPrev: this.#trustFirstPrev && this.firstSeq === null, toSeq };
      return;
    }
    const blockFirstSeq = data.readUInt32BE(records.at) * 2 ** 32 + data.readUInt32BE(records.at + 4);
    if (this.firstSeq === null) {
      this.firstSeq = blockFirstSeq;
      this.firstPrev = data.toString("hex", firstPrev.at, firstPrev.at + 32);
      if (this.#trustFirstPrev) {
        this.#prevBuf = data;
        this.#prevAt = firstPrev.at;
        this.expectedSeq = blockFirstSeq;
      }
    }
    if (blockFirstSeq !== this.expectedSeq) return this.#unexpected(blockFirstSeq);
    if (!sameBytes(this.#prevBuf, this.#prevAt, data, firstPrev.at, 32)) return this.#fail(blockFirstSeq, "previous hash does not link to the event before it");
    // The records copied to the start of an ArrayBuffer (one copy per block), so that each tail is compared
    // a word at a time.
    if (this.#aligned.length < records.length) this.#aligned = new Uint8Array(records.length);
    const bytes = this.#aligned;
    bytes.set(data.subarray(records.at, records.at + records.length));
    const words = new Int32Array(bytes.buffer, 0, records.length / 4);
    for (let record = 0, word = 0; word < words.length; record += RECORD_BYTES, word += RECORD_BYTES / 4) {
      const seq =
        ((bytes[record]! << 24) | (bytes[record + 1]! << 16) | (bytes[record + 2]! << 8) | bytes[record + 3]!) * 2 ** 32 +
        (((bytes[record + 4]! << 24) | (bytes[record + 5]! << 16) | (bytes[record + 6]! << 8) | bytes[record + 7]!) >>> 0);
      if (seq !== this.expectedSeq) return this.#unexpected(seq);
      if (!this.#tail.matchesRecord(bytes, record, words, word, seq)) return this.#fail(seq, "stored columns differ from the canonical text");
      if (seq === this.#nextAnchorSeq) {
        // The block's hashes are contiguous from its first event (the seq checks above have just shown it).
        const hashAt = anchorHashes.at + (seq - blockFirstSeq) * 32;
        if (anchorHashes.length < (seq - blockFirstSeq + 1) * 32) return this.#fail(seq, "the event stream is malformed");
        this.#checkAnchors(seq, data, hashAt);
      }
      this.expectedSeq = seq + 1;
      this.count += 1;
    }
    this.#prevBuf = data;
    this.#prevAt = lastHash.at;
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

  /** Compares the hash of event `seq` (32 bytes at `at` in `buf`) with every anchor recorded for it. */
  #checkAnchors(seq: number, buf: Buffer, at: number): void {
    const hex = buf.toString("hex", at, at + 32);
    for (const anchor of this.#anchors.get(seq) ?? []) {
      this.anchorsChecked += 1;
      if (anchor.hash !== hex) this.#fail(seq, `anchor in ${anchor.location} records a different hash`);
    }
    this.#nextAnchorSeq = this.#anchorAfter(seq);
  }

  /** The first anchored seq after `seq`, or -1. */
  #anchorAfter(seq: number): number {
    return this.#anchorSeqs.find((candidate) => candidate > seq) ?? -1;
  }

  /** A copy of the running hash. */
  prevHash(): Buffer {
    return Buffer.from(this.#prevBuf.subarray(this.#prevAt, this.#prevAt + 32));
  }

  /** The problem when `seq` arrives where `expectedSeq` should: a repeated event, or a missing one. */
  #unexpected(seq: number): void {
    if (seq === this.expectedSeq - 1) return this.#fail(seq, `event ${seq} is stored twice`);
    this.#fail(this.expectedSeq, `event ${this.expectedSeq} is missing (next stored event is ${seq})`);
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
        this.#prevBuf = data;
        this.#prevAt = prevAt;
        this.expectedSeq = seq;
      }
    }
    if (seq !== this.expectedSeq) return this.#unexpected(seq);
    if (!sameBytes(this.#prevBuf, this.#prevAt, data, prevAt, 32)) return this.#fail(seq, "previous hash does not link to the event before it");
    const length = end - textAt;
    if (this.#scratch.length < 32 + length) this.#scratch = Buffer.alloc(2 * (32 + length));
    this.#prevBuf.copy(this.#scratch, 0, this.#prevAt, this.#prevAt + 32);
    data.copy(this.#scratch, 32, textAt, end);
    const hashBuf = sha256("sha256", this.#scratch.subarray(0, 32 + length), "buffer");
    const hashOffset = 0;
    if (!sameBytes(hashBuf, 0, data, hashAt, 32)) return this.#fail(seq, "stored hash does not match sha256(prev_hash || canonical)");
    if (!this.#tail.matches(data, at.tsAt, textAt, end, seq)) return this.#fail(seq, "stored columns differ from the canonical text");
    if (seq === this.#nextAnchorSeq) this.#checkAnchors(seq, hashBuf, hashOffset);
    this.#prevBuf = hashBuf;
    this.#prevAt = hashOffset;
    this.expectedSeq = seq + 1;
    this.count += 1;
  }
}

/**
 * The COPY that sends the events of (afterSeq, toSeq].
 * Events are sent in blocks of BLOCK: one COPY row per block, the block built by PostgreSQL from an
 * ordered index scan in the same binary layout COPY uses per row. Far fewer, larger messages cost the
 * client much less than one message per event. When the database hashes, a block carries only the tail
 * of each canonical text (for the seq/ts column check), whether all its hashes matched, and its last seq.
 * The inner ORDER BY (met by the index scan, no sort) lets the block's ordered aggregates take their
 * input as it comes instead of sorting it again each.
 */
function blocksCopySql(hashedBy: HashedBy, afterSeq: number, toSeq: number, anchors: readonly Anchor[]): string {
  const after = Math.trunc(afterSeq);
  const to = Math.trunc(toSeq);
  const anchorBlocks = [...new Set(anchors.map((anchor) => Math.floor((Math.trunc(anchor.seq) - 1) / BLOCK)))];
  return hashedBy === "database"
    ? `COPY (
             SELECT b, x.records,
                    x.hashes_ok AND substring(x.prevs FROM 33) = substring(x.hashes FOR octet_length(x.hashes) - 32),
                    substring(x.prevs FOR 32), substring(x.hashes FROM octet_length(x.hashes) - 31),
                    CASE WHEN b = ANY('{${anchorBlocks.join(",")}}'::bigint[]) THEN x.hashes END, x.last_seq
             FROM generate_series(${Math.floor(after / BLOCK)}, ${Math.floor(Math.max(to - 1, after) / BLOCK)}) b,
             LATERAL (
               SELECT string_agg(int8send(seq) || timestamptz_send(ts) || substring(text_bytes FROM octet_length(text_bytes) - ${TAIL_BYTES - 1}), ''::bytea ORDER BY seq) AS records,
                      string_agg(prev_hash, ''::bytea ORDER BY seq) AS prevs,
                      string_agg(hash, ''::bytea ORDER BY seq) AS hashes,
                      bool_and(octet_length(prev_hash) = 32 AND octet_length(hash) = 32 AND octet_length(text_bytes) >= ${TAIL_BYTES}
                               AND pg_catalog.sha256(prev_hash || text_bytes) = hash) AS hashes_ok,
                      max(seq) AS last_seq
               FROM (SELECT seq, ts, prev_hash, hash, pg_catalog.textsend(canonical) AS text_bytes FROM audit.events
                     WHERE seq > greatest(b * ${BLOCK}, ${after}) AND seq <= least((b + 1) * ${BLOCK}, ${to}) ORDER BY seq OFFSET 0) e
             ) x ORDER BY b
           ) TO STDOUT (FORMAT binary)`
    : `COPY (
             SELECT b, (
               SELECT string_agg('\\x0005'::bytea || '\\x00000008'::bytea || int8send(seq) || '\\x00000008'::bytea || timestamptz_send(ts)
                        || int4send(length(prev_hash)) || prev_hash || int4send(length(hash)) || hash
                        || int4send(octet_length(text_bytes)) || text_bytes, ''::bytea ORDER BY seq)
               FROM (SELECT seq, ts, prev_hash, hash, pg_catalog.textsend(canonical) AS text_bytes FROM audit.events
                     WHERE seq > greatest(b * ${BLOCK}, ${after}) AND seq <= least((b + 1) * ${BLOCK}, ${to}) ORDER BY seq OFFSET 0) e)
             FROM generate_series(${Math.floor(after / BLOCK)}, ${Math.floor(Math.max(to - 1, after) / BLOCK)}) b ORDER BY b
           ) TO STDOUT (FORMAT binary)`;
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
  const copy = (client as pg.ClientBase).query(copyTo(blocksCopySql(hashedBy, range.afterSeq, range.toSeq, range.anchors)));
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
    lastHash: checker.prevHash().toString("hex"),
    anchorsChecked: checker.anchorsChecked,
    firstBad: checker.firstBad,
  };
}
