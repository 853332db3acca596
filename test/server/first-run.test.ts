// The README's first path, as a newcomer takes it: `npm start` with nothing configured opens Probot's setup
// page; the page writes the app's credentials to `.env` (Probot's own code writes the file); `npm start` again
// serves webhooks with them, and the setup routes take no new credentials.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isAlive, makeClone, npmStart, type StartedApp } from "../helpers/clone.js";
import { examplePayload, sign, testPrivateKey } from "../helpers/webhooks.js";

const started: StartedApp[] = [];
const dirs: string[] = [];

async function start(cwd: string, env: Record<string, string> = {}): Promise<StartedApp> {
  const app = await npmStart(cwd, env);
  started.push(app);
  return app;
}

async function stop(app: StartedApp): Promise<void> {
  const postgres = app.postgresPid();
  await app.stop();
  for (let i = 0; i < 100 && isAlive(postgres); i++) await new Promise((resolve) => setTimeout(resolve, 100));
}

function clone(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "aura-first-run-"));
  // Run as root, the embedded server's user must be able to enter it (a mode 700 home is tested elsewhere).
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return makeClone(dir);
}

async function postWebhook(port: number, secret: string, id: string): Promise<number> {
  const body = JSON.stringify(examplePayload("issues", "opened"));
  const response = await fetch(`http://127.0.0.1:${port}/api/github/webhooks`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-github-event": "issues", "x-github-delivery": id, "x-hub-signature-256": sign(body, secret) },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

async function importCredentials(port: number, appId: string, secret: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`http://127.0.0.1:${port}/probot/import`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ appId, pem: testPrivateKey, webhook_secret: secret }),
  });
  return { status: response.status, text: await response.text() };
}

afterEach(async () => {
  for (const app of started.splice(0)) await stop(app);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("the README's first path", () => {
  it("setup page writes .env, the page then closes, and `npm start` again serves webhooks with those credentials", async () => {
    const cwd = clone();

    const setup = await start(cwd);
    expect((await fetch(`http://127.0.0.1:${setup.port}/probot`)).status).toBe(200);
    const imported = await importCredentials(setup.port, "12345", "secret-from-the-setup-page");
    const written = readFileSync(path.join(cwd, ".env"), "utf8");
    const second = await importCredentials(setup.port, "666", "an-attackers-secret");
    await stop(setup);
    const app = await start(cwd);

    expect(imported.status).toBe(200);
    expect(written).toContain("APP_ID=12345\n");
    expect(written).toMatch(/^PRIVATE_KEY="-----BEGIN RSA PRIVATE KEY-----\\n[^\n]+-----END RSA PRIVATE KEY-----\\n"$/m);
    expect(written).toContain("WEBHOOK_SECRET=secret-from-the-setup-page");
    expect(second.status).toBe(403);
    expect(second.text).toContain("already configured");
    expect(readFileSync(path.join(cwd, ".env"), "utf8")).toBe(written);
    expect(await postWebhook(app.port, "secret-from-the-setup-page", "11111111-0000-4000-8000-000000000001")).toBe(200);
    expect(await postWebhook(app.port, "an-attackers-secret", "11111111-0000-4000-8000-000000000002")).toBe(400);
    const importAfterRestart = await importCredentials(app.port, "666", "an-attackers-secret");
    expect(importAfterRestart.status).toBe(403);
    expect(importAfterRestart.text).toContain("setup page is closed");
    expect((await fetch(`http://127.0.0.1:${app.port}/probot`)).status).toBe(403);
    expect(readFileSync(path.join(cwd, ".env"), "utf8")).toBe(written);
  }, 180_000);

  it("a variable set in the real environment wins over the same one in .env", async () => {
    const cwd = clone();
    // The format Probot's setup page writes (probot/lib/helpers/update-env.js): KEY=value lines, the PEM in
    // double quotes with its newlines written as \n, no final newline.
    const pem = `"${testPrivateKey}"`.replace(/\n/g, "\\n");
    writeFileSync(path.join(cwd, ".env"), [`APP_ID=12345`, `PRIVATE_KEY=${pem}`, `WEBHOOK_SECRET=secret-in-the-file`].join("\n"));

    const app = await start(cwd, { WEBHOOK_SECRET: "secret-in-the-environment" });

    expect(await postWebhook(app.port, "secret-in-the-environment", "22222222-0000-4000-8000-000000000001")).toBe(200);
    expect(await postWebhook(app.port, "secret-in-the-file", "22222222-0000-4000-8000-000000000002")).toBe(400);
  }, 120_000);
});
