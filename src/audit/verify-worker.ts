// Worker thread for a parallel audit verification: checks one seq range inside the snapshot exported by
// the coordinating transaction, so both halves see exactly the same rows.
import { parentPort, workerData } from "node:worker_threads";
import pg from "pg";
import { checkRange, type Anchor } from "./chain-checker.js";

type Job = { databaseUrl: string; snapshot: string; afterSeq: number; toSeq: number; anchors: Anchor[] };

const job = workerData as Job;
const client = new pg.Client({ connectionString: job.databaseUrl });
try {
  await client.connect();
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  await client.query(`SET TRANSACTION SNAPSHOT '${job.snapshot.replace(/'/g, "")}'`);
  await client.query("SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)");
  const result = await checkRange(client, { afterSeq: job.afterSeq, toSeq: job.toSeq, startHash: null, anchors: job.anchors });
  await client.query("COMMIT");
  parentPort?.postMessage({ ok: true, result });
} catch (error) {
  parentPort?.postMessage({ ok: false, error: error instanceof Error ? error.message : String(error) });
} finally {
  await client.end().catch(() => undefined);
}
