// Anchors the chain head outside the database: a small JSON file with the head's seq and hash, signed with
// the app's private key when one is configured, and recorded in audit.anchors so verify checks it later.
import { createPrivateKey, createPublicKey, sign, verify } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import type pg from "pg";
import { z } from "zod";
import type { Anchor } from "./verify.js";

export const AnchorFile = z.object({
  kind: z.literal("aura-audit-anchor"),
  seq: z.number().int().nonnegative(),
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  signature: z.string().optional(),
  publicKey: z.string().optional(),
});
export type AnchorFile = z.infer<typeof AnchorFile>;

export class AnchorInvalid extends Error {
  override name = "AnchorInvalid";
}

const signedText = (a: Pick<AnchorFile, "seq" | "hash" | "createdAt">) => `aura-audit-anchor:${a.seq}:${a.hash}:${a.createdAt}`;

/** An anchor for the head (seq, hash), signed with the app key when one is given; written nowhere. */
export function makeAnchor(seq: number, hash: Buffer, privateKeyPem?: string): AnchorFile {
  const anchor: AnchorFile = { kind: "aura-audit-anchor", seq, hash: hash.toString("hex"), createdAt: new Date().toISOString() };
  if (privateKeyPem) {
    const key = createPrivateKey(privateKeyPem);
    anchor.signature = sign("sha256", Buffer.from(signedText(anchor)), key).toString("base64");
    anchor.publicKey = createPublicKey(key).export({ type: "spki", format: "pem" }).toString();
  }
  return anchor;
}

/** Writes the current head to `file` and records the anchor in the database. */
export async function writeAnchor(pool: pg.Pool, file: string, privateKeyPem?: string): Promise<AnchorFile> {
  const head = (await pool.query<{ seq: string; hash: Buffer }>("SELECT seq, hash FROM audit.head WHERE id = 1")).rows[0];
  if (!head) throw new AnchorInvalid("the audit head row is missing: run `aura migrate` first");
  const anchor = makeAnchor(Number(head.seq), head.hash, privateKeyPem);
  writeFileSync(file, `${JSON.stringify(anchor, null, 2)}\n`);
  await pool.query("SELECT audit.add_anchor($1, $2, $3)", [anchor.seq, head.hash, `file:${file}`]);
  return anchor;
}

/** Reads an anchor file, checking its signature when it carries one. */
export function readAnchor(file: string): Anchor {
  let parsed: AnchorFile;
  try {
    parsed = AnchorFile.parse(JSON.parse(readFileSync(file, "utf8")));
  } catch (error) {
    throw new AnchorInvalid(`${file} is not an Aura audit anchor: ${(error as Error).message}`);
  }
  if (parsed.signature && parsed.publicKey) {
    const ok = verify("sha256", Buffer.from(signedText(parsed)), createPublicKey(parsed.publicKey), Buffer.from(parsed.signature, "base64"));
    if (!ok) throw new AnchorInvalid(`${file} has a signature that does not match its content`);
  }
  return { seq: parsed.seq, hash: parsed.hash, location: `file:${file}` };
}
