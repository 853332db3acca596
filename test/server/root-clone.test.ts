// Run as root from a clone inside a directory other users cannot enter (a home of mode 700, `mktemp -d`),
// the embedded PostgreSQL cannot run as its unprivileged user there. `npm start` says so in one sentence,
// with what to do, instead of dying with an EACCES stack trace.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { getFreePort } from "../../src/db/embedded.js";
import { makeClone } from "../helpers/clone.js";

const dirs: string[] = [];

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("npm start as root in a directory other users cannot enter", () => {
  it.skipIf(process.getuid?.() !== 0)(
    "stops with one sentence naming the directory and what to do, and no stack trace",
    async () => {
      const home = mkdtempSync(path.join(os.tmpdir(), "aura-root-home-"));
      dirs.push(home);
      const cwd = makeClone(path.join(home, "aura"), "hardlink");
      expect(statSync(home).mode & 0o777).toBe(0o700);

      const port = await getFreePort();
      const result = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        const child = spawn("npm", ["start", "--silent"], {
          cwd,
          env: { PATH: process.env.PATH ?? "", HOME: home, NO_SMEE_SETUP: "true", LOG_LEVEL: "warn", HOST: "127.0.0.1", PORT: String(port) },
          stdio: ["ignore", "ignore", "pipe"],
        });
        let stderr = "";
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stderr }));
      });

      expect(result.code).toBe(1);
      expect(result.stderr).toContain(
        `Aura Orchestra runs as root, so its embedded PostgreSQL runs as the unprivileged user "postgres", which cannot enter ${home} (mode 700)`,
      );
      expect(result.stderr).toContain(
        "run Aura Orchestra as a non-root user, or move its directory (and AURA_DATA_DIR) somewhere other users may enter, or set DATABASE_URL",
      );
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.stderr).not.toContain("EACCES");
    },
    120_000,
  );
});
