// The database roles of docker-compose.yml, for real on the test run's PostgreSQL: docker/postgres-init.sh
// as the postgres image runs it (superuser, once), then the app started with the compose file's two URLs.
// Migrations run as aura_owner (not a superuser) and the app's pool as aura_app. (Docker itself cannot run here.)
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import pg from "pg";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ConfigError, loadConfig } from "../../src/config/env.js";
import { startAura, type RunningAura } from "../../src/server/start.js";
import { adminUrl, asAdmin } from "../helpers/database.js";
import { deliver, examplePayload, testPrivateKey, testSecret } from "../helpers/webhooks.js";
import { waitForProcessed } from "../helpers/wait.js";

type Service = { environment?: Record<string, string> };
const compose = parse(readFileSync("docker-compose.yml", "utf8")) as { services: Record<string, Service> };

/** Compose's `${NAME:-default}` interpolation with nothing set in the environment: the defaults. */
const interpolate = (text: string) => text.replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, "$1");
const serviceEnv = (service: string) =>
  Object.fromEntries(Object.entries(compose.services[service]?.environment ?? {}).map(([key, value]) => [key, interpolate(String(value))]));

const database = `aura_compose_${randomBytes(4).toString("hex")}`;
const admin = new URL(adminUrl());

/** A URL of the compose file, pointed at the test server's host, port and this test's database. */
function onTestServer(composeUrl: string): string {
  const url = new URL(composeUrl);
  url.host = admin.host;
  url.pathname = `/${database}`;
  return url.toString();
}

const appEnv = serviceEnv("app");
const ownerUrl = onTestServer(appEnv.MIGRATION_DATABASE_URL ?? "");
const appUrl = onTestServer(appEnv.DATABASE_URL ?? "");
const silent = pino({ level: "silent" });
const config = (urls: { DATABASE_URL: string; MIGRATION_DATABASE_URL: string }) =>
  loadConfig({ APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: testSecret, AURA_GITHUB_WRITE_INTERVAL_MS: "0", ...urls });

describe("docker-compose.yml's database roles", () => {
  let aura: RunningAura;
  let appPool: pg.Pool;
  let init: ReturnType<typeof spawnSync>;

  beforeAll(async () => {
    // The image creates POSTGRES_DB (owned by the superuser) and then runs the init scripts against it.
    await asAdmin((client) => client.query(`CREATE DATABASE ${database}`));
    const postgresEnv = serviceEnv("postgres");
    init = spawnSync("bash", ["docker/postgres-init.sh"], {
      encoding: "utf8",
      env: {
        PATH: process.env.PATH,
        PGHOST: admin.hostname,
        PGPORT: admin.port,
        PGPASSWORD: decodeURIComponent(admin.password),
        POSTGRES_USER: decodeURIComponent(admin.username),
        POSTGRES_DB: database,
        AURA_DB_OWNER_PASSWORD: postgresEnv.AURA_DB_OWNER_PASSWORD,
        AURA_DB_APP_PASSWORD: postgresEnv.AURA_DB_APP_PASSWORD,
      },
    });
    if (init.error) throw new Error(`docker/postgres-init.sh needs bash and psql on PATH: ${init.error.message}`);
    aura = await startAura(config({ DATABASE_URL: appUrl, MIGRATION_DATABASE_URL: ownerUrl }), {
      log: silent,
      port: 0,
      host: "127.0.0.1",
      workerPollMs: 100,
      leaderRetryMs: 100,
      onlyTasks: ["pull.closed"],
    });
    appPool = new pg.Pool({ connectionString: aura.databaseUrl, max: 2 });
  }, 90_000);

  afterAll(async () => {
    await appPool?.end();
    await aura?.stop();
    await asAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  });

  it("creates the owner and the app's role, neither of them a superuser, with the passwords the app service uses", async () => {
    const { rows } = await asAdmin((client) =>
      client.query(
        `SELECT r.rolname, r.rolsuper, r.rolcanlogin, r.rolcreaterole, r.rolcreatedb
         FROM pg_roles r WHERE r.rolname IN ('aura_owner', 'aura_app') ORDER BY r.rolname`,
      ),
    );
    const owner = await asAdmin((client) => client.query("SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1", [database]));

    expect(init.stderr).toBe("");
    expect(init.status).toBe(0);
    expect(rows).toEqual([
      { rolname: "aura_app", rolsuper: false, rolcanlogin: true, rolcreaterole: false, rolcreatedb: false },
      { rolname: "aura_owner", rolsuper: false, rolcanlogin: true, rolcreaterole: false, rolcreatedb: false },
    ]);
    expect(owner.rows).toEqual([{ owner: "aura_owner" }]);
  });

  it("runs the migrations as aura_owner and the app's pool as aura_app", async () => {
    const migrated = await appPool.query(
      `SELECT DISTINCT pg_get_userbyid(c.relowner) AS owner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname IN ('public', 'graphile_worker') AND c.relkind IN ('r', 'p')`,
    );
    const { rows } = await appPool.query("SELECT current_user AS role, (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser");

    expect(new URL(aura.ownerDatabaseUrl).username).toBe("aura_owner");
    expect(new URL(aura.databaseUrl).username).toBe("aura_app");
    expect(migrated.rows).toEqual([{ owner: "aura_owner" }]);
    expect(rows).toEqual([{ role: "aura_app", superuser: false }]);
  });

  it("leaves the app no way to rewrite or re-chain the audit log", async () => {
    const refusal = (sql: string) =>
      appPool.query(sql).then(
        () => "accepted",
        (error: Error) => error.message,
      );

    const replica = await refusal("SET session_replication_role = replica");
    const disable = await refusal("ALTER TABLE audit.events DISABLE TRIGGER refuse_row_change");
    const rewrite = await refusal("UPDATE audit.head SET seq = 0");
    const direct = await refusal("INSERT INTO audit.events (seq, ts, prev_hash, hash, canonical) VALUES (999999, now(), '\\x00', '\\x00', '{}')");

    expect(replica).toMatch(/permission denied to set parameter "session_replication_role"/);
    expect(disable).toMatch(/must be owner of table events/);
    expect(rewrite).toMatch(/permission denied for table head/);
    expect(direct).toMatch(/permission denied for table events/);
  });

  it("reports aura_app on /ready without warnings and runs a delivery's job as aura_app", async () => {
    const ready = await fetch(`http://127.0.0.1:${aura.port}/ready`);
    const delivery = await deliver(aura.port, "pull_request", examplePayload("pull_request", "closed"));

    expect(ready.status).toBe(200);
    const body = (await ready.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ status: "ready", databaseRole: "aura_app" });
    expect(body).not.toHaveProperty("warnings");
    expect(delivery.status).toBe(200);
    await waitForProcessed(appPool, delivery.id, 20_000);
  }, 30_000);

  it("refuses to start when MIGRATION_DATABASE_URL is set and DATABASE_URL is not the app's role", async () => {
    const attempt = startAura(config({ DATABASE_URL: ownerUrl, MIGRATION_DATABASE_URL: ownerUrl }), {
      log: silent,
      port: 0,
      host: "127.0.0.1",
      workers: false,
    });

    await expect(attempt).rejects.toThrow(
      /^MIGRATION_DATABASE_URL is set, so DATABASE_URL must connect as aura_app, which owns nothing: the app's database role aura_owner owns audit\.events \(or is a member of its owner\); the app's database role aura_owner is not aura_app/,
    );
  });

  it("is refused as configuration when MIGRATION_DATABASE_URL comes without DATABASE_URL", () => {
    const load = () => loadConfig({ MIGRATION_DATABASE_URL: ownerUrl });

    expect(load).toThrow(ConfigError);
    expect(load).toThrow(/MIGRATION_DATABASE_URL needs DATABASE_URL \(the app's own role\) as well: set MIGRATION_DATABASE_URL/);
  });
});
