// `aura restore FILE`: a backup made by `aura backup` into an empty database. The schema comes from the
// migrations the backup names (checked against this code's files by checksum) and graphile-worker's own
// migrations; then, in one transaction with the tables' own triggers off (the audit tables refuse writes
// other than appends, and this is the one legitimate bulk load), every table's rows are copied back in
// foreign-key order and the sequences set. A target that already holds tables is refused, never merged.
import { copyFileSync, createReadStream, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { runMigrations as runGraphileMigrations } from "graphile-worker";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { loadMigrations, migrate, migrationsDir } from "../db/migrate.js";
import { openClient } from "../db/pool.js";
import {
  BACKUP_MAGIC,
  BackupInvalid,
  BackupManifest,
  FrameReader,
  graphileWorkerVersion,
  qualified,
  quoteIdent,
  RestoreRefused,
  type BackupTable,
} from "./backup-format.js";

const USER_TABLES_SQL = `
  SELECT n.nspname AS schema, c.relname AS name,
    ARRAY(SELECT a.attname::text FROM pg_attribute a
          WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
          ORDER BY a.attnum) AS columns
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
  ORDER BY n.nspname, c.relname`;

type CatalogTable = { schema: string; name: string; columns: string[] };

/** Opens a backup file and reads its manifest; the reader is left at the first table's data. */
export async function openBackup(file: string): Promise<{ manifest: BackupManifest; reader: FrameReader; close: () => void }> {
  if (!existsSync(file)) throw new BackupInvalid(`${file} does not exist`);
  const input = createReadStream(file);
  const gunzip = createGunzip();
  input.pipe(gunzip);
  input.on("error", (error) => gunzip.destroy(error));
  const reader = new FrameReader(gunzip);
  const close = () => {
    input.destroy();
    gunzip.destroy();
  };
  try {
    const magic = await reader.line().catch(() => "");
    if (magic !== BACKUP_MAGIC) throw new BackupInvalid(`${file} is not an Aura backup (made by \`aura backup\`)`);
    const manifest = BackupManifest.parse(JSON.parse(await reader.line()));
    return { manifest, reader, close };
  } catch (error) {
    close();
    if (error instanceof BackupInvalid) throw error;
    throw new BackupInvalid(`${file} is not a readable Aura backup: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Refuses a target that holds any table: a restore never merges into existing data. */
async function requireEmpty(client: pg.Client): Promise<void> {
  const tables = (await client.query<CatalogTable>(USER_TABLES_SQL)).rows;
  if (tables.length === 0) return;
  const database = (await client.query<{ name: string }>("SELECT current_database() AS name")).rows[0]?.name;
  const named = tables
    .slice(0, 5)
    .map((t) => `${t.schema}.${t.name}`)
    .join(", ");
  throw new RestoreRefused(
    `Refusing to restore into database ${database}: it is not empty (found ${tables.length} table${tables.length === 1 ? "" : "s"}: ` +
      `${named}${tables.length > 5 ? ", …" : ""}). Nothing was changed. Restore into a new, empty database ` +
      "(CREATE DATABASE, then point DATABASE_URL at it) or, without DATABASE_URL, an empty AURA_DATA_DIR.",
  );
}

/** Applies exactly the backup's migrations (newer ones run at the app's next start), from this code's files. */
async function migrateAsBackup(url: string, manifest: BackupManifest): Promise<void> {
  const known = new Map(loadMigrations().map((m) => [m.name, m.checksum]));
  for (const migration of manifest.migrations) {
    const checksum = known.get(migration.name);
    if (checksum === undefined) {
      throw new RestoreRefused(
        `The backup was made by a newer Aura (it has migration ${migration.name}, which this version lacks). Restore it with that version or a later one.`,
      );
    }
    if (checksum !== migration.checksum)
      throw new RestoreRefused(
        `Migration ${migration.name} in this version differs from the one the backup's database applied; restore with the version that made the backup.`,
      );
  }
  const installed = graphileWorkerVersion();
  if (installed !== manifest.graphileWorker) {
    throw new RestoreRefused(
      `The backup's job queue is graphile-worker ${manifest.graphileWorker}, this Aura has ${installed}: restore with the Aura version that made the backup.`,
    );
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "aura-restore-migrations-"));
  try {
    for (const migration of manifest.migrations) copyFileSync(path.join(migrationsDir, migration.name), path.join(dir, migration.name));
    await migrate(url, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await runGraphileMigrations({ connectionString: url });
}

/** Each table of the backup must exist here (a partition is created) with the same stored columns. */
async function prepareTables(client: pg.Client, tables: BackupTable[]): Promise<void> {
  const present = new Map((await client.query<CatalogTable>(USER_TABLES_SQL)).rows.map((t) => [`${t.schema}.${t.name}`, t.columns]));
  for (const table of tables) {
    const columns = present.get(`${table.schema}.${table.name}`);
    if (columns === undefined && table.partition) {
      const { parent, bound, owner, triggers } = table.partition;
      await client.query(`CREATE TABLE ${qualified(table)} PARTITION OF ${parent} ${bound}`);
      for (const trigger of triggers) await client.query(trigger);
      await client.query(`ALTER TABLE ${qualified(table)} OWNER TO ${quoteIdent(owner)}`);
      continue;
    }
    if (columns === undefined)
      throw new RestoreRefused(
        `The backup has table ${table.schema}.${table.name}, which the migrations did not create; the backup does not match this version's schema.`,
      );
    if (columns.join(",") !== table.columns.join(",")) {
      throw new RestoreRefused(`Table ${table.schema}.${table.name} has columns (${columns.join(", ")}) here and (${table.columns.join(", ")}) in the backup.`);
    }
  }
}

async function loadTables(client: pg.Client, tables: BackupTable[], reader: FrameReader): Promise<number> {
  const names = tables.map(qualified);
  for (const name of names) await client.query(`ALTER TABLE ${name} DISABLE TRIGGER USER`);
  // Rows the migrations seeded (the audit head, the migrations' own records) are replaced by the backup's.
  await client.query(`TRUNCATE ${names.join(", ")}`);
  let bytes = 0;
  for (const table of tables) {
    const columns = table.columns.map(quoteIdent).join(", ");
    const sink = client.query(copyFrom(`COPY ${qualified(table)} (${columns}) FROM STDIN`));
    const frames = async function* () {
      for (let frame = await reader.frame(); frame; frame = await reader.frame()) {
        bytes += frame.length;
        yield frame;
      }
    };
    await pipeline(Readable.from(frames()), sink);
  }
  for (const name of names) await client.query(`ALTER TABLE ${name} ENABLE TRIGGER USER`);
  return bytes;
}

export type RestoreResult = { manifest: BackupManifest; anchorFile: string; bytes: number };

/**
 * Restores `file` into the empty database at `databaseUrl` (its owner's URL) and writes the backup's audit
 * anchor to `anchorFile`, for `aura audit verify --anchor`. Jobs that were running when the backup was taken
 * are unlocked (their worker is gone) so the app's workers pick them up again.
 */
export async function restoreDatabase(databaseUrl: string, file: string, anchorFile: string): Promise<RestoreResult> {
  const { manifest, reader, close } = await openBackup(file);
  const client = await openClient(databaseUrl);
  try {
    await requireEmpty(client);
    try {
      await migrateAsBackup(databaseUrl, manifest);
      await client.query("BEGIN");
      await prepareTables(client, manifest.tables);
      const bytes = await loadTables(client, manifest.tables, reader);
      for (const sequence of manifest.sequences)
        await client.query("SELECT setval($1::regclass, $2::bigint, $3)", [sequence.name, sequence.lastValue, sequence.isCalled]);
      await client.query("COMMIT");
      await client.query("SELECT graphile_worker.force_unlock_workers(ARRAY(SELECT DISTINCT locked_by FROM graphile_worker.jobs WHERE locked_by IS NOT NULL))");
      writeFileSync(anchorFile, `${JSON.stringify(manifest.anchor, null, 2)}\n`);
      return { manifest, anchorFile, bytes };
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      if (error instanceof RestoreRefused || error instanceof BackupInvalid) throw error;
      throw new Error(
        `The restore failed: ${error instanceof Error ? error.message : String(error)}. The target database may hold a partial schema now: ` +
          "drop it and create it again (or empty AURA_DATA_DIR) before trying again.",
        { cause: error },
      );
    }
  } finally {
    close();
    await client.end();
  }
}
