// Writes audit events as JSON lines (one canonical event with its seq, prev_hash and hash per line).
import type { Writable } from "node:stream";
import type pg from "pg";

export async function exportAudit(pool: pg.Pool, out: Writable, since?: Date): Promise<number> {
  const client = await pool.connect();
  let count = 0;
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    await client.query(
      `DECLARE audit_export NO SCROLL CURSOR FOR
       SELECT seq, ts, actor, action, subject, payload, encode(prev_hash, 'hex') AS prev_hash,
              encode(hash, 'hex') AS hash, canonical
       FROM audit.events WHERE ts >= $1 ORDER BY seq`,
      [since ?? new Date(0)],
    );
    for (;;) {
      const { rows } = await client.query<Record<string, unknown>>("FETCH 5000 FROM audit_export");
      if (rows.length === 0) break;
      const text = rows
        .map((row) =>
          JSON.stringify({
            seq: Number(row.seq),
            ts: (row.ts as Date).toISOString(),
            actor: row.actor,
            action: row.action,
            subject: row.subject,
            payload: row.payload,
            prevHash: row.prev_hash,
            hash: row.hash,
            canonical: row.canonical,
          }),
        )
        .join("\n");
      count += rows.length;
      if (!out.write(`${text}\n`)) await new Promise((resolve) => out.once("drain", resolve));
    }
    await client.query("COMMIT");
    return count;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
