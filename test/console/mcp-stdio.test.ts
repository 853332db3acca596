// `aura mcp` as an IDE starts it: `node bin/aura.js mcp` in a child process, driven by the MCP SDK's own client
// over stdio. The child talks to a GitHub Enterprise stand-in on loopback (GHE_HOST), since nock cannot reach
// into another process. The caller is the person of AURA_MCP_TOKEN, or else GITHUB_TOKEN's user.
import { execFile } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { issueToken, revokeToken } from "../../src/console/tokens.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { setUp } from "../helpers/harness.js";
import { testPrivateKey, testSecret } from "../helpers/webhooks.js";
import { seedCompany, type Company } from "./read-model-fixture.js";
import { call } from "./mcp-call.js";

const USERS: Record<string, { login: string; id: number }> = {
  gho_octocat: { login: "octocat", id: 583231 },
  gho_hubot: { login: "hubot", id: 480938 },
};
const ROLES: Record<string, string> = { "octo-org/widgets/octocat": "admin", "octo-org/private-lab/octocat": "read" };

type Filed = { repo: string; authorization: string; body: { title: string; body: string; labels: string[] } };

/** The few GitHub endpoints `aura mcp` calls, answered like GitHub Enterprise's /api/v3. */
function fakeGitHub(filed: Filed[]): http.Server {
  return http.createServer((req, res) => {
    const url = (req.url ?? "").replace(/^\/api\/v3/, "");
    const send = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      if (req.method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(url)) {
        return send(201, { token: "ghs_installation", expires_at: "2999-01-01T00:00:00Z", permissions: {}, repository_selection: "all" });
      }
      const permission = /^\/repos\/([^/]+\/[^/]+)\/collaborators\/([^/]+)\/permission$/.exec(url);
      if (permission) {
        const role = ROLES[`${permission[1]}/${permission[2]}`];
        return role ? send(200, { permission: role, role_name: role }) : send(404, { message: "Not Found" });
      }
      if (req.method === "GET" && url === "/user") {
        const user = USERS[(req.headers.authorization ?? "").replace(/^(token|bearer) /i, "")];
        return user ? send(200, user) : send(401, { message: "Bad credentials" });
      }
      const issues = /^\/repos\/([^/]+\/[^/]+)\/issues$/.exec(url);
      if (req.method === "POST" && issues) {
        const body = JSON.parse(raw) as Filed["body"];
        filed.push({ repo: issues[1] as string, authorization: req.headers.authorization ?? "", body });
        return send(201, { number: 77, html_url: `https://github.example/${issues[1]}/issues/77`, labels: body.labels.map((name) => ({ name })) });
      }
      return send(404, { message: "Not Found" });
    });
  });
}

let database: TestDatabase | undefined;
let seeded: Company | undefined;
let github: http.Server | undefined;
const filed: Filed[] = [];
const tokens: Record<string, string> = {};
const clients: Client[] = [];
const db = () => setUp(database, "database is created in beforeAll");

beforeAll(async () => {
  database = await createTestDatabase();
  seeded = await seedCompany(database);
  tokens.octocat = (await issueToken(database.pool, { person: { login: "octocat", userId: 583231 }, by: "octocat" })).token;
  const revoked = await issueToken(database.pool, { person: { login: "octocat", userId: 583231 }, by: "octocat" });
  await revokeToken(database.pool, { id: revoked.record.id, by: "octocat" });
  tokens.revoked = revoked.token;
  github = fakeGitHub(filed);
  await new Promise<void>((resolve) => github?.listen(0, "127.0.0.1", resolve));
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});

afterAll(async () => {
  await new Promise((resolve) => github?.close(resolve));
  await database?.drop();
});

function childEnv(caller: Record<string, string>): Record<string, string> {
  return {
    DATABASE_URL: db().url,
    APP_ID: "123",
    PRIVATE_KEY: testPrivateKey,
    WEBHOOK_SECRET: testSecret,
    GHE_HOST: `127.0.0.1:${(github?.address() as AddressInfo).port}`,
    GHE_PROTOCOL: "http",
    LOG_LEVEL: "silent",
    ...caller,
  };
}

async function connect(caller: Record<string, string>): Promise<Client> {
  const client = new Client({ name: "aura-test-ide", version: "1.0.0" });
  await client.connect(
    new StdioClientTransport({ command: process.execPath, args: ["bin/aura.js", "mcp"], cwd: process.cwd(), env: childEnv(caller), stderr: "pipe" }),
  );
  clients.push(client);
  return client;
}

describe("aura mcp over stdio", () => {
  it("serves every tool to the person of AURA_MCP_TOKEN, limited to what they direct, and files their requirement with GITHUB_TOKEN", async () => {
    const company = setUp(seeded, "seeded in beforeAll");
    const client = await connect({ AURA_MCP_TOKEN: tokens.octocat as string, GITHUB_TOKEN: "gho_octocat" });

    const tools = (await client.listTools()).tools.map((tool) => tool.name).sort();
    const repos = await call(client, "list_repositories");
    const requirements = await call(client, "list_requirements");
    const tasks = await call(client, "list_tasks");
    const task = await call(client, "get_task", { task_id: company.widgets.taskId, steps: false });
    const secret = await call(client, "get_task", { task_id: company.secret.taskId });
    const scoreboard = await call(client, "get_scoreboard");
    const events = await call(client, "list_audit_events", { action: "verdict.given" });
    const verified = await call(client, "verify_audit");
    const submitted = await call(client, "submit_requirement", { repo: "octo-org/widgets", title: "Parse dates", body: "ISO dates fail." });
    const elsewhere = await call(client, "submit_requirement", { repo: "other-org/secret", title: "Nope" });

    expect(tools).toEqual([
      "get_scoreboard",
      "get_task",
      "list_audit_events",
      "list_repositories",
      "list_requirements",
      "list_tasks",
      "submit_requirement",
      "verify_audit",
    ]);
    expect(repos.value).toEqual([{ installationId: 1, repo: "octo-org/widgets" }]);
    expect((requirements.value as { repo: string }[]).map((row) => row.repo)).toEqual(["octo-org/widgets"]);
    expect((tasks.value as { id: number }[]).map((row) => row.id)).toEqual([company.widgets.taskId]);
    expect(task.value).toMatchObject({ verdict: { conclusion: "failure" }, evidence: { state: "failed" }, trajectory: [{ steps: 2 }] });
    expect(secret.isError).toBe(true);
    expect(scoreboard.value).toMatchObject([{ installationId: 1 }]);
    expect((events.value as { events: { subject: string }[] }).events.map((event) => event.subject)).toEqual(["octo-org/widgets#41"]);
    expect(verified.value).toMatchObject({ ok: true });
    expect(submitted.value).toMatchObject({ repo: "octo-org/widgets", issueNumber: 77, label: "aura:requirement", labelApplied: true });
    expect(filed).toEqual([
      { repo: "octo-org/widgets", authorization: "token gho_octocat", body: { title: "Parse dates", body: "ISO dates fail.", labels: ["aura:requirement"] } },
    ]);
    expect(elsewhere).toMatchObject({ isError: true, text: expect.stringContaining("not a director of other-org/secret") });
  });

  it("names the caller by GITHUB_TOKEN's user without AURA_MCP_TOKEN: one who directs nothing sees nothing", async () => {
    const client = await connect({ GITHUB_TOKEN: "gho_hubot" });

    const repos = await call(client, "list_repositories");
    const tasks = await call(client, "list_tasks");

    expect(repos.value).toEqual([]);
    expect(tasks.value).toEqual([]);
  });

  it("refuses a revoked AURA_MCP_TOKEN, and no caller at all, with exit code 2 and what to do", async () => {
    const run = (caller: Record<string, string>) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          ["bin/aura.js", "mcp"],
          { env: { PATH: process.env.PATH ?? "", ...childEnv(caller) } },
          (error, _stdout, stderr) => resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr }),
        );
        child.stdin?.end();
      });

    const revoked = await run({ AURA_MCP_TOKEN: tokens.revoked as string });
    const nobody = await run({});

    expect(revoked.code).toBe(2);
    expect(revoked.stderr).toContain("AURA_MCP_TOKEN refused");
    expect(revoked.stderr).toContain("was revoked");
    expect(nobody.code).toBe(2);
    expect(nobody.stderr).toContain("set AURA_MCP_TOKEN");
  });
});
