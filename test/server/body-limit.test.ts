// The webhook endpoint refuses bodies over GitHub's 25 MB cap with 413 before reading or buffering them, holds
// no more than AURA_BODY_BYTES_IN_FLIGHT of bodies over all connections together (503 beyond), gives an aborted
// upload's share back, and refuses a webhook without GitHub's headers before reading its body. Tested with raw
// sockets so the test controls exactly which bytes were sent when the answer came.
import http from "node:http";
import net from "node:net";
import { describe, expect, it, vi } from "vitest";
import pino from "pino";
import { loadConfig } from "../../src/config/env.js";
import { BUSY_RETRY_AFTER_SECONDS, MAX_BODY_BYTES } from "../../src/server/body-limit.js";
import { startAura } from "../../src/server/start.js";
import { examplePayload, sign, testPrivateKey, testSecret } from "../helpers/webhooks.js";
import { startSetupMode, useRunningAura } from "../helpers/harness.js";

const githubHeaders = [
  "Content-Type: application/json",
  "X-GitHub-Event: issues",
  "X-GitHub-Delivery: 6b2c4e1a-0000-4000-8000-000000000001",
  `X-Hub-Signature-256: ${sign("{}")}`,
];

/** A webhook request's head with GitHub's headers (signed for a body of `{}`, so any other body fails the signature check). */
const webhookHeaders = (extra: string[], headers = githubHeaders) =>
  ["POST /api/github/webhooks HTTP/1.1", "Host: 127.0.0.1", ...headers, ...extra, "", ""].join("\r\n");

const mebibytes = (n: number) => n * 1024 * 1024;

/** A connection that sent `head` and `body`; more can be written to `socket` until the server closes it. */
type Upload = { socket: net.Socket; closed: () => boolean; done: Promise<{ response: string; closedByServer: boolean }> };

function upload(port: number, head: string, body: Buffer): Upload {
  let closed = false;
  let socket!: net.Socket;
  const done = exchange(port, (connected) => {
    socket = connected;
    connected.write(head);
    connected.write(body);
  }).finally(() => (closed = true));
  return {
    get socket() {
      return socket;
    },
    closed: () => closed,
    done,
  };
}

/** Opens a socket, sends `send(socket)`, and resolves with what the server wrote once it closed the connection. */
function exchange(port: number, send: (socket: net.Socket) => void): Promise<{ response: string; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let response = "";
    let closedByServer = false;
    socket.on("data", (chunk: Buffer) => (response += chunk.toString("latin1")));
    socket.on("end", () => (closedByServer = true));
    socket.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" || error.code === "EPIPE" ? undefined : reject(error)));
    socket.on("close", () => resolve({ response, closedByServer }));
    socket.on("connect", () => send(socket));
  });
}

/** The app with GitHub credentials on a fresh database for a describe block; no workers, no jobs. */
const useWebhookApp = (env: Record<string, string> = {}) =>
  useRunningAura((db) =>
    startAura(loadConfig({ APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: testSecret, DATABASE_URL: db.url, ...env }), {
      log: pino({ level: "silent" }),
      port: 0,
      host: "127.0.0.1",
      workers: false,
      dispatch: () => [],
    }),
  );

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1] ?? 0);

describe("the webhook endpoint's body limit", () => {
  const app = useWebhookApp();

  it("answers 413 to a Content-Length over 25 MB before a single byte of the body was sent, and closes the connection", async () => {
    const { response, closedByServer } = await exchange(app.aura.port, (socket) => {
      socket.write(webhookHeaders([`Content-Length: ${MAX_BODY_BYTES + 1}`]));
    });

    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response).toContain("larger than 26214400 bytes");
    expect(closedByServer).toBe(true);
    expect((await app.db.pool.query("SELECT count(*)::int AS n FROM webhook_deliveries")).rows[0].n).toBe(0);
  });

  it("answers 413 to a post to the console or /mcp over their own, smaller caps before the body is read", async () => {
    const post = (path: string, bytes: number) =>
      exchange(app.aura.port, (socket) => {
        socket.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`);
      });

    const consoleForm = await post("/console/actions", 64 * 1024 + 1);
    const mcp = await post("/mcp", 1024 * 1024 + 1);

    expect(consoleForm.response).toMatch(/^HTTP\/1\.1 413 /);
    expect(consoleForm.response).toContain("larger than 65536 bytes (the console's forms)");
    expect(consoleForm.closedByServer).toBe(true);
    expect(mcp.response).toMatch(/^HTTP\/1\.1 413 /);
    expect(mcp.response).toContain("larger than 1048576 bytes (an MCP request)");
  });

  it("answers 413 to a chunked body as soon as it passes 25 MB, without waiting for the body to end", async () => {
    const mebibyte = Buffer.alloc(1024 * 1024, 0x20);

    const { response, closedByServer } = await exchange(app.aura.port, (socket) => {
      socket.write(webhookHeaders(["Transfer-Encoding: chunked"]));
      for (let sent = 0; sent <= MAX_BODY_BYTES; sent += mebibyte.length)
        socket.write(Buffer.concat([Buffer.from(`${mebibyte.length.toString(16)}\r\n`), mebibyte, Buffer.from("\r\n")]));
      // The body never ends (no last chunk): only counting while it streams can answer.
    });

    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(closedByServer).toBe(true);
    expect((await app.db.pool.query("SELECT count(*)::int AS n FROM webhook_deliveries")).rows[0].n).toBe(0);
  });

  it("still accepts a signed delivery sent chunked within the cap", async () => {
    const body = JSON.stringify(examplePayload("issues", "opened"));

    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(
        {
          host: "127.0.0.1",
          port: app.aura.port,
          method: "POST",
          path: "/api/github/webhooks",
          headers: {
            "content-type": "application/json",
            "x-github-event": "issues",
            "x-github-delivery": "6b2c4e1a-0000-4000-8000-000000000002",
            "x-hub-signature-256": sign(body),
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      request.on("error", reject);
      request.write(body.slice(0, 100));
      request.end(body.slice(100));
    });

    expect(status).toBe(200);
    expect((await app.db.pool.query("SELECT delivery_id FROM webhook_deliveries")).rows).toEqual([{ delivery_id: "6b2c4e1a-0000-4000-8000-000000000002" }]);
  });
});

describe("request bodies held at once over all connections (AURA_BODY_BYTES_IN_FLIGHT)", () => {
  const cap = mebibytes(30);
  const app = useWebhookApp({ AURA_BODY_BYTES_IN_FLIGHT: String(cap) });

  it("lets six concurrent unsigned 10 MiB bodies hold no more than 30 MiB together: three are refused with 503, a seventh is refused before its body is read, and all is given back", async () => {
    // Each body stops one byte short, so none completes and gives its share back early: only the cap can
    // stop the server from holding all 60 MiB. Three fit (3 × (10 MiB − 1) < 30 MiB), a fourth never does.
    const size = mebibytes(10);
    const head = webhookHeaders([`Content-Length: ${size}`]);
    const almost = Buffer.alloc(size - 1, 0x20);

    const uploads = Array.from({ length: 6 }, () => upload(app.aura.port, head, almost));
    await vi.waitFor(() => expect(uploads.filter((u) => u.closed())).toHaveLength(3), { timeout: 60_000, interval: 50 });
    const refused = await Promise.all(uploads.filter((u) => u.closed()).map((u) => u.done));
    const held = uploads.filter((u) => !u.closed());
    await vi.waitFor(() => expect(app.aura.requestBodies.held).toBe(3 * (size - 1)), { timeout: 60_000, interval: 50 });
    const late = await exchange(app.aura.port, (socket) => socket.write(head));
    for (const u of held) u.socket.write(" ");
    const finished = await Promise.all(held.map((u) => u.done));

    expect(refused.map((r) => statusOf(r.response))).toEqual([503, 503, 503]);
    for (const { response, closedByServer } of refused) {
      expect(response).toMatch(new RegExp(`^retry-after: ${BUSY_RETRY_AFTER_SECONDS}\\r$`, "im"));
      expect(response).toContain(`(${cap} bytes in all)`);
      expect(closedByServer).toBe(true);
    }
    expect(statusOf(late.response)).toBe(503);
    expect(late.closedByServer).toBe(true);
    expect(finished.map((r) => statusOf(r.response))).toEqual([400, 400, 400]);
    expect(finished[0]?.response).toContain("signature does not match");
    expect(app.aura.requestBodies.peak).toBeLessThanOrEqual(cap);
    expect(app.aura.requestBodies.held).toBe(0);
    expect((await app.db.pool.query("SELECT count(*)::int AS n FROM webhook_deliveries")).rows[0].n).toBe(0);
  }, 120_000);

  it("gives an aborted upload's share back, so a following body that needs it is read", async () => {
    const size = mebibytes(20);
    const aborted = upload(app.aura.port, webhookHeaders([`Content-Length: ${size}`]), Buffer.alloc(size - 1, 0x20));
    await vi.waitFor(() => expect(app.aura.requestBodies.held).toBe(size - 1), { timeout: 60_000, interval: 50 });

    aborted.socket.destroy();
    await aborted.done;
    await vi.waitFor(() => expect(app.aura.requestBodies.held).toBe(0), { timeout: 60_000, interval: 50 });
    const following = await exchange(app.aura.port, (socket) => {
      socket.write(webhookHeaders([`Content-Length: ${size}`]));
      socket.write(Buffer.alloc(size, 0x20));
    });

    // 400 from the signature check: the whole 20 MiB body was read and handed on, not refused for load.
    expect(statusOf(following.response)).toBe(400);
    expect(following.response).toContain("signature does not match");
    expect(app.aura.requestBodies.held).toBe(0);
  }, 120_000);
});

describe("webhook requests that can never be accepted are refused before their body is read", () => {
  const app = useWebhookApp();

  it.each([
    ["X-Hub-Signature-256", 400, "Required headers missing: x-hub-signature-256."],
    ["X-GitHub-Event", 400, "Required headers missing: x-github-event."],
    ["Content-Type", 415, 'Unsupported \\"Content-Type\\" header value'],
  ])("answers a request without %s with %i as soon as its head arrives, and closes the connection", async (header, status, message) => {
    const headers = githubHeaders.filter((line) => !line.startsWith(`${header}:`));

    // One byte of a 1 MiB body is sent: only an answer that does not wait for the body can come.
    const { response, closedByServer } = await exchange(app.aura.port, (socket) =>
      socket.write(`${webhookHeaders([`Content-Length: ${mebibytes(1)}`], headers)}{`),
    );

    expect(statusOf(response)).toBe(status);
    expect(response).toContain(message);
    expect(closedByServer).toBe(true);
    expect(app.aura.requestBodies.peak).toBe(0);
  });
});

describe("setup mode behind the body limits", () => {
  const written: Record<string, string>[] = [];
  const app = useRunningAura((db) => startSetupMode(db, written, { workers: false }));

  it("still serves the setup page and takes credentials at /probot/import, and refuses an unsigned webhook with 400", async () => {
    const page = await fetch(`http://127.0.0.1:${app.aura.port}/probot`);
    await page.arrayBuffer();
    const imported = await fetch(`http://127.0.0.1:${app.aura.port}/probot/import`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ appId: "4242", pem: testPrivateKey, webhook_secret: "from-the-import-page" }),
    });
    await imported.arrayBuffer();
    const unsigned = await fetch(`http://127.0.0.1:${app.aura.port}/api/github/webhooks`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-github-event": "issues", "x-github-delivery": "6b2c4e1a-0000-4000-8000-000000000003" },
      body: "{}",
    });

    expect(page.status).toBe(200);
    expect(imported.status).toBe(200);
    expect(written.at(-1)).toMatchObject({ APP_ID: "4242", WEBHOOK_SECRET: "from-the-import-page" });
    expect(unsigned.status).toBe(400);
    expect(await unsigned.text()).toContain("x-hub-signature-256");
    expect(app.aura.requestBodies.held).toBe(0);
  });
});
