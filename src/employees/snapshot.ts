// The execution snapshot of one work attempt: who worked (employee, model, parameters), on what (base SHA,
// prompt hash), with which tools (node, git, bubblewrap versions) and in which sandbox mode. It is stored,
// audited, and named by the Aura-Snapshot trailer of every commit the attempt makes, so a commit can be
// traced back to exactly how it was produced.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import type pg from "pg";
import { appendEvents } from "../audit/append.js";
import type { sandboxMode } from "../workspace/index.js";
import { insertSnapshot } from "./store.js";

const execFileAsync = promisify(execFile);
const canonicalize = createRequire(import.meta.url)("canonicalize") as (input: unknown) => string | undefined;

export type ToolVersions = { node: string; git: string | null; bwrap: string | null };

export type ExecutionSnapshot = {
  taskId: number;
  attempt: number;
  revisionRound: number;
  employee: { id: string; provider: string; model: string };
  parameters: { temperature: number | null; maxOutputTokens: number; timeoutMs: number; maxEditReasks: number; maxFixRounds: number };
  promptSha256: string;
  baseSha: string;
  startSha: string;
  branch: string;
  tools: ToolVersions;
  /** The sandbox mode the attempt ran under (as `sandboxMode` reports it). */
  sandbox: ReturnType<typeof sandboxMode>;
  policyRevision: string;
  /** How the employee worked: as an agent (`native`, `actions`) with its step cap, or single-shot (`none`). */
  work?: { mode: "native" | "actions" | "none"; maxSteps: number | null };
  createdAt: string;
};

async function versionOf(file: string, args: string[]): Promise<string | null> {
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: 5_000, env: { PATH: "/usr/local/bin:/usr/bin:/bin" } });
    return stdout.trim().split("\n")[0] ?? null;
  } catch {
    return null;
  }
}

let cachedTools: Promise<ToolVersions> | undefined;

/** Versions of the tools the work loop ran (read once per process: they do not change under it). */
export function toolVersions(): Promise<ToolVersions> {
  cachedTools ??= (async () => ({
    node: process.version,
    git: await versionOf("git", ["--version"]),
    bwrap: await versionOf("/usr/bin/bwrap", ["--version"]),
  }))();
  return cachedTools;
}

/** The snapshot's id: the first 16 hex digits of sha256 over its canonical JSON. */
export function snapshotId(snapshot: ExecutionSnapshot): string {
  const canonical = canonicalize(snapshot);
  if (canonical === undefined) throw new TypeError("snapshot cannot be canonicalised");
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

/** Stores and audits the snapshot; storing the same snapshot twice keeps one row. Returns its id. */
export async function recordSnapshot(client: Pick<pg.PoolClient, "query">, snapshot: ExecutionSnapshot, subject: string): Promise<string> {
  const id = snapshotId(snapshot);
  if (await insertSnapshot(client, id, snapshot)) {
    await appendEvents(client, [{ actor: snapshot.employee.id, action: "task.snapshot", subject, payload: { snapshotId: id, ...snapshot } }]);
  }
  return id;
}
