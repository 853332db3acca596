import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { PassThrough } from "node:stream";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAnchor, writeAnchor } from "../../src/audit/anchor.js";
import { appendEvents } from "../../src/audit/append.js";
import { collectGitHubAnchors } from "../../src/audit/github-anchors.js";
import { verifyAudit } from "../../src/audit/verify.js";
import { runCli } from "../../src/cli.js";
import { standaloneInstallationClients } from "../../src/github/standalone.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { mockInstallationTokens } from "../helpers/harness.js";
import { testPrivateKey } from "../helpers/webhooks.js";

let db: TestDatabase;
const dir = mkdtempSync(path.join(os.tmpdir(), "aura-anchors-"));
const events = (n: number, tag: string) => Array.from({ length: n }, (_, i) => ({ actor: "a", action: "t.done", subject: `${tag}-${i}`, payload: { i } }));

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

/** An attacker with database rights rewrites the whole chain consistently: it verifies on its own. */
async function rewriteHistory(target: TestDatabase, count: number): Promise<void> {
  const client = await target.pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SET LOCAL session_replication_role = replica");
    await client.query("DELETE FROM audit.events");
    await client.query("UPDATE audit.head SET seq = 0, hash = decode(repeat('00', 32), 'hex')");
    await client.query("COMMIT");
  } finally {
    client.release();
  }
  await appendEvents(target.pool, events(count, "forged"));
}

async function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; output: string }> {
  const out = new PassThrough();
  let output = "";
  out.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const saved = { ...process.env };
  process.env.DATABASE_URL = db.url;
  Object.assign(process.env, env);
  try {
    const code = await runCli(argv, out);
    return { code, output };
  } finally {
    process.env = saved;
  }
}

describe("anchors outside the database", () => {
  it("writes a signed anchor file that verify checks, and refuses a file whose content was changed", async () => {
    await appendEvents(db.pool, events(5, "real"));
    const file = path.join(dir, "anchor.json");

    const anchor = await writeAnchor(db.pool, file, testPrivateKey);
    const ok = await cli(["audit", "verify", "--anchor", file]);
    const forged = { ...JSON.parse(readFileSync(file, "utf8")), hash: "ab".repeat(32) };
    writeFileSync(path.join(dir, "forged.json"), JSON.stringify(forged));

    expect(anchor.signature).toBeTruthy();
    expect(ok.code).toBe(0);
    expect(ok.output).toContain(`head seq ${anchor.seq}`);
    expect(ok.output).toContain("OK: the chain is intact.");
    expect(() => readAnchor(path.join(dir, "forged.json"))).toThrow(/signature that does not match/);
  });

  it("catches a consistently rewritten chain through the anchor GitHub holds in a status comment", async () => {
    const local = await createTestDatabase();
    try {
      await appendEvents(local.pool, events(8, "real"));
      const head = (await local.pool.query("SELECT seq, hash FROM audit.head")).rows[0];
      await local.pool.query("INSERT INTO installations (id) VALUES (1)");
      await local.pool.query("INSERT INTO requirements (installation_id, repo, issue_number, status_comment_id) VALUES (1, 'octo-org/widgets', 4, 555)");
      mockInstallationTokens();
      nock("https://api.github.com")
        .get("/repos/octo-org/widgets/issues/comments/555")
        .times(2)
        .reply(200, { id: 555, body: `status…\n<!-- aura:anchor seq=${head.seq} hash=${head.hash.toString("hex")} -->` });
      const github = standaloneInstallationClients({ appId: 123, privateKey: testPrivateKey, baseUrl: "https://api.github.com" });

      const before = await verifyAudit(local.pool, (await collectGitHubAnchors(local.pool, github)).anchors);
      await rewriteHistory(local, 10);
      const internal = await verifyAudit(local.pool);
      const after = await verifyAudit(local.pool, (await collectGitHubAnchors(local.pool, github)).anchors);

      expect(before).toMatchObject({ ok: true, anchorsChecked: 1 });
      expect(internal.ok).toBe(true);
      expect(after.firstBad).toEqual({ seq: 8, reason: "anchor in github:octo-org/widgets#4 records a different hash" });
    } finally {
      await local.drop();
    }
  });

  it("makes `aura audit verify --github` read the status comment's anchor as the app and exit 1 naming the rewritten event", async () => {
    const local = await createTestDatabase();
    try {
      await appendEvents(local.pool, events(6, "real"));
      const head = (await local.pool.query("SELECT seq, hash FROM audit.head")).rows[0];
      await local.pool.query("INSERT INTO installations (id) VALUES (7)");
      await local.pool.query("INSERT INTO requirements (installation_id, repo, issue_number, status_comment_id) VALUES (7, 'octo-org/gadgets', 9, 556)");
      await rewriteHistory(local, 7);
      mockInstallationTokens();
      // Only a request made with an installation token (authenticated as the app) is answered.
      const comment = nock("https://api.github.com", { reqheaders: { authorization: /^token ghs_/ } })
        .get("/repos/octo-org/gadgets/issues/comments/556")
        .reply(200, { id: 556, body: `status…\n<!-- aura:anchor seq=${head.seq} hash=${head.hash.toString("hex")} -->` });

      const result = await cli(["audit", "verify", "--github"], { DATABASE_URL: local.url, APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: "s" });

      expect(comment.isDone()).toBe(true);
      expect(result.output).toContain("1 anchors checked");
      expect(result.output).toContain("FAILED at seq 6: anchor in github:octo-org/gadgets#9 records a different hash");
      expect(result.code).toBe(1);
    } finally {
      await local.drop();
    }
  });

  it("makes `aura audit verify` exit 1 naming the first bad event", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SET LOCAL session_replication_role = replica");
      await client.query("UPDATE audit.events SET canonical = replace(canonical, 'real-2', 'real-X') WHERE seq = 3");
      await client.query("COMMIT");
    } finally {
      client.release();
    }

    const result = await cli(["audit", "verify"]);
    const independent = await cli(["audit", "verify", "--independent"]);

    expect(result.code).toBe(1);
    expect(result.output).toContain("FAILED at seq 3: stored hash does not match sha256(prev_hash || canonical)");
    expect(result.output).toContain("hashes recomputed by the database server");
    expect(independent.code).toBe(1);
    expect(independent.output).toContain("FAILED at seq 3: stored hash does not match sha256(prev_hash || canonical)");
    expect(independent.output).toContain("hashes recomputed by this verifier");
  });

  it("exports JSON lines", async () => {
    const file = path.join(dir, "export.jsonl");

    const result = await cli(["audit", "export", "--out", file]);

    const lines = readFileSync(file, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { seq: number; hash: string });
    expect(result.code).toBe(0);
    expect(lines.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(lines[0]?.hash).toMatch(/^[0-9a-f]{64}$/);
  });
});
