// `aura token issue|revoke|list` for operators: through the command line in a child process (issue with
// --user-id, list, revoke, a bad command), and in process with the user id asked of GitHub (nock).
import { execFile } from "node:child_process";
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { runTokenCommand } from "../../src/console/token-command.js";
import { authenticateToken } from "../../src/console/tokens.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { GITHUB_API, setUp } from "../helpers/harness.js";
import { sink } from "../helpers/sink.js";

// Whole pipelines and CLI child processes: 30 s is too short on a loaded 2-core machine; this only guards a hang.
vi.setConfig({ testTimeout: 180_000 });

let database: TestDatabase | undefined;
const db = () => setUp(database, "database is created in beforeAll");

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database?.drop();
});

function aura(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["bin/aura.js", ...args],
      { env: { PATH: process.env.PATH ?? "", DATABASE_URL: db().url, LOG_LEVEL: "silent" } },
      (error, stdout) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
}

describe("aura token", () => {
  it("issues a token shown once, lists it without its text, and revokes it, through the command line", async () => {
    const issued = await aura(["token", "issue", "octocat", "--user-id", "583231", "--label", "ops laptop"]);
    const token = /^(aura_pt_\S+)$/m.exec(issued.stdout)?.[1] ?? "";
    const id = /Issued token (\d+)/.exec(issued.stdout)?.[1] ?? "";
    const listed = await aura(["token", "list", "octocat"]);
    const revoked = await aura(["token", "revoke", id]);
    const missing = await aura(["token", "revoke", "999999"]);
    const bad = await aura(["token", "issue"]);

    expect(issued.code).toBe(0);
    expect(await authenticateToken(db().pool, token)).toMatchObject({ ok: false, reason: "revoked" });
    expect(listed.stdout).toContain(`${id}\t@octocat\tops laptop`);
    expect(listed.stdout).not.toContain(token);
    expect(revoked).toMatchObject({ code: 0, stdout: expect.stringContaining(`Token ${id} of @octocat is revoked`) });
    expect(missing).toMatchObject({ code: 1, stdout: "No token 999999.\n" });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toContain("Usage: aura token issue <login>");
  });

  it("asks GitHub for the user id when it is not given, and says what to do for an unknown login", async () => {
    nock(GITHUB_API).get("/users/hubot").reply(200, { login: "hubot", id: 480938 });
    nock(GITHUB_API).get("/users/nobody-here").reply(404, { message: "Not Found" });
    const first = sink();
    const second = sink();

    const issued = await runTokenCommand(db().pool, ["issue", "hubot"], { out: first.stream, githubApiUrl: GITHUB_API, operator: "cli:ops" });
    const unknown = await runTokenCommand(db().pool, ["issue", "nobody-here"], { out: second.stream, githubApiUrl: GITHUB_API, operator: "cli:ops" });
    const token = /^(aura_pt_\S+)$/m.exec(first.text())?.[1] ?? "";

    expect(issued).toBe(0);
    expect(await authenticateToken(db().pool, token)).toMatchObject({ ok: true, person: { login: "hubot", userId: 480938 } });
    expect(unknown).toBe(2);
    expect(second.text()).toBe("Could not find the GitHub user nobody-here's id; pass it with --user-id N.\n");
  });
});
