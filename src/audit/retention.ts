// Audit retention: month partitions older than the retention period are replaced by a checkpoint row
// (range, first and last seq, count, last hash) and dropped whole; verification continues from there.
import pg from "pg";
import { openClient } from "../db/pool.js";

export type Checkpoint = {
  partitionName: string;
  firstSeq: number;
  lastSeq: number;
  eventCount: number;
  lastHash: string;
};

/** Retires partitions that ended more than `retentionDays` before `now`. */
export async function retireAuditPartitions(pool: pg.Pool, retentionDays: number, now = new Date()): Promise<Checkpoint[]> {
  const cutoff = new Date(now.getTime() - retentionDays * 86_400_000);
  const result = await pool.query<{
    partition_name: string;
    first_seq: string;
    last_seq: string;
    event_count: string;
    last_hash: Buffer;
  }>("SELECT * FROM audit.retire_partitions($1)", [cutoff]);
  return result.rows.map((row) => ({
    partitionName: row.partition_name,
    firstSeq: Number(row.first_seq),
    lastSeq: Number(row.last_seq),
    eventCount: Number(row.event_count),
    lastHash: row.last_hash.toString("hex"),
  }));
}

/**
 * Records the retention period in the database (as the owner, at start): `audit.retire_partitions` refuses any
 * cutoff newer than this, whoever calls it, so the app's own role cannot retire events earlier.
 */
export async function setAuditRetention(ownerDatabaseUrl: string, retentionDays: number): Promise<void> {
  const client = await openClient(ownerDatabaseUrl);
  try {
    await client.query("UPDATE audit.settings SET retention_days = $1 WHERE id = 1", [retentionDays]);
  } finally {
    await client.end();
  }
}
