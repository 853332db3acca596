// The backup file: gzip of a first line `AURA-BACKUP 1`, one line of JSON (the manifest: what was dumped and
// the audit anchor of the same snapshot), then each table's rows in COPY text format, in manifest order, as
// frames `<bytes>\n<bytes of data>` ending with `0\n`. One file that streams both ways, with no size limit
// and nothing but Node's zlib to read it.
import { createRequire } from "node:module";
import type { Readable } from "node:stream";
import { z } from "zod";
import { AnchorFile } from "../audit/anchor.js";

export const BACKUP_MAGIC = "AURA-BACKUP 1";

export const BackupTable = z.object({
  schema: z.string(),
  name: z.string(),
  /** Stored columns only: generated columns are computed again on restore. */
  columns: z.array(z.string()),
  /** Set for a partition, which migrations do not create: how to create it again. */
  partition: z.object({ parent: z.string(), bound: z.string(), owner: z.string(), triggers: z.array(z.string()) }).optional(),
});
export type BackupTable = z.infer<typeof BackupTable>;

export const BackupManifest = z.object({
  kind: z.literal("aura-backup"),
  createdAt: z.string(),
  database: z.string(),
  serverVersion: z.string(),
  graphileWorker: z.string(),
  migrations: z.array(z.object({ name: z.string(), checksum: z.string() })),
  anchor: AnchorFile,
  /** In foreign-key order: a table comes after every table it references. */
  tables: z.array(BackupTable),
  sequences: z.array(z.object({ name: z.string(), lastValue: z.string(), isCalled: z.boolean() })),
});
export type BackupManifest = z.infer<typeof BackupManifest>;

export class BackupInvalid extends Error {
  override name = "BackupInvalid";
}

export class RestoreRefused extends Error {
  override name = "RestoreRefused";
}

export const qualified = (t: { schema: string; name: string }) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The graphile-worker version installed here; its private tables are only restored by the same version. */
export function graphileWorkerVersion(): string {
  const pkg = createRequire(import.meta.url)("graphile-worker/package.json") as { version: string };
  return pkg.version;
}

/** Reads a backup stream: lines and length-prefixed frames from the gunzipped bytes. */
export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly chunks: AsyncIterator<Buffer>;

  constructor(stream: Readable) {
    this.chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  }

  private async fill(): Promise<boolean> {
    const next = await this.chunks.next();
    if (next.done) return false;
    this.buffer = this.buffer.length === 0 ? next.value : Buffer.concat([this.buffer, next.value]);
    return true;
  }

  async line(): Promise<string> {
    for (;;) {
      const end = this.buffer.indexOf(10);
      if (end >= 0) {
        const text = this.buffer.subarray(0, end).toString("utf8");
        this.buffer = this.buffer.subarray(end + 1);
        return text;
      }
      if (!(await this.fill())) throw new BackupInvalid("the backup ends in the middle of a line: the file is truncated");
    }
  }

  /** The next frame of the current table, or undefined at its end. */
  async frame(): Promise<Buffer | undefined> {
    const header = await this.line();
    if (!/^\d+$/.test(header)) throw new BackupInvalid(`the backup has a damaged frame header (${JSON.stringify(header.slice(0, 20))})`);
    const size = Number(header);
    if (size === 0) return undefined;
    while (this.buffer.length < size) {
      if (!(await this.fill())) throw new BackupInvalid("the backup ends in the middle of a table: the file is truncated");
    }
    const data = this.buffer.subarray(0, size);
    this.buffer = this.buffer.subarray(size);
    return data;
  }
}
