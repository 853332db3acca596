// Local mode plays GitHub's webhooks to the app; like GitHub it tries a delivery the app did not take again (a
// 5xx or 429 answer, or none), with the same delivery id, and gives up with the reason after the last try; a 4xx
// refusal is final at once.
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { deliver } from "../../src/local/deliveries.js";

let server: http.Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** An app stand-in answering each request with the next status of `statuses`; returns the delivery ids seen. */
async function app(statuses: number[]): Promise<{ port: number; ids: string[] }> {
  const ids: string[] = [];
  server = http.createServer((request, response) => {
    ids.push(String(request.headers["x-github-delivery"]));
    request.resume().on("end", () => {
      response.writeHead(statuses[ids.length - 1] ?? 200, { "content-type": "text/plain" });
      response.end("busy");
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", () => resolve()));
  return { port: (server?.address() as AddressInfo).port, ids };
}

const delivery = { event: "issues", payload: { action: "closed" } };

describe("deliver", () => {
  it("tries a 5xx and a 429 again with the same delivery id until the app takes it", async () => {
    const { port, ids } = await app([503, 429, 200]);

    await deliver(port, "secret", delivery, [1, 1, 1]);

    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
  });

  it("gives up after the last try with the app's answer, and at once on a 4xx", async () => {
    const failing = await app([500, 500, 500]);
    await expect(deliver(failing.port, "secret", delivery, [1, 1])).rejects.toThrow("the app refused the issues delivery with HTTP 500: busy (tried 3 times)");
    await new Promise<void>((resolve) => server?.close(() => resolve()));

    const refusing = await app([401]);
    await expect(deliver(refusing.port, "secret", delivery, [1, 1])).rejects.toThrow("the app refused the issues delivery with HTTP 401: busy");
    expect(refusing.ids).toHaveLength(1);
  });

  it("tries again when nothing answers", async () => {
    const { port } = await app([]);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;

    await expect(deliver(port, "secret", delivery, [1])).rejects.toThrow(/^the issues delivery did not reach the app: .* \(tried 2 times\)$/);
  });
});
