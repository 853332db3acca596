// The webhook endpoint refuses bodies over GitHub's 25 MB cap with 413 before reading or buffering them,
// tested with a raw socket so the test controls exactly which bytes were sent when the answer came.
import http from "node:http";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { loadConfig } from "../../src/config/env.js";
import { MAX_BODY_BYTES } from "../../src/server/body-limit.js";
import { startAura, type RunningAura } from "../../src/server/start.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { examplePayload, sign, testPrivateKey, testSecret } from "../helpers/webhooks.js";

const webhookHeaders = (extra: string[]) =>
  [
    "POST /api/github/webhooks HTTP/1.1",
    "Host: 127.0.0.1",
    "Content-Type: application/json",
    "X-GitHub-Event: issues",
    "X-GitHub-Delivery: 6b2c4e1a-0000-4000-8000-000000000001",
    `X-Hub-Signature-256: ${sign("{}")}`,
    ...extra,
    "",
    "",
  ].join("\r\n");

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

describe("the webhook endpoint's body limit", () => {
  let db: TestDatabase;
  let aura: RunningAura;

  beforeAll(async () => {
    db = await createTestDatabase();
    const config = loadConfig({ APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: testSecret, DATABASE_URL: db.url });
    aura = await startAura(config, { log: pino({ level: "silent" }), port: 0, host: "127.0.0.1", workers: false, dispatch: () => [] });
  });

  afterAll(async () => {
    await aura.stop();
    await db.drop();
  });

  it("answers 413 to a Content-Length over 25 MB before a single byte of the body was sent, and closes the connection", async () => {
    const { response, closedByServer } = await exchange(aura.port, (socket) => {
      socket.write(webhookHeaders([`Content-Length: ${MAX_BODY_BYTES + 1}`]));
    });

    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response).toContain("larger than 26214400 bytes");
    expect(closedByServer).toBe(true);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM webhook_deliveries")).rows[0].n).toBe(0);
  });

  it("answers 413 to a chunked body as soon as it passes 25 MB, without waiting for the body to end", async () => {
    const mebibyte = Buffer.alloc(1024 * 1024, 0x20);

    const { response, closedByServer } = await exchange(aura.port, (socket) => {
      socket.write(webhookHeaders(["Transfer-Encoding: chunked"]));
      for (let sent = 0; sent <= MAX_BODY_BYTES; sent += mebibyte.length) socket.write(Buffer.concat([Buffer.from(`${mebibyte.length.toString(16)}\r\n`), mebibyte, Buffer.from("\r\n")]));
      // The body never ends (no last chunk): only counting while it streams can answer.
    });

    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(closedByServer).toBe(true);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM webhook_deliveries")).rows[0].n).toBe(0);
  });

  it("still accepts a signed delivery sent chunked within the cap", async () => {
    const body = JSON.stringify(examplePayload("issues", "opened"));

    const status = await new Promise<number>((resolve, reject) => {
      const request = http.request(
        {
          host: "127.0.0.1",
          port: aura.port,
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
    expect((await db.pool.query("SELECT delivery_id FROM webhook_deliveries")).rows).toEqual([{ delivery_id: "6b2c4e1a-0000-4000-8000-000000000002" }]);
  });
});
