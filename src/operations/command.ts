// `aura backup` and `aura restore`: argument parsing and the embedded-or-external choice of database.
import { existsSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { AppConfig } from "../config/env.js";
import { withDatabase } from "../db/with-database.js";
import { backupDatabase } from "./backup.js";
import { BackupInvalid, RestoreRefused } from "./backup-format.js";
import { restoreDatabase } from "./restore.js";

export const BACKUP_USAGE = "backup [--out FILE]";
export const RESTORE_USAGE = "restore FILE [--anchor-out FILE]";

const stamp = (date: Date) =>
  date
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");

export async function runBackupCommand(config: AppConfig, args: string[], out: NodeJS.WritableStream, now = new Date()): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: "string" } } });
  const file = values.out ?? `aura-backup-${stamp(now)}.aura-backup`;
  const { manifest } = await withDatabase(config, (url) => backupDatabase(url, file, { privateKeyPem: config.privateKey }), "owner");
  out.write(
    `Backed up ${manifest.tables.length} tables of ${manifest.database} to ${file}, with the audit anchor seq ${manifest.anchor.seq} ` +
      `(${manifest.anchor.hash})${manifest.anchor.signature ? ", signed" : ""}. Restore it with \`aura restore ${file}\`.\n`,
  );
  return 0;
}

export async function runRestoreCommand(config: AppConfig, args: string[], out: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { "anchor-out": { type: "string" } } });
  const [file] = positionals;
  if (!file || positionals.length > 1) {
    out.write(`Usage: aura ${RESTORE_USAGE}\n`);
    return 2;
  }
  const anchorFile = values["anchor-out"] ?? `${file}.anchor.json`;
  const external = config.MIGRATION_DATABASE_URL ?? config.DATABASE_URL;
  const cluster = path.join(path.resolve(config.AURA_DATA_DIR), "postgres", "PG_VERSION");
  if (!external && existsSync(cluster)) {
    out.write(
      `Refusing to restore into AURA_DATA_DIR=${config.AURA_DATA_DIR}: it already holds a database (${cluster}). Nothing was changed. ` +
        "Set AURA_DATA_DIR to a new, empty directory (or DATABASE_URL to an empty database) and run aura restore again.\n",
    );
    return 1;
  }
  try {
    const result = await withDatabase(config, (url) => restoreDatabase(url, file, anchorFile), "owner");
    out.write(
      `Restored ${result.manifest.tables.length} tables from ${file} (made ${result.manifest.createdAt}). The backup's audit anchor ` +
        `(seq ${result.manifest.anchor.seq}) is in ${anchorFile}: check the chain with \`aura audit verify --anchor ${anchorFile}\`.\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof RestoreRefused) && !(error instanceof BackupInvalid)) throw error;
    out.write(`${error.message}\n`);
    return 1;
  }
}
