// Worker thread for parallel audit verification: checks seq ranges inside the snapshot exported by the
// coordinating transaction, so both halves see exactly the same rows. It stays up between verifications
// (unreferenced, so it never keeps the process alive) to save its start-up time.
import { parentPort } from "node:worker_threads";
import pg from "pg";
import { checkRange, VERIFY_SESSION_SQL, type Anchor, type HashedBy } from "./chain-checker.js";

type Job = { id: number; databaseUrl: string; snapshot: string; afterSeq: number; toSeq: number; anchors: Anchor[]; hashedBy: HashedBy };

async function run(job: Job) {
  const client = new pg.Client({ connectionString: job.databaseUrl });
  // A lost connection fails the query or stream in progress (reported as this range's error), never the thread.
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query(`SET TRANSACTION SNAPSHOT '${job.snapshot.replace(/'/g, "")}'`);
    await client.query(VERIFY_SESSION_SQL);
    const result = await checkRange(client, { afterSeq: job.afterSeq, toSeq: job.toSeq, startHash: null, anchors: job.anchors, hashedBy: job.hashedBy });
    await client.query("COMMIT");
    return { id: job.id, ok: true, result };
  } catch (error) {
    return { id: job.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

parentPort?.on("message", (job: Job) => {
  void run(job).then((answer) => parentPort?.postMessage(answer));
});
parentPort?.postMessage({ ready: true });
