// The MCP server at /mcp on the running app, through the SDK's own client over streamable HTTP: every tool, for a
// director of octo-org/widgets; a person who directs nothing sees nothing and cannot submit; a bad or revoked
// token is refused with 401; submit_requirement files the labelled issue with the person's own GitHub token.
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import nock from "nock";
import pino from "pino";
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/env.js";
import { issueToken, revokeToken } from "../../src/console/tokens.js";
import { startAura } from "../../src/server/start.js";
import { GITHUB_API, resetGitHub, useRunningAura } from "../helpers/harness.js";
import { testPolicies } from "../helpers/services.js";
import { testPrivateKey, testSecret } from "../helpers/webhooks.js";
import { seedCompany, type Company } from "./read-model-fixture.js";
import { call } from "./mcp-call.js";

const OCTOCAT = { login: "octocat", userId: 583231 };
const HUBOT = { login: "hubot", userId: 480938 };

const running = useRunningAura((db) =>
  startAura(loadConfig({ APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: testSecret, DATABASE_URL: db.url, AURA_GITHUB_WRITE_INTERVAL_MS: "0" }), {
    log: pino({ level: "silent" }),
    port: 0,
    host: "127.0.0.1",
    workers: false,
    policies: testPolicies(undefined),
  }),
);

let company: Company | undefined;
const tokens: Record<string, string> = {};
const open: Client[] = [];

beforeAll(async () => {
  company = await seedCompany(running.db);
  tokens.octocat = (await issueToken(running.db.pool, { person: OCTOCAT, by: "octocat" })).token;
  tokens.hubot = (await issueToken(running.db.pool, { person: HUBOT, by: "hubot" })).token;
  const revoked = await issueToken(running.db.pool, { person: OCTOCAT, by: "octocat" });
  await revokeToken(running.db.pool, { id: revoked.record.id, by: "octocat" });
  tokens.revoked = revoked.token;
});

beforeEach(() => {
  resetGitHub();
  // octocat administers octo-org/widgets and only reads octo-org/private-lab; nobody here is in other-org.
  const permission = (role: string | null) => (role ? [200, { permission: role, role_name: role }] : [404, { message: "Not Found" }]);
  nock(GITHUB_API)
    .persist()
    .get(/^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/)
    .optionally()
    .reply((uri) => {
      const [, owner, repo, user] = /^\/repos\/([^/]+)\/([^/]+)\/collaborators\/([^/]+)\/permission$/.exec(uri) ?? [];
      const roles: Record<string, string> = { "octo-org/widgets/octocat": "admin", "octo-org/private-lab/octocat": "read" };
      return permission(roles[`${owner}/${repo}/${user}`] ?? null) as [number, object];
    })
    .get(/^\/repos\/[^/]+\/[^/]+\/contents\//)
    .optionally()
    .reply(404, { message: "Not Found" });
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});

function mcpUrl(): URL {
  return new URL(`http://127.0.0.1:${running.aura.port}/mcp`);
}

async function connect(token: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: "aura-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl(), { requestInit: { headers: { authorization: `Bearer ${token}`, ...headers } } }));
  open.push(client);
  return client;
}

const ids = () => {
  if (!company) throw new Error("seeded in beforeAll");
  return company;
};

describe("MCP over streamable HTTP at /mcp", () => {
  it("offers every tool", async () => {
    const client = await connect(tokens.octocat as string);

    const { tools } = await client.listTools();

    expect(tools.map((tool) => tool.name).sort()).toEqual([
      "get_scoreboard",
      "get_task",
      "list_audit_events",
      "list_repositories",
      "list_requirements",
      "list_tasks",
      "submit_requirement",
      "verify_audit",
    ]);
  });

  it("lists the repositories, requirements and tasks a director directs, and nothing else", async () => {
    const client = await connect(tokens.octocat as string);

    const repos = await call(client, "list_repositories");
    const requirements = await call(client, "list_requirements");
    const tasks = await call(client, "list_tasks", { state: "pr_open" });

    expect(repos.value).toEqual([{ installationId: 1, repo: "octo-org/widgets" }]);
    expect((requirements.value as { repo: string }[]).map((row) => row.repo)).toEqual(["octo-org/widgets"]);
    expect(tasks.value).toMatchObject([{ id: ids().widgets.taskId, employee: "gpt-worker", prNumber: 41, costUsd: 0.125 }]);
  });

  it("gets a task with its routing, trajectory, verdict and evidence; another repository's task is not found", async () => {
    const client = await connect(tokens.octocat as string);

    const task = await call(client, "get_task", { task_id: ids().widgets.taskId });
    const secret = await call(client, "get_task", { task_id: ids().secret.taskId });
    const lab = await call(client, "get_task", { task_id: ids().lab.taskId });

    expect(task.isError).toBe(false);
    expect(task.value).toMatchObject({
      routing: [{ winner: "gpt-worker" }],
      trajectory: [{ employeeId: "gpt-worker", stepRecords: [{ kind: "turn" }, { tool: "run_tests" }] }],
      verdict: {
        conclusion: "failure",
        rules: [
          { ruleId: "scope", state: "pass" },
          { ruleId: "evidence", state: "fail" },
        ],
      },
      evidence: { state: "failed" },
      diff: { files: 2, additions: 30, deletions: 4 },
    });
    expect(secret).toMatchObject({ isError: true, text: `Task ${ids().secret.taskId} was not found among the repositories you direct.` });
    expect(lab.isError).toBe(true);
    expect(lab.text).not.toContain("Lab work");
  });

  it("gets the scoreboard, lists audit events and verifies the chain", async () => {
    const client = await connect(tokens.octocat as string);

    const scoreboard = await call(client, "get_scoreboard");
    const events = await call(client, "list_audit_events", { subject: "octo-org/widgets#41" });
    const hidden = await call(client, "list_audit_events", { subject: "other-org/secret#9" });
    const verified = await call(client, "verify_audit");

    expect(scoreboard.value).toMatchObject([{ installationId: 1, scope: "octo-org" }]);
    expect((scoreboard.value as { rows: unknown[] }[])[0]?.rows.length).toBeGreaterThan(0);
    expect((events.value as { events: { action: string }[] }).events.map((event) => event.action)).toEqual(["verdict.given"]);
    expect(hidden.value).toEqual({ events: [], next: null });
    expect(verified.value).toMatchObject({ ok: true, firstBad: null });
  });

  it("shows a person who directs no repository nothing, and lets them submit nowhere", async () => {
    const client = await connect(tokens.hubot as string, { "x-github-token": "gho_hubotsowntoken" });

    const repos = await call(client, "list_repositories");
    const tasks = await call(client, "list_tasks");
    const task = await call(client, "get_task", { task_id: ids().widgets.taskId });
    const events = await call(client, "list_audit_events");
    const scoreboard = await call(client, "get_scoreboard");
    const verified = await call(client, "verify_audit");
    const submitted = await call(client, "submit_requirement", { repo: "octo-org/widgets", title: "Make it faster" });

    expect(repos.value).toEqual([]);
    expect(tasks.value).toEqual([]);
    expect(task.isError).toBe(true);
    expect(events.value).toEqual({ events: [], next: null });
    expect(scoreboard.value).toEqual([]);
    expect(verified.isError).toBe(true);
    expect(submitted).toMatchObject({ isError: true, text: expect.stringContaining("You are not a director of octo-org/widgets") });
  });

  it("submits a requirement as the calling person: an issue with the repository's requirement label, created with their own GitHub token", async () => {
    const client = await connect(tokens.octocat as string, { "x-github-token": "gho_octocatsowntoken" });
    let sent: { title?: string; body?: string; labels?: string[] } = {};
    nock(GITHUB_API)
      .get("/user")
      .matchHeader("authorization", /gho_octocatsowntoken/)
      .reply(200, { login: "octocat", id: OCTOCAT.userId });
    nock(GITHUB_API)
      .post("/repos/octo-org/widgets/issues", (body: typeof sent) => {
        sent = body;
        return true;
      })
      .matchHeader("authorization", /gho_octocatsowntoken/)
      .reply(201, { number: 12, html_url: "https://github.com/octo-org/widgets/issues/12", labels: [{ name: "aura:requirement" }] });

    const submitted = await call(client, "submit_requirement", { repo: "octo-org/widgets", title: "Parse dates", body: "ISO dates fail." });

    expect(submitted.value).toEqual({
      repo: "octo-org/widgets",
      issueNumber: 12,
      url: "https://github.com/octo-org/widgets/issues/12",
      label: "aura:requirement",
      labelApplied: true,
    });
    expect(sent).toEqual({ title: "Parse dates", body: "ISO dates fail.", labels: ["aura:requirement"] });
    const { rows } = await running.db.pool.query("SELECT count(*)::int AS n FROM requirements WHERE issue_number = 12");
    expect(rows[0]).toEqual({ n: 0 });
  });

  it("files nothing without the person's GitHub token, with someone else's, or in a repository they do not direct", async () => {
    const without = await connect(tokens.octocat as string);
    const withHubots = await connect(tokens.octocat as string, { "x-github-token": "gho_hubotsowntoken" });
    nock(GITHUB_API)
      .get("/user")
      .matchHeader("authorization", /gho_hubotsowntoken/)
      .reply(200, { login: "hubot", id: HUBOT.userId });

    const noToken = await call(without, "submit_requirement", { repo: "octo-org/widgets", title: "A" });
    const otherPerson = await call(withHubots, "submit_requirement", { repo: "octo-org/widgets", title: "A" });
    const notDirected = await call(without, "submit_requirement", { repo: "octo-org/private-lab", title: "A" });
    const otherInstallation = await call(without, "submit_requirement", { repo: "other-org/secret", title: "A" });

    expect(noToken).toMatchObject({ isError: true, text: expect.stringContaining("X-GitHub-Token") });
    expect(otherPerson).toMatchObject({ isError: true, text: expect.stringContaining("belongs to @hubot") });
    expect(notDirected).toMatchObject({ isError: true, text: expect.stringContaining("not a director of octo-org/private-lab") });
    expect(otherInstallation).toMatchObject({ isError: true, text: expect.stringContaining("not a director of other-org/secret") });
  });

  it("offers tasks, requirements and the scoreboard as resources, limited alike", async () => {
    const client = await connect(tokens.octocat as string);

    const listed = await client.listResources();
    const task = await client.readResource({ uri: `aura://tasks/${ids().widgets.taskId}` });
    const requirement = await client.readResource({ uri: `aura://requirements/${ids().widgets.requirementId}` });
    const scoreboard = await client.readResource({ uri: "aura://scoreboard" });

    expect(listed.resources.map((entry) => entry.uri).sort()).toEqual(
      ["aura://scoreboard", `aura://tasks/${ids().widgets.taskId}`, `aura://requirements/${ids().widgets.requirementId}`].sort(),
    );
    const text = (result: { contents: unknown[] }) => JSON.parse((result.contents[0] as { text: string }).text) as Record<string, unknown>;
    expect(text(task)).toMatchObject({ id: ids().widgets.taskId, verdict: { conclusion: "failure" } });
    expect(text(requirement)).toMatchObject({ repo: "octo-org/widgets", tasks: [{ id: ids().widgets.taskId }] });
    expect(text(scoreboard)).toMatchObject({ 0: { installationId: 1 } });
    // Each refusal is awaited where it is asked: a rejection left without a handler while another request is
    // awaited is an unhandled rejection, which fails the run.
    await expect(client.readResource({ uri: `aura://tasks/${ids().secret.taskId}` })).rejects.toThrow(
      `Task ${ids().secret.taskId} was not found among the repositories you direct.`,
    );
    await expect(client.readResource({ uri: `aura://requirements/${ids().secret.requirementId}` })).rejects.toThrow(
      "was not found among the repositories you direct",
    );
  });

  it("refuses a missing, malformed, unknown or revoked token with 401 and what to do", async () => {
    const post = (authorization?: string) =>
      fetch(mcpUrl(), {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
      });

    const missing = await post();
    const malformed = await post("Bearer ghp_notapersonaltoken");
    const unknown = await post(`Bearer aura_pt_${"A".repeat(43)}`);
    const revoked = await post(`Bearer ${tokens.revoked}`);
    const viaClient = connect(tokens.revoked as string);

    expect([missing.status, malformed.status, unknown.status, revoked.status]).toEqual([401, 401, 401, 401]);
    expect(missing.headers.get("www-authenticate")).toContain("Bearer");
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain("Authorization: Bearer aura_pt_");
    expect(((await malformed.json()) as { error: { message: string } }).error.message).toContain("not an Aura personal token");
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toContain("not known here");
    expect(((await revoked.json()) as { error: { message: string } }).error.message).toContain("was revoked");
    await expect(viaClient).rejects.toThrow(/401|revoked/);
  });
});
