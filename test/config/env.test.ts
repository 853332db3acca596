import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, Env, loadConfig } from "../../src/config/env.js";
import { testPrivateKey } from "../helpers/webhooks.js";

describe("environment configuration", () => {
  it("starts with no variables at all: embedded database, setup page, local Ollama", () => {
    const config = loadConfig({});

    expect(config).toMatchObject({
      hasCredentials: false,
      AURA_DATA_DIR: ".data",
      PORT: 3000,
      OLLAMA_HOST: "http://127.0.0.1:11434",
      githubApiUrl: "https://api.github.com",
      AURA_AUDIT_RETENTION_DAYS: 365,
    });
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it("lists every bad variable with how to fix it in one error", () => {
    const badEnv: Record<string, string> = {
      PORT: "eighty",
      LOG_LEVEL: "loud",
      DATABASE_URL: "mysql://x",
      OLLAMA_HOST: "not a url",
      GHE_HOST: "https://ghe.example.com",
      AURA_READY_DETAIL: "everyone",
    };
    const attempt = () => loadConfig(badEnv);

    expect(attempt).toThrow(ConfigError);
    const message = (() => {
      try {
        attempt();
        return "";
      } catch (error) {
        return (error as Error).message;
      }
    })();
    expect(message).toContain("6 configuration problems");
    expect(message).toContain("PORT is invalid: set PORT to a whole number from 1 to 65535");
    expect(message).toContain("LOG_LEVEL is invalid: set LOG_LEVEL to one of trace, debug, info, warn, error, fatal, silent");
    expect(message).toContain("DATABASE_URL must start with postgres:// or postgresql://");
    expect(message).toContain("OLLAMA_HOST must be a URL");
    expect(message).toContain("GHE_HOST must be a host name with an optional port");
    expect(message).toContain(
      "AURA_READY_DETAIL is invalid: set AURA_READY_DETAIL to local (requests from this host that no proxy forwarded see /ready's detail) or none",
    );
  });

  it("requires WEBHOOK_SECRET and a private key whenever APP_ID is set", () => {
    expect(() => loadConfig({ APP_ID: "12" })).toThrow(/PRIVATE_KEY is required when APP_ID is set[\s\S]*WEBHOOK_SECRET is required when APP_ID is set/);
  });

  it("reports an unreadable PRIVATE_KEY_PATH", () => {
    expect(() => loadConfig({ APP_ID: "12", WEBHOOK_SECRET: "s", PRIVATE_KEY_PATH: "/nonexistent/key.pem" })).toThrow(/PRIVATE_KEY_PATH cannot be read/);
  });

  it("builds GitHub Enterprise URLs from GHE_HOST and GHE_PROTOCOL", () => {
    const config = loadConfig({ APP_ID: "1", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: "s", GHE_HOST: "ghe.example.com" });

    expect(config.githubApiUrl).toBe("https://ghe.example.com/api/v3");
    expect(config.githubWebUrl).toBe("https://ghe.example.com");
    expect(config.hasCredentials).toBe(true);
  });

  it("accepts GHE_HOST with a port, as Probot does, and builds every URL with it", () => {
    const config = loadConfig({ APP_ID: "1", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: "s", GHE_HOST: "ghe.example.com:8443" });

    expect(config.githubApiUrl).toBe("https://ghe.example.com:8443/api/v3");
    expect(config.githubWebUrl).toBe("https://ghe.example.com:8443");
    expect(config.botIdentity.email).toBe("1+aura-orchestra[bot]@users.noreply.ghe.example.com");
  });

  it.each([
    "ghe.example.com:",
    "ghe.example.com:0",
    "ghe.example.com:65536",
    "ghe.example.com:https",
    "ghe.example.com/api",
    "user@ghe.example.com",
    "ghe example.com",
    "-ghe.example.com",
    "ghe.example.com:8443/x",
  ])("refuses GHE_HOST %j", (value) => {
    expect(() => loadConfig({ GHE_HOST: value })).toThrow(/GHE_HOST must be a host name with an optional port/);
  });

  it("reads AURA_SANDBOX_ACCEPT_MISSING as a list of limit names (empty by default: every limit must hold)", () => {
    expect(loadConfig({}).AURA_SANDBOX_ACCEPT_MISSING).toEqual([]);
    expect(loadConfig({ AURA_SANDBOX_ACCEPT_MISSING: "" }).AURA_SANDBOX_ACCEPT_MISSING).toEqual([]);
    expect(loadConfig({ AURA_SANDBOX_ACCEPT_MISSING: " cgroup, workspace,uid,cgroup " }).AURA_SANDBOX_ACCEPT_MISSING).toEqual(["cgroup", "workspace", "uid"]);
  });

  it("refuses an AURA_SANDBOX_ACCEPT_MISSING entry that is not a limit, naming it and the allowed values", () => {
    const attempt = () => loadConfig({ AURA_SANDBOX_ACCEPT_MISSING: "cgroup,bubblewrap,cgroups" });

    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(
      'AURA_SANDBOX_ACCEPT_MISSING names "bubblewrap", "cgroups", which are not limits (allowed: cgroup, tmpfs, workspace, uid, seccomp, userns): set AURA_SANDBOX_ACCEPT_MISSING to a comma-separated list',
    );
  });

  it("makes `npm start` exit 1 with the message and no stack trace", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env: { PATH: process.env.PATH ?? "", PORT: "0x", APP_ID: "abc" },
      encoding: "utf8",
      timeout: 20_000,
    });

    expect(result.status).toBe(1);
    expect(result.stderr).toContain("Aura Orchestra cannot start");
    expect(result.stderr).toContain("APP_ID must be a number");
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe("the documented configuration", () => {
  const keys = Object.keys(Env.shape);

  it("has a row in docs/configuration.md's key table and an entry in .env.example for every variable the app reads", () => {
    const table = new Set([...readFileSync("docs/configuration.md", "utf8").matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((match) => match[1] as string));
    const example = new Set([...readFileSync(".env.example", "utf8").matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1] as string));

    expect(keys.length).toBeGreaterThan(20);
    expect(keys.filter((key) => !table.has(key))).toEqual([]);
    expect(keys.filter((key) => !example.has(key))).toEqual([]);
    expect([...example].filter((key) => !keys.includes(key))).toEqual([]);
  });
});
