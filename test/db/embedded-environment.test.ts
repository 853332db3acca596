// The embedded PostgreSQL server gets a scrubbed environment: the app's secrets never reach the postmaster
// (or the backends it forks, which inherit its environment).
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startEmbeddedPostgres } from "../../src/db/embedded.js";

const secrets = {
  PRIVATE_KEY: "-----BEGIN RSA PRIVATE KEY-----\nnot-for-postgres\n-----END RSA PRIVATE KEY-----",
  WEBHOOK_SECRET: "webhook-secret-not-for-postgres",
  OPENAI_API_KEY: "sk-not-for-postgres",
  GEMINI_API_KEY: "gemini-not-for-postgres",
  DATABASE_URL: "postgres://someone:password-not-for-postgres@db.example/aura",
  PGPASSWORD: "pgpassword-not-for-postgres",
};
const saved: Record<string, string | undefined> = {};
let cleanup: (() => Promise<void>) | undefined;

afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe("the embedded PostgreSQL server's environment", () => {
  it("holds none of the app's secrets, only the search path and locale", async () => {
    for (const [name, value] of Object.entries(secrets)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "aura-pg-env-"));
    chmodSync(dataDir, 0o755);
    const database = await startEmbeddedPostgres({ dataDir, persistent: false });
    cleanup = async () => {
      await database.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };

    const pid = Number(readFileSync(path.join(dataDir, "postgres", "postmaster.pid"), "utf8").split("\n")[0]);
    const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
    const names = environ
      .split("\0")
      .filter(Boolean)
      .map((entry) => entry.slice(0, entry.indexOf("=")));

    for (const name of Object.keys(secrets)) expect(names).not.toContain(name);
    expect(environ).not.toContain("not-for-postgres");
    expect(names).toContain("PATH");
    expect(names).toContain("LC_MESSAGES");
  });
});
