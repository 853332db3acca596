// The console in a real browser against the started app: Debian's Chromium driven by playwright-core through its
// executable path (no browser download). A director signs in through GitHub's OAuth edge (the browser's side
// answered by fake-github-oauth.ts, the app's code exchange behind nock), watches a task's trajectory arrive live
// while steps are recorded, halts and resumes the installation and finds the audit records; a person who directs
// nothing sees nothing and cannot act; a task's card moves on the board when its state changes. Each view is screenshotted, its key content checked in the DOM it shows.
import { existsSync, mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import nock from "nock";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { appendEvents } from "../../src/audit/append.js";
import { recordStep, startRun } from "../../src/employees/agent/trajectory.js";
import { GITHUB_API, resetGitHub, useHarness } from "../helpers/harness.js";
import { fakeGitHubAuthorize } from "./fake-github-oauth.js";
import { seedCompany, type Company } from "./read-model-fixture.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const DIRECTOR = { login: "dana-director", id: 501 };
const OUTSIDER = { login: "olly-outsider", id: 502 };
const REPOS = ["octo-org/widgets", "octo-org/private-lab", "other-org/secret"];
// Screenshots go to a temp dir (CONSOLE_SCREENSHOT_DIR keeps them, e.g. to refresh docs/console.png).
const shots = process.env.CONSOLE_SCREENSHOT_DIR ?? mkdtempSync(path.join(os.tmpdir(), "aura-console-browser-"));

const started = useHarness({
  env: { GITHUB_CLIENT_ID: "Iv1.console-test", GITHUB_CLIENT_SECRET: "console-test-secret" },
  onlyTasks: ["director.command"],
});
let company: Company;
let browser: Browser;
const base = () => `http://127.0.0.1:${started.harness.aura.port}`;

/** The app's side of GitHub during a sign-in: the code exchange and the user it belongs to. */
function mockCodeExchange(user: { login: string; id: number }, code: string): void {
  nock("https://github.com")
    .post("/login/oauth/access_token", (body: Record<string, string>) => body.code === code && body.client_secret === "console-test-secret")
    .reply(200, { access_token: `gho_${code}`, token_type: "bearer", scope: "" });
  nock(GITHUB_API).get("/user").matchHeader("authorization", `Bearer gho_${code}`).reply(200, { login: user.login, id: user.id });
}

/**
 * No repository has a `.github/aura.yml`; the director maintains installation 1's two repositories and nothing of
 * installation 2. The status comments a halt or resume refreshes are answered (an issue without one gets one).
 */
function mockGitHub(): void {
  for (const repo of REPOS) {
    nock(GITHUB_API).persist().get(`/repos/${repo}/contents/.github%2Faura.yml`).optionally().reply(404, { message: "Not Found" });
    nock(GITHUB_API)
      .persist()
      .get(new RegExp(`^/repos/${repo}/issues/\\d+/comments`))
      .optionally()
      .reply(200, []);
    nock(GITHUB_API)
      .persist()
      .post(new RegExp(`^/repos/${repo}/issues/\\d+/comments$`))
      .optionally()
      .reply(201, { id: 990_001 });
    nock(GITHUB_API)
      .persist()
      .patch(new RegExp(`^/repos/${repo}/issues/comments/\\d+$`))
      .optionally()
      .reply(200, { id: 990_001 });
    for (const user of [DIRECTOR, OUTSIDER]) {
      const role = user === DIRECTOR && repo.startsWith("octo-org/") ? "maintain" : "read";
      nock(GITHUB_API)
        .persist()
        .get(`/repos/${repo}/collaborators/${user.login}/permission`)
        .optionally()
        .reply(200, { permission: role === "maintain" ? "write" : role, role_name: role, user: { login: user.login } });
    }
  }
}

type Session = { context: BrowserContext; page: Page; errors: string[] };

/** Opens the console signed out, clicks "Sign in with GitHub", and comes back signed in. */
async function signIn(user: { login: string; id: number }): Promise<Session> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const code = `code-${user.login}-${Math.random().toString(36).slice(2)}`;
  const visits = await fakeGitHubAuthorize(context, base(), code);
  mockCodeExchange(user, code);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("dialog", (dialog) => void dialog.accept());
  await page.goto(`${base()}/console`);
  await page.click("#sign-in");
  await page.waitForSelector("#viewer");
  expect(new URL(visits[0] ?? "").searchParams.get("client_id")).toBe("Iv1.console-test");
  return { context, page, errors };
}

/** A full-page screenshot and the text of `selector` at that moment. */
async function screenshot(page: Page, name: string, selector = "main"): Promise<string> {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  return (await page.textContent(selector)) ?? "";
}

async function auditActions(): Promise<string[]> {
  const { rows } = await started.harness.db.pool.query<{ action: string }>("SELECT action FROM audit.events ORDER BY seq");
  return rows.map((row) => row.action);
}

beforeAll(async () => {
  company = await seedCompany(started.harness.db);
  browser = await chromium.launch({ executablePath: CHROMIUM });
});

afterAll(async () => {
  await browser?.close();
});

beforeEach(() => {
  resetGitHub();
  mockGitHub();
});

describe("the console in Chromium", () => {
  it("finds Chromium at its Debian path", () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`).toBe(true);
  });

  it("signs a director in with GitHub and shows each view with its key content", async () => {
    const { context, page, errors } = await signIn(DIRECTOR);

    const board = await screenshot(page, "board");
    await page.goto(`${base()}/console/tasks/${company.widgets.taskId}`);
    const task = await screenshot(page, "task");
    await page.goto(`${base()}/console/employees`);
    const employees = await screenshot(page, "employees");
    const charts = await page.locator("main svg").count();
    await page.goto(`${base()}/console/audit`);
    const audit = await screenshot(page, "audit");

    expect(await page.textContent("#viewer")).toBe(DIRECTOR.login);
    expect(board).toContain("octo-org/widgets#7");
    expect(board).not.toContain("other-org/secret");
    expect(task).toContain("fix-parser");
    expect(task).toContain("Trajectory");
    expect(task).toContain("Governor");
    expect(employees).toContain("Posterior of success");
    expect(charts).toBeGreaterThan(0);
    expect(audit).toContain("requirement.planned");
    expect(audit).not.toContain("other-org/secret");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("shows the task's trajectory arriving live while the agent's steps are recorded", async () => {
    const { context, page, errors } = await signIn(DIRECTOR);
    const taskId = company.widgets.taskId;
    await page.goto(`${base()}/console/tasks/${taskId}`);
    await page.waitForSelector("#trajectory[data-live-state=open]", { state: "attached" });

    const subject = "octo-org/widgets#7/fix-parser";
    const runId = await startRun(started.harness.db.pool, {
      taskId,
      attempt: 2,
      revisionRound: 0,
      employeeId: "gpt-worker",
      mode: "native",
      maxSteps: 50,
      jobId: null,
      subject,
    });
    await recordStep(started.harness.db.pool, runId, {
      kind: "tool",
      tool: "search",
      arguments: '{"query":"parse("}',
      status: "ok",
      observation: "src/parser.ts:3",
    });
    await page.waitForSelector(`#trajectory-steps tr.step[data-run-id="${runId}"][data-step="1"]`);
    await recordStep(started.harness.db.pool, runId, {
      kind: "tool",
      tool: "run_command",
      arguments: '{"command":"npm test"}',
      status: "ok",
      exitCode: 0,
      observation: "5 passed",
    });
    await page.waitForSelector(`#trajectory-steps tr.step[data-run-id="${runId}"][data-step="2"]`);
    const text = await screenshot(page, "task-live", "#trajectory");

    expect(text).toContain("src/parser.ts:3");
    expect(text).toContain("5 passed");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("moves a task's card on the board when its state changes", async () => {
    const { context, page, errors } = await signIn(DIRECTOR);
    const taskId = company.lab.taskId;
    await page.waitForSelector("#board-live[data-live-state=open]", { state: "attached" });
    const card = `#task-${taskId}`;
    const from = await page.locator(card).evaluate((el) => el.closest("[data-state]")?.getAttribute("data-state"));

    await started.harness.db.pool.query("UPDATE tasks SET state = 'working' WHERE id = $1", [taskId]);
    await appendEvents(started.harness.db.pool, [
      { actor: "aura/manager", action: "task.state_changed", subject: "octo-org/private-lab#3/lab-task", payload: { to: "working" } },
    ]);
    await page.waitForFunction((selector) => document.querySelector(selector)?.closest("[data-state]")?.getAttribute("data-state") === "working", card);
    const text = await screenshot(page, "board-live");

    expect(from).not.toBe("working");
    expect(text).toContain("Lab work");
    expect(await page.textContent("#board-live")).toContain("task.state_changed");
    expect(errors).toEqual([]);
    await context.close();
  });

  it("halts and resumes the installation from the board and shows the audit records", { timeout: 60_000 }, async () => {
    const { context, page } = await signIn(DIRECTOR);

    await page.click("#action-halt");
    await page.waitForSelector("#action-result");
    const halted = await screenshot(page, "halted");
    const haltedAt = (await started.harness.db.pool.query("SELECT halted_at FROM installations WHERE id = 1")).rows[0]?.halted_at;
    await page.goto(`${base()}/console`);
    await page.click("#action-resume");
    await page.waitForSelector("#action-result");
    const resumedAt = (await started.harness.db.pool.query("SELECT halted_at FROM installations WHERE id = 1")).rows[0]?.halted_at;
    await page.goto(`${base()}/console/audit?action=director.halt`);
    const haltRecord = await screenshot(page, "audit-halt");
    await page.goto(`${base()}/console/audit?action=director.resume`);
    const resumeRecord = await page.textContent("main");

    expect(await page.locator("#action-result").count()).toBe(0);
    expect(halted).toContain("Halted by @dana-director");
    expect(haltedAt).not.toBeNull();
    expect(resumedAt).toBeNull();
    expect(haltRecord).toContain("director.halt");
    expect(haltRecord).toContain(DIRECTOR.login);
    expect(resumeRecord).toContain("director.resume");
    await context.close();
  });

  it("shows a person who directs nothing no data, and refuses their action", async () => {
    const { context, page } = await signIn(OUTSIDER);
    const before = await auditActions();

    const board = await screenshot(page, "outsider-board");
    const taskPage = await page.goto(`${base()}/console/tasks/${company.widgets.taskId}`);
    const task = await screenshot(page, "outsider-task");
    const csrf = (await page.locator('input[name="csrf"]').first().getAttribute("value")) ?? "";
    const action = await page.request.post(`${base()}/console/actions`, { form: { csrf, verb: "halt", installation: "1", repo: "octo-org/widgets" } });

    expect(board).toContain("not a director");
    expect(board).not.toContain("octo-org/widgets#7");
    expect([403, 404]).toContain(taskPage?.status());
    expect(task).not.toContain("fix-parser");
    expect([403, 404]).toContain(action.status());
    expect(await auditActions()).toEqual(before);
    expect((await started.harness.db.pool.query("SELECT halted_at FROM installations WHERE id = 1")).rows[0]?.halted_at).toBeNull();
    await context.close();
  });
});
