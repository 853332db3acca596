// Verifies the Audit Core: streams every event after the newest retention checkpoint with binary COPY,
// recomputes the hash chain, checks that the seq and ts columns match the canonical text (the other
// columns are generated from it), that no sequence number is missing, that the chain ends at the head row,
// and that every recorded anchor matches the chain. Large chains are checked in two halves at once, inside
// the same exported snapshot, and joined at the seam: on a second connection of this thread when the database
// recomputes the hashes, in a worker thread when this process does (hashing is then the CPU-bound part).
import os from "node:os";
import { Worker } from "node:worker_threads";
import type pg from "pg";
import { recordVerification } from "../observability/metrics.js";
import { GENESIS_HASH } from "./canonical.js";
import { checkRange, VERIFY_SESSION_SQL, type Anchor, type HashedBy, type RangeResult, type VerifyProblem } from "./chain-checker.js";

export type { Anchor, HashedBy, VerifyProblem };

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
  /** Anchors naming events that retention has retired (other than a checkpoint's last event): not checkable. */
  anchorsRetired: number;
  firstBad?: VerifyProblem;
};

type Checkpoint = { firstSeq: number; lastSeq: number; count: number; lastHash: Buffer };

/**
 * What retention left must be consistent: checkpoints contiguous from event 1 with the right counts, no
 * event still stored at or below the newest checkpoint (a checkpoint written without retiring the
 * partition would hide those events from verification), and each anchor naming a checkpoint's last event
 * must match its hash. Other anchors on retired events cannot be checked and are counted, not dropped.
 */
function checkRetention(
  checkpoints: readonly Checkpoint[],
  minSeq: number | null,
  anchors: readonly Anchor[],
): { problem: VerifyProblem | null; anchorsChecked: number; anchorsRetired: number } {
  let expectedFirst = 1;
  for (const checkpoint of checkpoints) {
    if (
      checkpoint.firstSeq !== expectedFirst ||
      checkpoint.count !== checkpoint.lastSeq - checkpoint.firstSeq + 1 ||
      checkpoint.lastSeq < checkpoint.firstSeq
    ) {
      return {
        problem: {
          seq: expectedFirst,
          reason: `retention checkpoints do not account for event ${expectedFirst} (checkpoint ${checkpoint.firstSeq}–${checkpoint.lastSeq}, ${checkpoint.count} events)`,
        },
        anchorsChecked: 0,
        anchorsRetired: 0,
      };
    }
    expectedFirst = checkpoint.lastSeq + 1;
  }
  const newest = checkpoints.at(-1);
  if (newest && minSeq !== null && minSeq <= newest.lastSeq) {
    return {
      problem: { seq: minSeq, reason: `event ${minSeq} is still stored although a retention checkpoint says events up to ${newest.lastSeq} were retired` },
      anchorsChecked: 0,
      anchorsRetired: 0,
    };
  }
  let anchorsChecked = 0;
  let anchorsRetired = 0;
  for (const anchor of anchors) {
    if (!newest || anchor.seq > newest.lastSeq) continue;
    const at = checkpoints.find((checkpoint) => checkpoint.lastSeq === anchor.seq);
    if (!at) {
      anchorsRetired += 1;
      continue;
    }
    anchorsChecked += 1;
    if (at.lastHash.toString("hex") !== anchor.hash) {
      return {
        problem: { seq: anchor.seq, reason: `anchor in ${anchor.location} records a different hash than the retention checkpoint` },
        anchorsChecked,
        anchorsRetired,
      };
    }
  }
  return { problem: null, anchorsChecked, anchorsRetired };
}

/** Ranges checked at once when the database hashes (more measured no faster on 2 cores). */
const DATABASE_PARTS = 2;

/** Below this many events a second thread costs more than it saves. */
const PARALLEL_MIN_EVENTS = 50_000;

type WorkerJob = { databaseUrl: string; snapshot: string; afterSeq: number; toSeq: number; anchors: Anchor[]; hashedBy: HashedBy };
type WorkerAnswer = { id: number; ok: true; result: RangeResult } | { id: number; ok: false; error: string };

let verifier: { worker: Worker; ready: Promise<void>; pending: Map<number, (answer: WorkerAnswer) => void>; next: number } | undefined;

/** The long-lived verification worker, started on first use and unreferenced while idle. */
function getVerifier() {
  if (verifier) return verifier;
  // Under a build (dist/*.js) the worker is plain JavaScript; from source it is loaded through tsx.
  const compiled = import.meta.url.endsWith(".js");
  const entry = new URL(compiled ? "./verify-worker.js" : "./verify-worker.ts", import.meta.url);
  const worker = compiled ? new Worker(entry) : new Worker(new URL("./verify-worker-bootstrap.mjs", import.meta.url), { workerData: { entry: entry.href } });
  worker.unref();
  const pending = new Map<number, (answer: WorkerAnswer) => void>();
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const current = { worker, ready, pending, next: 1 };
  const fail = (error: Error) => {
    for (const [id, settle] of pending) settle({ id, ok: false, error: error.message });
    pending.clear();
    if (verifier === current) verifier = undefined;
  };
  worker.on("message", (message: WorkerAnswer | { ready: true }) => {
    if ("ready" in message) return markReady();
    pending.get(message.id)?.(message);
    pending.delete(message.id);
    if (pending.size === 0) worker.unref();
  });
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`audit verification worker exited with code ${code}`)));
  verifier = current;
  return current;
}

async function runWorker(job: WorkerJob): Promise<RangeResult> {
  const current = getVerifier();
  await current.ready;
  const id = current.next++;
  current.worker.ref();
  const answer = await new Promise<WorkerAnswer>((resolve) => {
    current.pending.set(id, resolve);
    current.worker.postMessage({ id, ...job });
  });
  if (!answer.ok) throw new Error(answer.error);
  return answer.result;
}

type VerifyOptions = { parallel?: boolean; parallelMinEvents?: number; hashedBy?: HashedBy };

/** Verifies the chain. `externalAnchors` are head hashes recorded outside the database. The result is this process's last on /metrics. */
export async function verifyAudit(pool: pg.Pool, externalAnchors: Anchor[] = [], options: VerifyOptions = {}): Promise<VerifyResult> {
  return recordVerification(await verifyChain(pool, externalAnchors, options));
}

async function verifyChain(pool: pg.Pool, externalAnchors: Anchor[], options: VerifyOptions): Promise<VerifyResult> {
  const client = await pool.connect();
  try {
    // One snapshot for the head, the checkpoints and the rows, so concurrent appends cannot look like
    // tampering; ordered index scans so the rows stream without a sort.
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query(VERIFY_SESSION_SQL);
    const chain = await readChainState(client, externalAnchors);
    // Problems with what retention left behind, found before any event is read.
    const retired = checkRetention(chain.checkpoints, chain.minSeq, chain.allAnchors);
    if (!chain.head || retired.problem) {
      await client.query("COMMIT");
      const firstBad = retired.problem ?? { seq: 0, reason: "the chain head row (audit.head) is missing" };
      return {
        ok: false,
        count: 0,
        headSeq: chain.startSeq,
        headHash: chain.startHash.toString("hex"),
        startedAfterSeq: chain.startSeq,
        anchorsChecked: retired.anchorsChecked,
        anchorsRetired: retired.anchorsRetired,
        firstBad,
      };
    }
    const ranges = await checkRanges(pool, client, chain, options);
    await client.query("COMMIT");
    const { startSeq, startHash, headSeq, maxSeq, anchors } = chain;
    const result = combine(ranges, { startSeq, startHash, headSeq, maxSeq, headHash: chain.head.hash.toString("hex"), anchors });
    return { ...result, anchorsChecked: result.anchorsChecked + retired.anchorsChecked, anchorsRetired: retired.anchorsRetired };
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** What the verifying snapshot holds before any event is read: checkpoints, anchors, the head row and the stored seq range. */
type ChainState = {
  checkpoints: Checkpoint[];
  /** Where the check starts: after the newest checkpoint (its last seq and hash), or at the genesis. */
  startSeq: number;
  startHash: Buffer;
  /** Every anchor, stored and external; `anchors` are those after startSeq, which the ranges check. */
  allAnchors: Anchor[];
  anchors: Anchor[];
  head: { seq: string; hash: Buffer } | undefined;
  headSeq: number;
  minSeq: number | null;
  maxSeq: number;
  /** The last seq to read: the head row's or the highest stored, whichever is later. */
  lastSeq: number;
};

async function readChainState(client: pg.PoolClient, externalAnchors: readonly Anchor[]): Promise<ChainState> {
  const checkpoints = (
    await client.query<{ first_seq: string; last_seq: string; event_count: string; last_hash: Buffer }>(
      "SELECT first_seq, last_seq, event_count, last_hash FROM audit.checkpoints ORDER BY last_seq",
    )
  ).rows.map((row) => ({ firstSeq: Number(row.first_seq), lastSeq: Number(row.last_seq), count: Number(row.event_count), lastHash: row.last_hash }));
  const checkpoint = checkpoints.at(-1);
  const startSeq = checkpoint ? checkpoint.lastSeq : 0;
  const startHash = checkpoint ? checkpoint.lastHash : GENESIS_HASH;
  const stored = (await client.query<{ seq: string; hash: Buffer; location: string }>("SELECT seq, hash, location FROM audit.anchors")).rows.map((row) => ({
    seq: Number(row.seq),
    hash: row.hash.toString("hex"),
    location: row.location,
  }));
  const allAnchors = [...stored, ...externalAnchors];
  const anchors = allAnchors.filter((anchor) => anchor.seq > startSeq);
  const head = (await client.query<{ seq: string; hash: Buffer }>("SELECT seq, hash FROM audit.head WHERE id = 1")).rows[0];
  const headSeq = Number(head?.seq ?? 0);
  const bounds = (await client.query<{ min: string | null; max: string | null }>("SELECT min(seq) AS min, max(seq) AS max FROM audit.events")).rows[0];
  const minSeq = bounds?.min === null || bounds?.min === undefined ? null : Number(bounds.min);
  const maxSeq = Number(bounds?.max ?? 0);
  return { checkpoints, startSeq, startHash, allAnchors, anchors, head, headSeq, minSeq, maxSeq, lastSeq: Math.max(headSeq, maxSeq) };
}

/**
 * Checks the events after the start: in one range on this connection, or (a large chain with threads to spare) in
 * parts read at once inside the same exported snapshot, on a second connection when the database hashes and in
 * the worker thread when this process does.
 */
async function checkRanges(
  pool: pg.Pool,
  client: pg.PoolClient,
  chain: ChainState,
  options: { parallel?: boolean; parallelMinEvents?: number; hashedBy?: HashedBy },
): Promise<RangeResult[]> {
  const { startSeq, startHash, lastSeq, anchors } = chain;
  const parallel = (options.parallel ?? os.availableParallelism() > 1) && lastSeq - startSeq >= (options.parallelMinEvents ?? PARALLEL_MIN_EVENTS);
  const hashedBy = options.hashedBy ?? "database";
  const poolSize = (pool as unknown as { options: { max?: number } }).options.max ?? 10;
  if (parallel && hashedBy === "database" && poolSize >= 2) {
    // The database does the hashing, so this thread has little to do per event: a second connection in the
    // same snapshot streams the second half while the first streams here, and two server processes hash.
    const snapshot = (await client.query<{ id: string }>("SELECT pg_export_snapshot() AS id")).rows[0]?.id ?? "";
    const parts = Math.min(DATABASE_PARTS, poolSize);
    const bounds = Array.from({ length: parts + 1 }, (_, i) => (i === parts ? lastSeq : startSeq + Math.floor(((lastSeq - startSeq) * i) / parts)));
    return Promise.all(
      bounds.slice(0, -1).map((from, i) => {
        const to = bounds[i + 1] as number;
        const own = anchors.filter((a) => a.seq > from && a.seq <= to);
        return i === 0
          ? checkRange(client, { afterSeq: from, toSeq: to, startHash, anchors: own, hashedBy })
          : inSnapshot(pool, snapshot, (other) => checkRange(other, { afterSeq: from, toSeq: to, startHash: null, anchors: own, hashedBy }));
      }),
    );
  }
  if (parallel) {
    const databaseUrl = (pool as unknown as { options: { connectionString?: string } }).options.connectionString;
    if (!databaseUrl) throw new Error("parallel audit verification needs a pool created from a connection string");
    const snapshot = (await client.query<{ id: string }>("SELECT pg_export_snapshot() AS id")).rows[0]?.id ?? "";
    const middle = startSeq + Math.floor((lastSeq - startSeq) / 2);
    return Promise.all([
      checkRange(client, { afterSeq: startSeq, toSeq: middle, startHash, anchors, hashedBy }),
      runWorker({ databaseUrl, snapshot, afterSeq: middle, toSeq: lastSeq, anchors: anchors.filter((a) => a.seq > middle), hashedBy }),
    ]);
  }
  return [await checkRange(client, { afterSeq: startSeq, toSeq: lastSeq, startHash, anchors, hashedBy })];
}

/** Runs `fn` on a second pooled connection inside the snapshot `snapshot` exported by the verifying transaction. */
async function inSnapshot<T>(pool: pg.Pool, snapshot: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query(`SET TRANSACTION SNAPSHOT '${snapshot.replace(/'/g, "")}'`);
    await client.query(VERIFY_SESSION_SQL);
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Joins the ranges at their seams and checks the end of the chain against the head row and the anchors. */
function combine(
  ranges: RangeResult[],
  chain: { startSeq: number; startHash: Buffer; headSeq: number; maxSeq: number; headHash: string; anchors: Anchor[] },
): VerifyResult {
  let lastSeq = chain.startSeq;
  let lastHash = chain.startHash.toString("hex");
  let count = 0;
  let anchorsChecked = 0;
  let firstBad: VerifyProblem | undefined;
  for (const [index, range] of ranges.entries()) {
    if (index > 0 && range.firstSeq !== null) {
      if (range.firstSeq !== lastSeq + 1) {
        firstBad = { seq: lastSeq + 1, reason: `event ${lastSeq + 1} is missing (next stored event is ${range.firstSeq})` };
        break;
      }
      if (range.firstPrev !== lastHash) {
        firstBad = { seq: range.firstSeq, reason: "previous hash does not link to the event before it" };
        break;
      }
    }
    count += range.count;
    anchorsChecked += range.anchorsChecked;
    if (range.firstBad) {
      firstBad = range.firstBad;
      break;
    }
    if (range.firstSeq !== null) {
      lastSeq = range.lastSeq;
      lastHash = range.lastHash;
    }
  }
  const result: VerifyResult = { ok: true, count, headSeq: lastSeq, headHash: lastHash, startedAfterSeq: chain.startSeq, anchorsChecked, anchorsRetired: 0 };
  if (!firstBad) {
    if (chain.maxSeq > chain.headSeq) {
      // Every append moves the head row in the same transaction: events past it mean the head was set back.
      firstBad = { seq: chain.headSeq + 1, reason: `event ${chain.headSeq + 1} is stored after the chain head row (head at ${chain.headSeq})` };
    } else if (chain.headSeq > lastSeq) {
      firstBad = { seq: lastSeq + 1, reason: `event ${lastSeq + 1} is missing (head is at ${chain.headSeq})` };
    } else if (chain.headSeq === lastSeq && lastSeq > chain.startSeq && chain.headHash !== lastHash) {
      firstBad = { seq: lastSeq, reason: "chain head row records a different hash" };
    }
  }
  if (!firstBad) {
    const unreached = chain.anchors.find((anchor) => anchor.seq > lastSeq);
    if (unreached) firstBad = { seq: unreached.seq, reason: `anchor in ${unreached.location} names an event that is missing` };
  }
  return firstBad ? { ...result, ok: false, firstBad } : result;
}
