import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog, appendEvents } from "../../src/audit/append.js";
import { canonicalize } from "../../src/audit/canonical.js";
import { retireAuditPartitions, setAuditRetention } from "../../src/audit/retention.js";
import { verifyAudit } from "../../src/audit/verify.js";
import { createPool } from "../../src/db/pool.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

const event = (i: number) => ({
  actor: `writer-${i % 8}`,
  action: "test.appended",
  subject: `item#${i}`,
  payload: { i, text: 'tab\there \\ "quoted" ünïcode ✓', nested: { b: 2, a: [1, 2.5, null] } },
});

async function withTriggersDisabled(target: TestDatabase, sql: string): Promise<void> {
  const client = await target.pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SET LOCAL session_replication_role = replica");
    await client.query(sql);
    await client.query("COMMIT");
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Tests never read today's date: an edit of ts (a second, a millisecond, a day) must stay inside one month
 * partition whatever day the suite runs. This sets a fresh database's chain clock to a fixed instant in the
 * middle of a month, moving forward with real time from there.
 */
const PINNED_NOON = "2026-06-15T12:00:00Z";
async function pinAuditClock(target: TestDatabase): Promise<void> {
  const { rows } = await target.pool.query<{ now: string }>("SELECT clock_timestamp()::text AS now");
  await target.pool.query(
    `CREATE OR REPLACE FUNCTION audit.clock() RETURNS timestamptz LANGUAGE sql AS
     $$ SELECT timestamptz '${PINNED_NOON}' + (clock_timestamp() - timestamptz '${rows[0]!.now}') $$`,
  );
}

describe("Audit Core", () => {
  it("keeps one valid chain with no gaps under 8 concurrent writers", async () => {
    const logs = Array.from({ length: 8 }, () => new AuditLog(db.pool));

    await Promise.all(
      logs.map(async (log, w) => {
        for (let round = 0; round < 25; round++) {
          await Promise.all([log.append(event(w * 1000 + round)), appendEvents(db.pool, [event(round), event(round + 1)])]);
        }
      }),
    );
    const result = await verifyAudit(db.pool);

    expect(result).toMatchObject({ ok: true, count: 8 * 25 * 3, headSeq: 600 });
    const seqs = await db.pool.query("SELECT count(DISTINCT seq) AS n, min(seq) AS lo, max(seq) AS hi FROM audit.events");
    expect(seqs.rows[0]).toEqual({ n: 600, lo: 1, hi: 600 });
  });

  it("stores the exact RFC 8785 canonical text and links each hash to the previous one", async () => {
    const log = new AuditLog(db.pool);
    const tricky = { actor: 'a\u0001"b\\', action: "b.c", subject: "tab\there ✓ \u007f", payload: { z: 1, a: "x", n: 1e21, f: 0.1, e: "\n\b" } };

    const appended = await log.append(tricky);
    const row = (await db.pool.query("SELECT * FROM audit.events WHERE seq = $1", [appended.seq])).rows[0];
    const previous = (await db.pool.query("SELECT hash FROM audit.events WHERE seq = $1", [appended.seq - 1])).rows[0];

    const expected = canonicalize({
      event: { action: tricky.action, actor: tricky.actor, payload: tricky.payload, subject: tricky.subject },
      seq: appended.seq,
      ts: (row.ts as Date).toISOString(),
    });
    expect(row.canonical).toBe(expected);
    expect(row.prev_hash).toEqual(previous.hash);
    expect(row.hash.toString("hex")).toBe(createHash("sha256").update(previous.hash).update(expected!).digest("hex"));
    expect(row.hash.toString("hex")).toBe(appended.hash);
  });

  it.each([
    ["UPDATE", "UPDATE audit.events SET canonical = 'x'"],
    ["DELETE", "DELETE FROM audit.events"],
    ["TRUNCATE", "TRUNCATE audit.events"],
  ])("refuses %s on the table", async (_op, sql) => {
    await expect(db.pool.query(sql)).rejects.toThrow(/append-only/);
  });

  it.each(["UPDATE audit.%s SET canonical = 'x'", "DELETE FROM audit.%s", "TRUNCATE audit.%s"])(
    "refuses a change made directly on a partition: %s",
    async (template) => {
      const partition = (await db.pool.query("SELECT name FROM audit.partitions WHERE retired_at IS NULL LIMIT 1")).rows[0].name;

      await expect(db.pool.query(template.replace("%s", partition))).rejects.toThrow(/append-only/);
    },
  );

  it.each(["DELETE FROM audit.head", "TRUNCATE audit.head"])("never loses the chain head row: %s is refused", async (sql) => {
    await expect(db.pool.query(sql)).rejects.toThrow(/append-only/);
  });

  it("refuses a direct INSERT by a role that is not the audit owner", async () => {
    await db.pool.query("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_test_app') THEN CREATE ROLE aura_test_app; END IF; END $$");
    const client = await db.pool.connect();
    try {
      await client.query("SET ROLE aura_test_app");

      await expect(
        client.query("INSERT INTO audit.events (seq, ts, prev_hash, hash, canonical) VALUES (999999, now(), '\\x00', '\\x00', '{}')"),
      ).rejects.toThrow(/permission denied/);
      const appended = await appendEvents(client, [{ actor: "app", action: "via.function", subject: "s" }]);
      expect(appended[0]?.seq).toBeGreaterThan(0);
    } finally {
      await client.query("RESET ROLE");
      client.release();
    }
  });
});

describe.each(["database", "verifier"] as const)("verify, hashes recomputed by the %s", (hashedBy) => {
  it("names the first altered event when the canonical text was changed with triggers disabled", async () => {
    const local = await createTestDatabase();
    try {
      await appendEvents(
        local.pool,
        Array.from({ length: 20 }, (_, i) => event(i)),
      );
      await withTriggersDisabled(local, "UPDATE audit.events SET canonical = replace(canonical, 'item#7', 'item#8') WHERE seq = 8");

      const result = await verifyAudit(local.pool, [], { hashedBy });

      expect(result.ok).toBe(false);
      expect(result.firstBad).toEqual({ seq: 8, reason: "stored hash does not match sha256(prev_hash || canonical)" });
    } finally {
      await local.drop();
    }
  });

  it("catches a column-only edit of ts that leaves the canonical text alone", async () => {
    const local = await createTestDatabase();
    try {
      await pinAuditClock(local);
      await appendEvents(
        local.pool,
        Array.from({ length: 10 }, (_, i) => event(i)),
      );
      await withTriggersDisabled(local, "UPDATE audit.events SET ts = ts + interval '1 second' WHERE seq = 4");

      const result = await verifyAudit(local.pool, [], { hashedBy });

      expect(result.firstBad).toEqual({ seq: 4, reason: "stored columns differ from the canonical text" });
    } finally {
      await local.drop();
    }
  });

  it("cannot edit actor, action, subject or payload apart from the canonical text, even with triggers off", async () => {
    const local = await createTestDatabase();
    try {
      await appendEvents(local.pool, [event(1)]);

      await expect(withTriggersDisabled(local, "UPDATE audit.events SET payload = '{\"i\":99}' WHERE seq = 1")).rejects.toThrow(
        /column "payload" can only be updated to DEFAULT/,
      );
      await expect(withTriggersDisabled(local, "UPDATE audit.events SET actor = 'mallory' WHERE seq = 1")).rejects.toThrow(
        /column "actor" can only be updated to DEFAULT/,
      );
      const row = (await local.pool.query("SELECT actor, payload FROM audit.events WHERE seq = 1")).rows[0];
      expect(row).toEqual({ actor: "writer-1", payload: event(1).payload });
    } finally {
      await local.drop();
    }
  });

  it.each([
    [5, "event 5 is missing (next stored event is 6)"],
    [10, "event 10 is missing (head is at 10)"],
  ])("reports removed event %i", async (seq, reason) => {
    const local = await createTestDatabase();
    try {
      await appendEvents(
        local.pool,
        Array.from({ length: 10 }, (_, i) => event(i)),
      );
      await withTriggersDisabled(local, `DELETE FROM audit.events WHERE seq = ${seq}`);

      const result = await verifyAudit(local.pool, [], { hashedBy });

      expect(result.firstBad).toEqual({ seq, reason });
    } finally {
      await local.drop();
    }
  });

  it.each([
    [3, "stored hash does not match sha256(prev_hash || canonical)", "UPDATE audit.events SET canonical = replace(canonical, 'item#', 'item-') WHERE seq = 3"],
    [31, "previous hash does not link to the event before it", "UPDATE audit.events SET prev_hash = decode(repeat('ab', 32), 'hex') WHERE seq = 31"],
    [12, "stored hashes are not 32 bytes long", "UPDATE audit.events SET hash = '\\x00' WHERE seq = 12"],
    [30, "event 30 is missing (next stored event is 31)", "DELETE FROM audit.events WHERE seq = 30"],
    [31, "event 31 is missing (next stored event is 32)", "DELETE FROM audit.events WHERE seq = 31"],
    [
      45,
      "stored hash does not match sha256(prev_hash || canonical)",
      "UPDATE audit.events SET canonical = replace(canonical, 'item#', 'item-') WHERE seq = 45",
    ],
  ])("checks both halves in parallel and their seam: finds seq %i", async (seq, reason, tamper) => {
    const local = await createTestDatabase();
    try {
      await appendEvents(
        local.pool,
        Array.from({ length: 60 }, (_, i) => event(i)),
      );
      const clean = await verifyAudit(local.pool, [], { parallel: true, parallelMinEvents: 10, hashedBy });
      await withTriggersDisabled(local, tamper);

      const result = await verifyAudit(local.pool, [], { parallel: true, parallelMinEvents: 10, hashedBy });

      expect(clean).toMatchObject({ ok: true, count: 60, headSeq: 60 });
      expect(result.firstBad).toEqual({ seq, reason });
    } finally {
      await local.drop();
    }
  });

  it.each([
    [
      "a sub-millisecond edit of ts",
      "UPDATE audit.events SET ts = ts + interval '999 microseconds' WHERE seq = 4",
      { seq: 4, reason: "stored columns differ from the canonical text" },
    ],
    [
      "a ts beyond JavaScript's date range",
      "SELECT audit.ensure_partition('280000-01-01Z'); UPDATE audit.events SET ts = '280000-01-01Z' WHERE seq = 5",
      { seq: 5, reason: "stored columns differ from the canonical text" },
    ],
    [
      "a repeated event",
      "INSERT INTO audit.events (seq, ts, prev_hash, hash, canonical) SELECT seq, ts + interval '1 millisecond', prev_hash, hash, canonical FROM audit.events WHERE seq = 6",
      { seq: 6, reason: "event 6 is stored twice" },
    ],
    [
      "the head row set back",
      "UPDATE audit.head SET seq = 8, hash = (SELECT hash FROM audit.events WHERE seq = 8)",
      { seq: 9, reason: "event 9 is stored after the chain head row (head at 8)" },
    ],
    ["the head row deleted", "DELETE FROM audit.head", { seq: 0, reason: "the chain head row (audit.head) is missing" }],
  ])("reports %s", async (_what, tamper, firstBad) => {
    const local = await createTestDatabase();
    try {
      await pinAuditClock(local);
      await appendEvents(
        local.pool,
        Array.from({ length: 10 }, (_, i) => event(i)),
      );
      await withTriggersDisabled(local, tamper);

      const result = await verifyAudit(local.pool, [], { hashedBy });

      expect(result.ok).toBe(false);
      expect(result.firstBad).toEqual(firstBad);
    } finally {
      await local.drop();
    }
  });

  it("is not fooled by a checkpoint written without retiring the events it covers", async () => {
    const local = await createTestDatabase();
    try {
      await appendEvents(
        local.pool,
        Array.from({ length: 10 }, (_, i) => event(i)),
      );
      await withTriggersDisabled(local, "UPDATE audit.events SET canonical = replace(canonical, 'item#', 'item-') WHERE seq = 3");
      await local.pool.query(
        `INSERT INTO audit.checkpoints (partition_name, range_from, range_to, first_seq, last_seq, event_count, last_hash)
         SELECT 'forged', now() - interval '1 day', now(), 1, 5, 5, hash FROM audit.events WHERE seq = 5`,
      );

      const result = await verifyAudit(local.pool, [{ seq: 4, hash: "00".repeat(32), location: "external file" }], { hashedBy });

      expect(result.firstBad).toEqual({ seq: 1, reason: "event 1 is still stored although a retention checkpoint says events up to 5 were retired" });
    } finally {
      await local.drop();
    }
  });

  it("checks every event's seq and ts against its text across digit carries, distinct timestamps and midnight", async () => {
    const local = await createTestDatabase();
    try {
      // A chain written directly (as the owner, triggers off) so its timestamps can be chosen: 1,200 events
      // over seq 9→10, 99→100 and 999→1000, some sharing a timestamp, most 1 ms apart, some hours apart,
      // crossing a fixed midnight in the middle of a month (one day back stays in the same partition,
      // whatever day the suite runs).
      const midnight = Date.parse("2026-06-15T00:00:00Z");
      const times = Array.from({ length: 1200 }, (_, i) => (i < 300 ? midnight - 3 * 3_600_000 - 7_000 + Math.floor(i / 3) : midnight - 600 + i));
      let prev = Buffer.alloc(32);
      const values: string[] = [];
      for (const [i, ms] of times.entries()) {
        const seq = i + 1;
        const iso = new Date(ms).toISOString();
        const canonical = `{"event":{"action":"test.written","actor":"writer","payload":{"i":${i}},"subject":"item#${i}"},"seq":${seq},"ts":"${iso}"}`;
        const hash = createHash("sha256").update(prev).update(canonical).digest();
        values.push(`(${seq}, '${iso}', '\\x${prev.toString("hex")}', '\\x${hash.toString("hex")}', '${canonical}')`);
        prev = hash;
      }
      await withTriggersDisabled(
        local,
        `SELECT audit.ensure_partition('${new Date(midnight).toISOString()}');
         INSERT INTO audit.events (seq, ts, prev_hash, hash, canonical) VALUES ${values.join(", ")};
         UPDATE audit.head SET seq = 1200, hash = '\\x${prev.toString("hex")}', ts = '${new Date(times.at(-1)!).toISOString()}'`,
      );

      const clean = await verifyAudit(local.pool, [], { hashedBy, parallel: false });
      // The same time of day one day earlier, and a millisecond later just after midnight.
      await withTriggersDisabled(local, "UPDATE audit.events SET ts = ts - interval '1 day' WHERE seq = 100");
      const dayEarlier = await verifyAudit(local.pool, [], { hashedBy, parallel: false });
      await withTriggersDisabled(
        local,
        "UPDATE audit.events SET ts = ts + interval '1 day' WHERE seq = 100; UPDATE audit.events SET ts = ts + interval '1 millisecond' WHERE seq = 1000",
      );
      const milliLater = await verifyAudit(local.pool, [], { hashedBy, parallel: false });

      expect(clean).toMatchObject({ ok: true, count: 1200, headSeq: 1200 });
      expect(dayEarlier.firstBad).toEqual({ seq: 100, reason: "stored columns differ from the canonical text" });
      expect(milliLater.firstBad).toEqual({ seq: 1000, reason: "stored columns differ from the canonical text" });
    } finally {
      await local.drop();
    }
  });

  it("resolves functions from pg_catalog only: planted public.convert_to and public.textsend change nothing", async () => {
    const local = await createTestDatabase();
    try {
      await appendEvents(
        local.pool,
        Array.from({ length: 10 }, (_, i) => event(i)),
      );
      const original = (await local.pool.query<{ canonical: string }>("SELECT canonical FROM audit.events WHERE seq = 3")).rows[0]?.canonical ?? "";
      await withTriggersDisabled(local, "UPDATE audit.events SET canonical = replace(canonical, 'item#', 'item-') WHERE seq = 3");
      // A function that hands the verifier the original bytes of the altered event, whatever it is asked.
      await local.pool.query(
        `CREATE FUNCTION public.convert_to(text, text) RETURNS bytea LANGUAGE sql AS
         $$ SELECT pg_catalog.convert_to(CASE WHEN $1 LIKE '%"seq":3,%' THEN ${"$q$"}${original}${"$q$"} ELSE $1 END, 'UTF8') $$`,
      );
      await local.pool.query(
        `CREATE FUNCTION public.textsend(text) RETURNS bytea LANGUAGE sql AS
         $$ SELECT pg_catalog.textsend(CASE WHEN $1 LIKE '%"seq":3,%' THEN ${"$q$"}${original}${"$q$"} ELSE $1 END) $$`,
      );
      await local.pool.query("DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = public, pg_catalog', current_database()); END $$");
      const fresh = createPool(local.url, { max: 4 });

      const result = await verifyAudit(fresh, [], { hashedBy }).finally(() => fresh.end());

      expect(result.firstBad).toEqual({ seq: 3, reason: "stored hash does not match sha256(prev_hash || canonical)" });
    } finally {
      await local.drop();
    }
  });

  it("checks anchors inside later blocks of a long chain", async () => {
    const local = await createTestDatabase();
    try {
      for (let b = 0; b < 3; b++)
        await appendEvents(
          local.pool,
          Array.from({ length: 1500 }, (_, i) => event(b * 1500 + i)),
        );
      const stored = (await local.pool.query<{ hash: Buffer }>("SELECT hash FROM audit.events WHERE seq = 3500")).rows[0]?.hash.toString("hex") ?? "";

      const good = await verifyAudit(local.pool, [{ seq: 3500, hash: stored, location: "good.json" }], { hashedBy, parallel: false });
      const bad = await verifyAudit(local.pool, [{ seq: 3500, hash: "ab".repeat(32), location: "bad.json" }], { hashedBy, parallel: false });

      expect(good).toMatchObject({ ok: true, count: 4500, anchorsChecked: 1 });
      expect(bad.firstBad).toEqual({ seq: 3500, reason: "anchor in bad.json records a different hash" });
    } finally {
      await local.drop();
    }
  });

  it("names the exact event in a later block of a long chain, with the blocks before it intact", async () => {
    const local = await createTestDatabase();
    try {
      for (let b = 0; b < 5; b++)
        await appendEvents(
          local.pool,
          Array.from({ length: 1000 }, (_, i) => event(b * 1000 + i)),
        );
      await withTriggersDisabled(local, "UPDATE audit.events SET canonical = replace(canonical, 'item#', 'item-') WHERE seq IN (2718, 4001)");

      const result = await verifyAudit(local.pool, [], { hashedBy, parallel: false });

      expect(result.firstBad).toEqual({ seq: 2718, reason: "stored hash does not match sha256(prev_hash || canonical)" });
      expect(result.count).toBe(2717);
    } finally {
      await local.drop();
    }
  });
});

describe("verify", () => {
  let fresh: TestDatabase;

  beforeAll(async () => {
    fresh = await createTestDatabase();
  });
  afterAll(async () => {
    await fresh.drop();
  });

  it("continues from the newest checkpoint after retention drops old partitions", async () => {
    // Write 30 events dated 400 days ago by moving the chain's clock, then put the clock back.
    await fresh.pool.query("CREATE OR REPLACE FUNCTION audit.clock() RETURNS timestamptz LANGUAGE sql AS $$ SELECT clock_timestamp() - interval '400 days' $$");
    await appendEvents(
      fresh.pool,
      Array.from({ length: 30 }, (_, i) => event(i)),
    );
    await fresh.pool.query("CREATE OR REPLACE FUNCTION audit.clock() RETURNS timestamptz LANGUAGE sql AS $$ SELECT clock_timestamp() $$");
    await appendEvents(
      fresh.pool,
      Array.from({ length: 15 }, (_, i) => event(100 + i)),
    );

    const checkpoints = await retireAuditPartitions(fresh.pool, 365);
    const result = await verifyAudit(fresh.pool);

    expect(checkpoints).toHaveLength(1);
    expect(checkpoints[0]).toMatchObject({ firstSeq: 1, lastSeq: 30, eventCount: 30 });
    expect(result).toMatchObject({ ok: true, count: 15, startedAfterSeq: 30, headSeq: 45 });
    const remaining = await fresh.pool.query("SELECT min(seq) AS lo FROM audit.events");
    expect(remaining.rows[0].lo).toBe(31);
  });

  it("refuses a retention cutoff less than 30 days ago", async () => {
    await expect(retireAuditPartitions(fresh.pool, 7)).rejects.toThrow(/less than 30 days ago/);
  });

  it("refuses the app's role a cutoff earlier than the retention the owner set, and lets only the owner set it", async () => {
    const local = await createTestDatabase();
    try {
      await setAuditRetention(local.url, 365);
      await local.pool.query("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_app') THEN CREATE ROLE aura_app; END IF; END $$");
      const client = await local.pool.connect();
      try {
        await client.query("SET ROLE aura_app");

        const early = client.query("SELECT * FROM audit.retire_partitions(now() - interval '100 days')");
        await expect(early).rejects.toThrow(/less than 365 days ago/);
        await client.query("ROLLBACK").catch(() => undefined);
        await expect(client.query("UPDATE audit.settings SET retention_days = 30")).rejects.toThrow(/permission denied/);
      } finally {
        await client.query("RESET ROLE").catch(() => undefined);
        client.release();
      }
    } finally {
      await local.drop();
    }
  });
});
