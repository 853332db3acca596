// Issue 17, "Watch it": the log format (JSON lines unless LOG_FORMAT=pretty or a terminal says otherwise), seen
// on the standard output of `src/main.ts` as an operator starts it; and traces leave the process over OTLP/HTTP
// only when OTEL_EXPORTER_OTLP_ENDPOINT is set.
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { trace } from "@opentelemetry/api";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getFreePort } from "../../src/db/embedded.js";
import { isPretty } from "../../src/observability/log.js";
import { inSpan, startTracing } from "../../src/observability/tracing.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

const STARTED = "Aura Orchestra is in setup mode";

/** Starts `src/main.ts` (setup mode: no GitHub credentials) with `env`, returns its stdout up to the line saying it runs, and stops it. */
async function firstLinesOfStart(db: TestDatabase, env: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: os.tmpdir(),
      DATABASE_URL: db.url,
      PORT: String(await getFreePort()),
      HOST: "127.0.0.1",
      NO_SMEE_SETUP: "true",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes(STARTED)) resolve();
      });
      child.once("exit", (code) => reject(new Error(`the app exited (${String(code)}) before it ran: ${stderr}`)));
    });
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
  return stdout;
}

describe("log format", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  it("writes JSON lines when the output is not a terminal, and readable lines with LOG_FORMAT=pretty", async () => {
    const plain = await firstLinesOfStart(db, {});
    const pretty = await firstLinesOfStart(db, { LOG_FORMAT: "pretty" });

    const plainLine = plain.split("\n").find((line) => line.includes(STARTED)) ?? "";
    const prettyLine = pretty.split("\n").find((line) => line.includes(STARTED)) ?? "";
    expect(JSON.parse(plainLine)).toMatchObject({ level: 30, name: "aura", msg: expect.stringContaining(STARTED) });
    expect(() => JSON.parse(prettyLine) as unknown).toThrow();
    expect(prettyLine).toMatch(/INFO.*\(aura\): Aura Orchestra is in setup mode/);
  }, 60_000);

  it("is pretty on a terminal unless LOG_FORMAT says json, and JSON elsewhere unless it says pretty", () => {
    expect([isPretty(undefined, true), isPretty("json", true), isPretty(undefined, false), isPretty("pretty", false)]).toEqual([true, false, false, true]);
  });
});

describe("trace export", () => {
  const received: { path: string; body: Buffer }[] = [];
  const collector = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ path: req.url ?? "", body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  let endpoint: string;
  beforeAll(async () => {
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await new Promise((resolve) => collector.close(resolve));
  });

  it("records nothing without OTEL_EXPORTER_OTLP_ENDPOINT, and sends spans to the collector over OTLP/HTTP with it", async () => {
    const log = pino({ level: "silent" });
    const stopNone = await startTracing(undefined, log);
    const unrecorded = await inSpan("without an endpoint", {}, (span) => Promise.resolve(span.isRecording()));
    await stopNone();

    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = endpoint;
    const stop = await startTracing(endpoint, log);
    const recorded = await inSpan("with an endpoint", {}, (span) => Promise.resolve(span.isRecording()));
    await stop();

    expect(unrecorded).toBe(false);
    expect(recorded).toBe(true);
    expect(received.map((request) => request.path)).toEqual(["/v1/traces"]);
    expect(received[0]?.body.includes("with an endpoint")).toBe(true);
    expect(received[0]?.body.includes("aura-orchestra")).toBe(true);
    expect(received[0]?.body.includes("without an endpoint")).toBe(false);
    expect(trace.getTracer("after").startSpan("after stop").isRecording()).toBe(false);
  });
});
