import nock from "nock";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGitHubAccess } from "../../src/github/octokit.js";
import { redeliverFailedDeliveries } from "../../src/github/redeliver.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { testPrivateKey } from "../helpers/webhooks.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

describe("deliveries GitHub failed to hand over", () => {
  it("are redelivered once each, unless the inbox already has them", async () => {
    const now = new Date("2026-11-27T10:00:00Z");
    await db.pool.query("INSERT INTO webhook_deliveries (delivery_id, event, payload) VALUES ('guid-known', 'issues', '{}')");
    const app = createGitHubAccess({
      appId: 123,
      privateKey: testPrivateKey,
      baseUrl: "https://api.github.com",
      log: pino({ level: "silent" }),
      writeIntervalMs: 0,
    }).forApp!();
    const at = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();
    const github = nock("https://api.github.com")
      .get("/app/hook/deliveries")
      .query({ per_page: 100 })
      .reply(200, [
        { id: 1, guid: "guid-ok", status_code: 200, redelivery: false, delivered_at: at(1) },
        { id: 2, guid: "guid-down", status_code: 502, redelivery: false, delivered_at: at(2) },
        { id: 3, guid: "guid-down", status_code: 0, redelivery: true, delivered_at: at(3) },
        { id: 4, guid: "guid-known", status_code: 504, redelivery: false, delivered_at: at(4) },
        { id: 5, guid: "guid-ancient", status_code: 502, redelivery: false, delivered_at: at(24 * 60) },
      ])
      .post("/app/hook/deliveries/2/attempts")
      .reply(202, {});

    const result = await redeliverFailedDeliveries(db.pool, app, { now: () => now });

    expect(result.redelivered).toEqual(["guid-down"]);
    github.done();
  });
});
