import http from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import nock from "nock";
import pino from "pino";
import { loadConfig } from "../../src/config/env.js";
import { fromThisHost, healthHandler } from "../../src/server/health.js";
import { startAura, type RunningAura } from "../../src/server/start.js";
import type { Dispatcher } from "../../src/queue/dispatch.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { loopbackHost } from "../helpers/loopback.js";
import { deliver, examplePayload, testPrivateKey, testSecret } from "../helpers/webhooks.js";
import { startSetupMode, useRunningAura } from "../helpers/harness.js";

const silent = pino({ level: "silent" });

describe("the running app", () => {
  let db: TestDatabase;
  let aura: RunningAura;
  // A real job name that no worker here runs (the worker runs only `director.command`): its jobs stay queued.
  const dispatch: Dispatcher = (d) =>
    d.event === "issues" ? [{ task: "label.sync", key: `issue:${d.repository}`, payload: { installationId: 1, repo: d.repository ?? "" } }] : [];
  const jobsOf = (deliveryId: string) =>
    db.pool.query("SELECT q.payload FROM queued_jobs q JOIN graphile_worker.jobs j ON j.id = q.job_id WHERE q.payload->>'deliveryId' = $1", [deliveryId]);

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: testSecret, DATABASE_URL: db.url });
    aura = await startAura(config, { log: silent, port: 0, host: "127.0.0.1", dispatch, onlyTasks: ["director.command"] });
  });

  afterAll(async () => {
    await aura.stop();
    await db.drop();
  });

  it("records a delivery in the inbox and enqueues its job in the same transaction", async () => {
    const payload = examplePayload("issues", "labeled");

    const response = await deliver(aura.port, "issues", payload);

    expect(response.status).toBe(200);
    const row = (await db.pool.query("SELECT event, action, repository, duplicates FROM webhook_deliveries WHERE delivery_id = $1", [response.id])).rows[0];
    expect(row).toEqual({ event: "issues", action: "labeled", repository: (payload.repository as { full_name: string }).full_name, duplicates: 0 });
    const jobs = await jobsOf(response.id);
    expect(jobs.rows).toHaveLength(1);
    expect(jobs.rows[0].payload).toEqual({ installationId: 1, repo: row.repository, deliveryId: response.id });
  });

  it("ignores a redelivery of the same delivery id, only counting it", async () => {
    const payload = examplePayload("issues", "opened");
    const first = await deliver(aura.port, "issues", payload);

    const second = await deliver(aura.port, "issues", payload, { id: first.id });

    expect(second.status).toBe(200);
    const rows = (await db.pool.query("SELECT duplicates FROM webhook_deliveries WHERE delivery_id = $1", [first.id])).rows;
    expect(rows).toEqual([{ duplicates: 1 }]);
    expect((await jobsOf(first.id)).rows).toHaveLength(1);
  });

  it("re-enqueues an unprocessed duplicate whose job was lost", async () => {
    const payload = examplePayload("issues", "edited");
    const first = await deliver(aura.port, "issues", payload);
    await db.pool.query("SELECT graphile_worker.complete_jobs(ARRAY(SELECT job_id FROM queued_jobs WHERE payload->>'deliveryId' = $1))", [first.id]);

    await deliver(aura.port, "issues", payload, { id: first.id });

    expect((await jobsOf(first.id)).rows).toHaveLength(1);
  });

  it.each([
    ["a wrong signature", { secret: "not-the-secret" }],
    ["a body that is not JSON", { rawBody: "{not json" }],
  ])("rejects %s with a client error and records nothing", async (_name, options) => {
    const before = (await db.pool.query("SELECT count(*)::int AS n FROM webhook_deliveries")).rows[0].n;

    const response = await deliver(aura.port, "issues", examplePayload("issues", "opened"), options);

    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    const after = (await db.pool.query("SELECT count(*)::int AS n FROM webhook_deliveries")).rows[0].n;
    expect(after).toBe(before);
  });

  it("answers /health and /ready", async () => {
    const health = await fetch(`http://127.0.0.1:${aura.port}/health`);
    const ready = await fetch(`http://127.0.0.1:${aura.port}/ready`);

    expect(health.status).toBe(200);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: "ready",
      database: "ok",
      sandbox: expect.stringMatching(/^(bwrap|none|unavailable)( \(limits incomplete\))?$/),
      sandboxDetail: {
        bwrap: expect.any(String),
        cgroup: expect.any(String),
        limitsHeld: expect.any(String),
        limitsMissing: expect.any(String),
        limitsMissingAccepted: "none",
        setupEgress: "none",
      },
    });
  });

  it("warns on /ready when DATABASE_URL's role could write the audit log directly (here: a superuser)", async () => {
    const role = (await db.pool.query("SELECT current_user AS name, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user")).rows[0];

    const ready = await fetch(`http://127.0.0.1:${aura.port}/ready`);

    const body = (await ready.json()) as { databaseRole?: string; warnings?: string[] };
    expect(ready.status).toBe(200);
    expect(body.databaseRole).toBe(role.name);
    // The shared test cluster connects as its superuser unless the run was given another DATABASE_URL.
    if (role.superuser) expect(body.warnings?.[0]).toMatch(/superuser/);
  });

  it("shows the operator's detail on /ready only to a request from this host that no proxy forwarded", async () => {
    for (const header of ["x-forwarded-for", "forwarded", "x-real-ip"]) {
      const proxied = await fetch(`http://127.0.0.1:${aura.port}/ready`, { headers: { [header]: header === "forwarded" ? "for=203.0.113.9" : "203.0.113.9" } });
      expect(proxied.status).toBe(200);
      expect(await proxied.json()).toEqual({ status: "ready", database: "ok", sandbox: expect.any(String) });
    }
    expect(fromThisHost({ headers: {}, socket: { remoteAddress: "::ffff:127.0.0.1" } } as never)).toBe(true);
    expect(fromThisHost({ headers: {}, socket: { remoteAddress: "::1" } } as never)).toBe(true);
    expect(fromThisHost({ headers: {}, socket: { remoteAddress: "192.0.2.2" } } as never)).toBe(false);
    expect(fromThisHost({ headers: {}, socket: { remoteAddress: "::ffff:10.1.2.3" } } as never)).toBe(false);
  });

  it("with AURA_READY_DETAIL=none shows the detail to nobody, this host included", async () => {
    const config = loadConfig({ AURA_READY_DETAIL: "none" });
    const server = http.createServer((req, res) => {
      void healthHandler({ pool: db.pool, sandboxMode: () => "bwrap", databaseRole: { role: "aura_app", warnings: ["w"] }, detail: config.AURA_READY_DETAIL })(
        req,
        res,
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const local = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ready`);

      expect(await local.json()).toEqual({ status: "ready", database: "ok", sandbox: "bwrap" });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  // A peer on another address reaches the app through a real socket when this machine has a non-loopback interface.
  const external = Object.values(networkInterfaces())
    .flat()
    .find((entry) => entry?.family === "IPv4" && !entry.internal)?.address;
  it.skipIf(external === undefined)(`answers a peer on ${external ?? "another address"} without the operator's detail`, async () => {
    const server = http.createServer((req, res) => {
      void healthHandler({
        pool: db.pool,
        sandboxMode: () => "bwrap",
        sandboxDetail: () => ({ bwrap: "/usr/bin/bwrap" }),
        databaseRole: { role: "aura_app", warnings: ["w"] },
      })(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      // This machine's own address: the request never leaves it.
      nock.enableNetConnect((host) => host === `${external}:${port}` || loopbackHost(host));
      const remote = await fetch(`http://${external}:${port}/ready`);
      const local = await fetch(`http://127.0.0.1:${port}/ready`);

      expect(await remote.json()).toEqual({ status: "ready", database: "ok", sandbox: "bwrap" });
      expect(await local.json()).toEqual({
        status: "ready",
        database: "ok",
        sandbox: "bwrap",
        sandboxDetail: { bwrap: "/usr/bin/bwrap" },
        databaseRole: "aura_app",
        warnings: ["w"],
      });
    } finally {
      nock.enableNetConnect(loopbackHost);
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("readiness when the database is down", () => {
  it("answers /ready with 503 and the reason, while /health stays 200", async () => {
    const db = await createTestDatabase();
    const config = loadConfig({ APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: testSecret, DATABASE_URL: db.url });
    const aura = await startAura(config, { log: silent, port: 0, host: "127.0.0.1" });
    try {
      await db.drop();

      const ready = await fetch(`http://127.0.0.1:${aura.port}/ready`);
      const health = await fetch(`http://127.0.0.1:${aura.port}/health`);

      const proxied = await fetch(`http://127.0.0.1:${aura.port}/ready`, { headers: { "x-forwarded-for": "203.0.113.9" } });

      expect(ready.status).toBe(503);
      expect(await ready.json()).toMatchObject({
        status: "database unreachable",
        database: expect.stringMatching(/database .* does not exist|terminat|connect/),
      });
      expect(health.status).toBe(200);
      expect(proxied.status).toBe(503);
      expect(await proxied.json()).toEqual({ status: "database unreachable", database: "unreachable", sandbox: expect.any(String) });
    } finally {
      await aura.stop();
    }
  });
});

describe("setup mode without GitHub credentials", () => {
  const written: Record<string, string>[] = [];
  const app = useRunningAura((db) => startSetupMode(db, written));

  it("serves Probot's setup page with the manifest from app.yml", async () => {
    const response = await fetch(`http://127.0.0.1:${app.aura.port}/probot`);
    const html = await response.text();

    expect(response.status).toBe(200);
    expect(html).toContain("Aura Orchestra");
    const manifest = JSON.parse(
      html
        .match(/name="manifest"[^>]*value='([^']+)'|value="([^"]+)"[^>]*name="manifest"/)
        ?.slice(1)
        .find(Boolean)
        ?.replace(/&quot;/g, '"') ?? "{}",
    ) as { default_permissions?: Record<string, string>; default_events?: string[] };
    expect(manifest.default_permissions).toMatchObject({ statuses: "write", pull_requests: "write" });
    expect(manifest.default_permissions).not.toHaveProperty("workflows");
    expect(manifest.default_permissions).not.toHaveProperty("administration");
    expect(manifest.default_events).toContain("issue_comment");
  });

  it("converts the manifest code into credentials through GitHub's API", async () => {
    const github = nock("https://api.github.com").post("/app-manifests/abc123/conversions").reply(201, {
      id: 4242,
      slug: "aura-orchestra",
      client_id: "Iv1.x",
      client_secret: "cs",
      webhook_secret: "ws",
      pem: "-----BEGIN RSA PRIVATE KEY-----\nMII...\n-----END RSA PRIVATE KEY-----\n",
      html_url: "https://github.com/apps/aura-orchestra",
    });

    const response = await fetch(`http://127.0.0.1:${app.aura.port}/probot/setup?code=abc123`, { redirect: "manual" });

    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("https://github.com/apps/aura-orchestra/installations/new");
    expect(written.at(-1)).toMatchObject({ APP_ID: "4242", WEBHOOK_SECRET: "ws" });
    github.done();
  });

  it("still answers /ready", async () => {
    const ready = await fetch(`http://127.0.0.1:${app.aura.port}/ready`);

    expect(ready.status).toBe(200);
  });
});
