import { randomUUID } from "node:crypto";
// The console over HTTP against the started app (real PostgreSQL; GitHub's OAuth edge and API behind nock):
// sign-in with the state check, forged and expired cookies, CSRF, who sees what (a non-director sees nothing
// and cannot act; another installation's ids are 404), each view's key content with hostile text escaped, the
// actions' audit records beside the `/aura` command's, and the security headers.
import nock from "nock";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { deriveCookieKey, sign, SESSION_COOKIE } from "../../src/console/session.js";
import { GITHUB_API, resetGitHub, useHarness } from "../helpers/harness.js";
import { testPrivateKey, testSecret } from "../helpers/webhooks.js";
import { commentPayload, mockReplies } from "../director-e2e/fixtures.js";
import { seedCompany, type Company } from "./read-model-fixture.js";

const GITHUB_WEB = "https://github.com";
const DIRECTOR = { login: "dana-director", id: 501 };
const OUTSIDER = { login: "olly-outsider", id: 502 };
const HOSTILE = `<script>alert("x")</script><img src=x onerror=alert(1)>`;
const REPOS = ["octo-org/widgets", "octo-org/private-lab", "other-org/secret"];

const started = useHarness({
  env: { GITHUB_CLIENT_ID: "Iv1.console-test", GITHUB_CLIENT_SECRET: "console-test-secret" },
  onlyTasks: ["director.command"],
});
let company: Company;

const base = () => `http://127.0.0.1:${started.harness.aura.port}`;

function get(path: string, cookie?: string): Promise<Response> {
  return fetch(`${base()}${path}`, { redirect: "manual", headers: cookie ? { cookie } : {} });
}

function post(path: string, form: Record<string, string>, cookie?: string): Promise<Response> {
  return fetch(`${base()}${path}`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", ...(cookie ? { cookie } : {}) },
    body: new URLSearchParams(form).toString(),
  });
}

function cookieOf(response: Response, name: string): string | undefined {
  const header = response.headers.getSetCookie().find((value) => value.startsWith(`${name}=`));
  return header?.split(";")[0];
}

/** GitHub's side of a sign-in: the code exchange and the user it belongs to. */
function mockGitHubSignIn(user: { login: string; id: number }, code: string): void {
  nock(GITHUB_WEB)
    .post("/login/oauth/access_token", (body: Record<string, string>) => body.code === code && body.client_secret === "console-test-secret")
    .reply(200, { access_token: `gho_${code}`, token_type: "bearer", scope: "" });
  nock(GITHUB_API).get("/user").matchHeader("authorization", `Bearer gho_${code}`).reply(200, { login: user.login, id: user.id });
}

/** Signs in through the whole flow; returns the session cookie and its CSRF token. */
async function signIn(user: { login: string; id: number }): Promise<{ cookie: string; csrf: string }> {
  const login = await get("/console/login");
  const state = new URL(login.headers.get("location") ?? "").searchParams.get("state") ?? "";
  const stateCookie = cookieOf(login, "aura_console_oauth") ?? "";
  const code = `code-${user.login}-${Math.random().toString(36).slice(2)}`;
  mockGitHubSignIn(user, code);
  const callback = await get(`/console/callback?code=${code}&state=${state}`, stateCookie);
  const cookie = cookieOf(callback, SESSION_COOKIE) ?? "";
  const page = await (await get("/console/tokens", cookie)).text();
  const csrf = /name="csrf" value="([^"]+)"/.exec(page)?.[1] ?? "";
  return { cookie, csrf };
}

/** Each repository's `.github/aura.yml` is absent; the director maintains octo-org/widgets only. Replies on widgets are recorded. */
function mockPermissions(): void {
  mockReplies();
  for (const repo of REPOS) {
    nock(GITHUB_API).persist().get(`/repos/${repo}/contents/.github%2Faura.yml`).optionally().reply(404, { message: "Not Found" });
    // Status comment refreshes after a halt or an HR move: none exists yet, so each is created.
    nock(GITHUB_API)
      .persist()
      .get(new RegExp(`^/repos/${repo}/issues/\\d+/comments`))
      .optionally()
      .reply(200, []);
    nock(GITHUB_API).persist().get(`/repos/${repo}`).optionally().reply(200, { full_name: repo });
    if (repo !== "octo-org/widgets")
      nock(GITHUB_API)
        .persist()
        .post(new RegExp(`^/repos/${repo}/issues/\\d+/comments$`))
        .optionally()
        .reply(201, { id: 1 });
    for (const user of [DIRECTOR, OUTSIDER]) {
      const role = user === DIRECTOR && repo === "octo-org/widgets" ? "maintain" : "read";
      nock(GITHUB_API)
        .persist()
        .get(`/repos/${repo}/collaborators/${user.login}/permission`)
        .optionally()
        .reply(200, { permission: role === "maintain" ? "write" : role, role_name: role, user: { login: user.login } });
    }
  }
}

async function auditCount(action: string): Promise<number> {
  return (await started.harness.db.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM audit.events WHERE action = $1", [action])).rows[0]?.n ?? 0;
}

beforeAll(async () => {
  company = await seedCompany(started.harness.db);
  const { pool } = started.harness.db;
  await pool.query("UPDATE tasks SET title = $2 WHERE id = $1", [company.widgets.taskId, `Fix ${HOSTILE}`]);
  await pool.query("UPDATE requirements SET title = $2 WHERE id = $1", [company.widgets.requirementId, `Parser ${HOSTILE}`]);
  await pool.query("UPDATE work_steps SET observation = $1", [`model says ${HOSTILE}`]);
});

beforeEach(() => {
  resetGitHub();
  mockPermissions();
});

describe("the console's headers and setup", () => {
  it("answers every page with a strict Content-Security-Policy, no framing and no caching", async () => {
    const response = await get("/console");

    expect(response.status).toBe(200);
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("x-frame-options")).toBe("DENY");
    expect(response.headers.get("cache-control")).toBe("no-store");
    const body = await response.text();
    expect(body).toContain('id="sign-in"');
    expect(body).not.toMatch(/<script(?![^>]*\ssrc=)/);
  });

  it("serves its script and stylesheet from /console/static", async () => {
    const script = await get("/console/static/console.js");
    const style = await get("/console/static/console.css");

    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toContain("text/javascript");
    expect(style.status).toBe(200);
  });
});

describe("signing in", () => {
  it("sends the browser to GitHub's authorize page with the App's client id and a state bound to a cookie", async () => {
    const response = await get("/console/login");

    expect(response.status).toBe(302);
    const location = new URL(response.headers.get("location") ?? "");
    expect(location.origin + location.pathname).toBe("https://github.com/login/oauth/authorize");
    expect(location.searchParams.get("client_id")).toBe("Iv1.console-test");
    expect(location.searchParams.get("state")?.length).toBeGreaterThanOrEqual(32);
    const cookie = response.headers.getSetCookie().find((value) => value.startsWith("aura_console_oauth="));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Lax/);
  });

  it("refuses a callback whose state is not the one this browser was given, without asking GitHub", async () => {
    const login = await get("/console/login");
    const stateCookie = cookieOf(login, "aura_console_oauth") ?? "";

    const wrongState = await get("/console/callback?code=abc&state=someone-elses-state-0000000000000000", stateCookie);
    const noCookie = await get(`/console/callback?code=abc&state=${new URL(login.headers.get("location") ?? "").searchParams.get("state")}`);

    expect(wrongState.status).toBe(400);
    expect(noCookie.status).toBe(400);
    expect(cookieOf(wrongState, SESSION_COOKIE)).toBeUndefined();
    expect(await wrongState.text()).toContain("not started in this browser");
    expect(nock.pendingMocks().filter((mock) => mock.includes("access_token"))).toEqual([]);
  });

  it("signs a director in: the session cookie is HttpOnly and SameSite, and the board shows their repository", async () => {
    const { cookie } = await signIn(DIRECTOR);

    expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=`));
    const board = await get("/console", cookie);
    const body = await board.text();
    expect(board.status).toBe(200);
    expect(body).toContain('id="board"');
    expect(body).toContain("octo-org/widgets#7");
    expect(body).not.toContain("other-org/secret");
    expect(body).not.toContain("octo-org/private-lab");
  });

  it("treats a forged cookie (altered, or signed with another key) and an expired session as signed out", async () => {
    const { cookie } = await signIn(DIRECTOR);
    const [name, value = ""] = cookie.split("=");
    const [body = "", mac = ""] = value.split(".");
    const altered = `${name}=${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, "base64url").toString()), login: "mallory" })).toString("base64url")}.${mac}`;
    const session = { kind: "session" as const, login: DIRECTOR.login, userId: DIRECTOR.id, csrf: "c".repeat(43) };
    const otherKey = `${SESSION_COOKIE}=${sign(deriveCookieKey("not the app's secret"), { ...session, exp: 4_102_444_800 })}`;
    const expired = `${SESSION_COOKIE}=${sign(deriveCookieKey(testPrivateKey), { ...session, exp: 1_000_000_000 })}`;

    for (const forged of [altered, otherKey, expired]) {
      const response = await get("/console", forged);
      const text = await response.text();
      expect(text).toContain('id="sign-in"');
      expect(text).not.toContain("octo-org/widgets#7");
    }
  });

  it("keys its cookies from the App's private key, never from WEBHOOK_SECRET (a signed state cookie, free to anyone, must not be an offline test of the webhook secret)", async () => {
    const session = { kind: "session" as const, login: DIRECTOR.login, userId: DIRECTOR.id, csrf: "c".repeat(43), exp: 4_102_444_800 };
    const fromWebhookSecret = await get("/console", `${SESSION_COOKIE}=${sign(deriveCookieKey(testSecret), session)}`);
    const fromWebhookText = await fromWebhookSecret.text();
    expect(fromWebhookText).toContain('id="sign-in"');
    expect(fromWebhookText).not.toContain("octo-org/widgets#7");
    const fromPrivateKey = await get("/console", `${SESSION_COOKIE}=${sign(deriveCookieKey(testPrivateKey), session)}`);
    expect(await fromPrivateKey.text()).toContain("octo-org/widgets#7");
  });
});

describe("who sees what", () => {
  it("shows a person who directs nothing a page that says so, and no data", async () => {
    const { cookie } = await signIn(OUTSIDER);

    for (const path of ["/console", `/console/tasks/${company.widgets.taskId}`, "/console/employees", "/console/audit", "/console/audit/export"]) {
      const response = await get(path, cookie);
      const body = await response.text();
      expect(response.status, path).toBe(403);
      expect(body).toContain('id="no-access"');
      expect(body).not.toContain("octo-org/widgets");
    }
  });

  it("refuses a non-director's action with a valid CSRF token as not found, and records nothing", async () => {
    const { cookie, csrf } = await signIn(OUTSIDER);
    const before = await auditCount("director.halt");

    const response = await post("/console/actions", { csrf, verb: "halt", installation: "1", repo: "octo-org/widgets" }, cookie);

    expect(response.status).toBe(404);
    expect(await auditCount("director.halt")).toBe(before);
    const halted = await started.harness.db.pool.query("SELECT halted_at FROM installations WHERE id = 1");
    expect(halted.rows[0].halted_at).toBeNull();
  });

  it("answers another installation's or another repository's ids with 404", async () => {
    const { cookie, csrf } = await signIn(DIRECTOR);

    expect((await get(`/console/tasks/${company.secret.taskId}`, cookie)).status).toBe(404);
    expect((await get(`/console/requirements/${company.secret.requirementId}`, cookie)).status).toBe(404);
    expect((await get(`/console/tasks/${company.lab.taskId}`, cookie)).status).toBe(404);
    expect((await post("/console/actions", { csrf, verb: "approve", requirement: String(company.secret.requirementId) }, cookie)).status).toBe(404);
    expect((await post("/console/actions", { csrf, verb: "halt", installation: "2", repo: "other-org/secret" }, cookie)).status).toBe(404);
  });
});

describe("the views", () => {
  it("task page: routing, the verdict rule by rule, the evidence, the trajectory (with the live hook), hostile text escaped", async () => {
    const { cookie } = await signIn(DIRECTOR);

    const response = await get(`/console/tasks/${company.widgets.taskId}`, cookie);
    const body = await response.text();

    expect(response.status).toBe(200);
    expect(body).toContain('id="routing"');
    expect(body).toContain("gpt-worker had the best sampled value");
    expect(body).toContain('id="verdict"');
    expect(body).toMatch(/data-rule-id="[^"]+"/);
    expect(body).toContain('id="evidence"');
    expect(body).toMatch(new RegExp(`id="trajectory"[^>]*data-task-id="${company.widgets.taskId}"`));
    expect(body).toContain('id="trajectory-steps"');
    expect(body).toContain("model says &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;");
    expect(body).not.toContain(HOSTILE);
  });

  it("board: requirements and tasks in columns by state, titles escaped", async () => {
    const { cookie } = await signIn(DIRECTOR);

    const body = await (await get("/console", cookie)).text();

    expect(body).toMatch(new RegExp(`id="tasks-pr_open"[\\s\\S]*id="task-${company.widgets.taskId}"`));
    expect(body).toMatch(new RegExp(`id="requirements-in_progress"[\\s\\S]*id="requirement-${company.widgets.requirementId}"`));
    expect(body).toContain("Fix &lt;script&gt;");
    expect(body).not.toContain(HOSTILE);
  });

  it("employees page: the scoreboard with each employee's posterior interval as SVG, and HR history", async () => {
    const { cookie } = await signIn(DIRECTOR);

    const body = await (await get("/console/employees", cookie)).text();

    expect(body).toContain('id="scoreboard-1"');
    expect(body).toMatch(/<svg\s+class="chart posterior"/);
    expect(body).toContain("HR history");
    expect(body).not.toContain('id="scoreboard-2"');
  });

  it("audit page: visible events only, one subject's chain, verification on request, and the export", async () => {
    const { cookie } = await signIn(DIRECTOR);

    const list = await (await get("/console/audit", cookie)).text();
    const chain = await (await get(`/console/audit?subject=${encodeURIComponent("octo-org/widgets#7")}&verify=1`, cookie)).text();
    const exported = await get("/console/audit/export", cookie);
    const lines = (await exported.text())
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { subject: string });

    expect(list).toContain("octo-org/widgets#7");
    expect(list).not.toContain("other-org/secret");
    expect(chain).toContain('data-verified="ok"');
    expect(chain).toContain("requirement.planned");
    expect(chain).not.toContain("verdict.given");
    expect(exported.headers.get("content-type")).toContain("application/x-ndjson");
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.some((event) => event.subject.startsWith("other-org/") || event.subject.startsWith("octo-org/private-lab"))).toBe(false);
  });
});

describe("actions", () => {
  it("refuses a POST without the CSRF token or with a wrong one, and records nothing", async () => {
    const { cookie } = await signIn(DIRECTOR);
    const before = await auditCount("director.halt");

    const missing = await post("/console/actions", { verb: "halt", installation: "1", repo: "octo-org/widgets" }, cookie);
    const wrong = await post("/console/actions", { csrf: "x".repeat(43), verb: "halt", installation: "1", repo: "octo-org/widgets" }, cookie);
    const signedOut = await post("/console/actions", { csrf: "x".repeat(43), verb: "halt", installation: "1", repo: "octo-org/widgets" });

    expect(missing.status).toBe(403);
    expect(wrong.status).toBe(403);
    expect(signedOut.status).toBe(401);
    expect(await auditCount("director.halt")).toBe(before);
  });

  it("halt and resume from the console leave the same audit records as the same commands written on GitHub", async () => {
    const { cookie, csrf } = await signIn(DIRECTOR);
    const { pool } = started.harness.db;
    const target = { csrf, installation: "1", repo: "octo-org/widgets" };
    const commandFrom = (body: string) => {
      const comment = commentPayload({ body, login: DIRECTOR.login, issueNumber: 7, installationId: 1 });
      return { ...comment.payload, comment: { ...(comment.payload.comment as object), body, user: { login: DIRECTOR.login, type: "User", id: DIRECTOR.id } } };
    };
    const events = async (action: string) =>
      (
        await pool.query<{ actor: string; payload: Record<string, unknown> }>("SELECT actor, payload FROM audit.events WHERE action = $1 ORDER BY seq", [
          action,
        ])
      ).rows;
    const withoutSource = (payload: Record<string, unknown>) =>
      Object.fromEntries(Object.entries(payload).filter(([key]) => !["source", "actionId", "commentId", "deliveryId"].includes(key)));

    const halted = await post("/console/actions", { ...target, verb: "halt", note: "checking" }, cookie);
    const haltBody = await halted.text();
    const haltedAgain = await post("/console/actions", { ...target, verb: "halt", note: "checking" }, cookie);
    const resumed = await post("/console/actions", { ...target, verb: "resume" }, cookie);
    await started.harness.deliver("issue_comment", commandFrom("/aura halt checking"));
    await started.harness.deliver("issue_comment", commandFrom("/aura resume"));
    await started.harness.waitForIdle();

    expect(halted.status).toBe(200);
    expect(haltBody).toContain('data-outcome="done"');
    expect(haltBody).toContain("Halted by @dana-director");
    expect(haltedAgain.status).toBe(200);
    // resume lifts the halt everywhere, so it needs a director of octo-org/private-lab too (authority.ts).
    expect(resumed.status).toBe(409);
    expect(await resumed.text()).toContain("You are not a director of 1 repository: &#96;octo-org/private-lab&#96;");
    const halts = await events("director.halt");
    expect(halts).toHaveLength(3);
    expect(halts[0]?.payload).toMatchObject({ verb: "halt", outcome: "done", via: "permission", source: "console", requirements: expect.any(Array) });
    expect(halts[1]?.payload).toMatchObject({ source: "console", actionId: expect.any(String), alreadyHalted: true });
    expect(halts[2]?.payload).toMatchObject({ commentId: expect.any(Number), deliveryId: expect.any(String), alreadyHalted: true });
    expect(withoutSource(halts[1]?.payload ?? {})).toEqual(withoutSource(halts[2]?.payload ?? {}));
    const refusals = await events("director.command_refused");
    expect(refusals).toHaveLength(2);
    expect(refusals[0]?.payload).toMatchObject({ verb: "resume", outcome: "refused", source: "console", notDirectorOf: ["octo-org/private-lab"] });
    expect(withoutSource(refusals[0]?.payload ?? {})).toEqual(withoutSource(refusals[1]?.payload ?? {}));
    expect(refusals[0]?.actor).toBe(refusals[1]?.actor);
    expect(await auditCount("installation.halted")).toBe(1);
  });

  it("runs a form sent twice once: the same budget raise posted again adds nothing and says so", async () => {
    const { cookie, csrf } = await signIn(DIRECTOR);
    const board = await (await get(`/console/requirements/${company.widgets.requirementId}`, cookie)).text();
    const actionId = /data-verb="budget"[\s\S]*?name="action_id" value="([0-9a-f-]{36})"/.exec(board)?.[1];
    expect(actionId).toBeDefined();
    const before = await auditCount("director.budget");
    const form = { csrf, verb: "budget", requirement: String(company.widgets.requirementId), amount: "5", action_id: actionId ?? "" };
    // Each raise refreshes the requirement's status comment, which the first raise created.
    nock(GITHUB_API)
      .persist()
      .patch(/^\/repos\/octo-org\/widgets\/issues\/comments\/\d+$/)
      .optionally()
      .reply(200, { id: 1 });

    const first = await post("/console/actions", form, cookie);
    const firstBody = await first.text();
    const second = await post("/console/actions", form, cookie);
    const secondBody = await second.text();
    const fresh = await post("/console/actions", { ...form, action_id: randomUUID() }, cookie);
    await fresh.text();

    expect(first.status).toBe(200);
    expect(firstBody).toContain('data-outcome="done"');
    expect(second.status).toBe(409);
    expect(secondBody).toContain("This form was already sent, and its command ran then; nothing was done again.");
    expect(fresh.status).toBe(200);
    expect(await auditCount("director.budget")).toBe(before + 2);
  });

  it("suspend an employee: the HR change and the command's record; a repeat is refused with the command's words", async () => {
    const { cookie, csrf } = await signIn(DIRECTOR);
    const target = { csrf, installation: "1", repo: "octo-org/widgets" };

    const suspended = await post("/console/actions", { ...target, verb: "suspend", employee: "qwen2.5-coder-7b", reason: "edits outside its task" }, cookie);
    const again = await post("/console/actions", { ...target, verb: "suspend", employee: "qwen2.5-coder-7b", reason: "again" }, cookie);

    expect(suspended.status).toBe(200);
    expect(again.status).toBe(409);
    expect(await again.text()).toContain("is already suspended");
    const { rows } = await started.harness.db.pool.query<{ payload: Record<string, unknown> }>(
      "SELECT payload FROM audit.events WHERE action = 'director.suspend' ORDER BY seq",
    );
    expect(rows.map((row) => row.payload.outcome)).toEqual(["done", "refused"]);
    expect(rows[0]?.payload).toMatchObject({ verb: "suspend", employeeId: "qwen2.5-coder-7b", to: "suspended", via: "permission", source: "console" });
    expect(await auditCount("employee.suspended")).toBe(1);
  });

  it("approve on a requirement not awaiting approval is refused with the command's reason and recorded", async () => {
    const { cookie, csrf } = await signIn(DIRECTOR);

    const response = await post("/console/actions", { csrf, verb: "approve", requirement: String(company.widgets.requirementId) }, cookie);

    expect(response.status).toBe(409);
    expect(await response.text()).toContain('data-outcome="refused"');
    const { rows } = await started.harness.db.pool.query<{ subject: string; payload: Record<string, unknown> }>(
      "SELECT subject, payload FROM audit.events WHERE action = 'director.approve'",
    );
    expect(rows).toEqual([{ subject: "octo-org/widgets#7", payload: expect.objectContaining({ verb: "approve", outcome: "refused", source: "console" }) }]);
  });

  it("offers no merge: an unknown verb is refused", async () => {
    const { cookie, csrf } = await signIn(DIRECTOR);

    const response = await post("/console/actions", { csrf, verb: "merge", requirement: String(company.widgets.requirementId) }, cookie);

    expect(response.status).toBe(400);
    expect(await response.text()).toContain("merging stays on GitHub");
  });

  it("issues a personal token shown once, lists it without its text, and revokes it", async () => {
    const { cookie, csrf } = await signIn(DIRECTOR);

    const issued = await post("/console/tokens", { csrf, label: `ide ${HOSTILE}` }, cookie);
    const issuedBody = await issued.text();
    const token = /id="token-text">(aura_pt_[A-Za-z0-9_-]+)</.exec(issuedBody)?.[1];
    const tokenId = /data-token-id="(\d+)"/.exec(issuedBody)?.[1] ?? "";
    const listed = await (await get("/console/tokens", cookie)).text();
    const revoked = await post(`/console/tokens/${tokenId}/revoke`, { csrf }, cookie);

    expect(issued.status).toBe(201);
    expect(token).toBeDefined();
    expect(issuedBody).not.toContain(HOSTILE);
    expect(listed).not.toContain(token);
    expect(revoked.status).toBe(303);
    expect(await (await get("/console/tokens", cookie)).text()).toContain("revoked");
  });
});
