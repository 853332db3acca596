// The embedded default for real: its own PostgreSQL cluster in a temp data dir, migrations as the
// superuser, the app connected as aura_app. (The other server tests use DATABASE_URL on the shared cluster.)
import { chmodSync, mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/append.js";
import { loadConfig } from "../../src/config/env.js";
import { appRolePasswordFile } from "../../src/db/app-role.js";
import { startAura, type RunningAura } from "../../src/server/start.js";
import { deliver, examplePayload, testPrivateKey, testSecret } from "../helpers/webhooks.js";
import { waitForProcessed } from "../helpers/wait.js";

const silent = pino({ level: "silent" });

/** The jobs of `task` still queued once they have drained or `timeoutMs` has passed, with their last errors. */
async function jobsLeft(pool: pg.Pool, task: string, timeoutMs: number): Promise<Array<{ last_error: string | null }>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ last_error: string | null }>("SELECT last_error FROM graphile_worker.jobs WHERE task_identifier = $1", [task]);
    if (rows.length === 0 || Date.now() > deadline) return rows;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("the embedded default connects the app as a non-owner role", () => {
  let dataDir: string;
  let aura: RunningAura;
  let appPool: pg.Pool;
  const config = () =>
    loadConfig({ APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: testSecret, AURA_DATA_DIR: dataDir, AURA_GITHUB_WRITE_INTERVAL_MS: "0" });
  const start = () => startAura(config(), { log: silent, port: 0, host: "127.0.0.1", workerPollMs: 100, leaderRetryMs: 100, onlyTasks: ["pull.closed"] });

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(os.tmpdir(), "aura-app-role-"));
    // As root the embedded server runs as the postgres user, which must reach the data dir.
    chmodSync(dataDir, 0o755);
    aura = await start();
    appPool = new pg.Pool({ connectionString: aura.databaseUrl, max: 2 });
  }, 90_000);

  afterAll(async () => {
    await appPool?.end();
    await aura?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("uses aura_app, which is neither superuser nor owner of the audit log, with a password file only the app can read", async () => {
    const { rows } = await appPool.query(
      `SELECT current_user AS role, r.rolsuper AS superuser, pg_has_role(current_user, c.relowner, 'USAGE') AS owns_audit
       FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = 'audit.events'::regclass`,
    );

    expect(new URL(aura.databaseUrl).username).toBe("aura_app");
    expect(new URL(aura.ownerDatabaseUrl).username).toBe("postgres");
    expect(rows).toEqual([{ role: "aura_app", superuser: false, owns_audit: false }]);
    expect(statSync(appRolePasswordFile(dataDir)).mode & 0o777).toBe(0o600);
  });

  it("refuses a direct INSERT into the audit log while append through the function works", async () => {
    const refusal = (sql: string) =>
      appPool.query(sql).then(
        () => "accepted",
        (error: Error) => error.message,
      );

    const direct = await refusal("INSERT INTO audit.events (seq, ts, prev_hash, hash, canonical) VALUES (999999, now(), '\\x00', '\\x00', '{}')");
    const disable = await refusal("ALTER TABLE audit.events DISABLE TRIGGER refuse_row_change");
    const appended = await new AuditLog(appPool).append({ actor: "test", action: "role.check", subject: "aura_app", payload: { ok: true } });

    expect(direct).toMatch(/permission denied/);
    expect(disable).toMatch(/must be owner/);
    expect(appended).toMatchObject({ seq: expect.any(Number) });
    const { rows } = await appPool.query("SELECT actor, action FROM audit.events ORDER BY seq DESC LIMIT 1");
    expect(rows).toEqual([{ actor: "test", action: "role.check" }]);
  });

  it("cannot record a migration or change the append-only ledgers", async () => {
    await expect(appPool.query("INSERT INTO aura_migrations (name, checksum) VALUES ('999-x.sql', 'x')")).rejects.toThrow(/permission denied/);
    await expect(appPool.query("DELETE FROM outcome_ledger")).rejects.toThrow(/permission denied/);
    await expect(appPool.query("CREATE TABLE public.sneaky (id int)")).rejects.toThrow(/permission denied/);
  });

  it("reports the role on /ready without warnings", async () => {
    const ready = await fetch(`http://127.0.0.1:${aura.port}/ready`);

    const body = (await ready.json()) as Record<string, unknown>;
    expect(ready.status).toBe(200);
    expect(body).toMatchObject({ status: "ready", databaseRole: "aura_app" });
    expect(body).not.toHaveProperty("warnings");
  });

  it("records a delivery and runs its job as aura_app, and again after a restart with the stored password", async () => {
    const payload = examplePayload("pull_request", "closed");
    const first = await deliver(aura.port, "pull_request", payload);
    await waitForProcessed(appPool, first.id, 20_000);
    await appPool.end();
    await aura.stop();

    aura = await start();
    appPool = new pg.Pool({ connectionString: aura.databaseUrl, max: 2 });
    const second = await deliver(aura.port, "pull_request", payload);

    await waitForProcessed(appPool, second.id, 20_000);
    expect(first.status).toBe(200);
    expect(new URL(aura.databaseUrl).username).toBe("aura_app");
    // The worker deletes a job's row just after the job (which marks the delivery processed) returns.
    expect(await jobsLeft(appPool, "pull.closed", 10_000)).toEqual([]);
  }, 60_000);
});
