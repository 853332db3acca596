// The live script in a real browser: Debian's Chromium driven by playwright-core through its executable path.
// The pages are the console's own views over the real read model, served under a strict Content-Security-Policy
// with src/console/public/ and the live stream (src/console/live.ts) at the console's paths. A task page shows
// agent steps as they are recorded and its state when an audit record says it changed; the board moves a card;
// a stream for someone who directs nothing carries nothing. Screenshots are taken with the DOM text they show.
// (Signing in and acting go through the console's server; those tests live with it.)
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendEvents } from "../../src/audit/append.js";
import { currentCursor, formatCursor, LiveHub, liveStream } from "../../src/console/live.js";
import { getTask, listRequirements, listTasks } from "../../src/console/read-model.js";
import type { Visibility } from "../../src/console/visible.js";
import { boardView } from "../../src/console/views/board.js";
import { page as layout } from "../../src/console/views/layout.js";
import { taskView } from "../../src/console/views/task.js";
import { recordStep, startRun } from "../../src/employees/agent/trajectory.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { seedCompany, type Company } from "./read-model-fixture.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const PUBLIC = path.resolve("src/console/public");
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
const DIRECTOR: Visibility = [
  { installationId: 1, repo: "octo-org/widgets" },
  { installationId: 1, repo: "octo-org/private-lab" },
];

let db: TestDatabase;
let company: Company;
let hub: LiveHub;
let server: http.Server;
let base: string;
let browser: Browser;
// Screenshots go to a temp dir (CONSOLE_SCREENSHOT_DIR keeps them, e.g. to refresh docs/console.png).
const shots = process.env.CONSOLE_SCREENSHOT_DIR ?? mkdtempSync(path.join(os.tmpdir(), "aura-console-shots-"));

// The cookie as=stranger stands for a signed-in person who directs nothing (it reaches the stream's request too).
function visibleFor(req: http.IncomingMessage): Visibility {
  return /(^|;\s*)as=stranger(;|$)/.test(req.headers.cookie ?? "") ? [] : DIRECTOR;
}

async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const visible = visibleFor(req);
  const viewer = { login: "octocat", csrf: "c".repeat(43) };
  const send = (status: number, type: string, body: string | Buffer) => {
    res.writeHead(status, { "Content-Type": type, "Content-Security-Policy": CSP, "Cache-Control": "no-store" });
    res.end(body);
  };
  if (url.pathname === "/favicon.ico") return send(204, "image/x-icon", "");
  const file = /^\/console\/static\/([a-z]+\.(js|css))$/.exec(url.pathname);
  if (file) return send(200, file[2] === "js" ? "text/javascript" : "text/css", readFileSync(path.join(PUBLIC, file[1] as string)));
  if (url.pathname === "/console/live") {
    const task = url.searchParams.get("task");
    return liveStream(hub, db.pool, req, res, { visible, taskId: task === null ? null : Number(task), since: url.searchParams.get("since") });
  }
  const task = /^\/console\/tasks\/(\d+)$/.exec(url.pathname);
  if (task) {
    const detail = await getTask(db.pool, visible, Number(task[1]), { steps: true });
    if (!detail) return send(404, "text/html", "<!doctype html><title>Not found</title><p id='not-found'>Not found</p>");
    const since = formatCursor(await currentCursor(db.pool, detail.id));
    return send(
      200,
      "text/html; charset=utf-8",
      layout({ title: `Task ${detail.key}`, viewer, mainId: "task", scripts: ["/console/static/live.js"] }, taskView(viewer, detail, since)),
    );
  }
  if (url.pathname === "/console") {
    const [requirements, tasks, cursor] = await Promise.all([listRequirements(db.pool, visible), listTasks(db.pool, visible), currentCursor(db.pool, null)]);
    const installations = visible.length > 0 ? [{ installationId: 1, repos: visible.map((v) => v.repo) }] : [];
    const body = boardView({ viewer, requirements, tasks, installations, liveSince: formatCursor(cursor) });
    return send(
      200,
      "text/html; charset=utf-8",
      layout({ title: "Board", viewer, current: "board", mainId: "board", scripts: ["/console/static/live.js"] }, body),
    );
  }
  send(404, "text/plain", "not found");
}

async function open(pathname: string, as: "director" | "stranger" = "director"): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.addCookies([{ name: "as", value: as, url: base }]);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(String(error)));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  (page as Page & { errors: string[] }).errors = errors;
  await page.goto(`${base}${pathname}`);
  return page;
}

async function screenshot(page: Page, name: string, selector: string): Promise<string> {
  const file = path.join(shots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return (await page.textContent(selector)) ?? "";
}

beforeAll(async () => {
  db = await createTestDatabase();
  company = await seedCompany(db);
  hub = new LiveHub(db.pool, db.url);
  await hub.start();
  server = http.createServer((req, res) => void handle(req, res).catch((error: unknown) => res.destroy(error as Error)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath: CHROMIUM });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await hub?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await db?.drop();
});

describe("the console's live script in Chromium", () => {
  it("has Chromium at its Debian path", () => {
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: install Debian's chromium package (.ci/run does)`).toBe(true);
  });

  it("shows a task's agent steps as they are recorded, and its new state when an audit record says it changed", async () => {
    const taskId = company.widgets.taskId;
    const page = await open(`/console/tasks/${taskId}`);
    await page.waitForSelector("#trajectory[data-live-state=open]");
    const before = await page.locator("#trajectory-steps tr.step").count();

    const runId = await startRun(db.pool, {
      taskId,
      attempt: 2,
      revisionRound: 0,
      employeeId: "gpt-worker",
      mode: "native",
      maxSteps: 50,
      jobId: null,
      subject: "octo-org/widgets#7/fix-parser",
    });
    await recordStep(db.pool, runId, {
      kind: "tool",
      tool: "read_file",
      arguments: '{"path":"src/parser.ts"}',
      status: "ok",
      observation: "export function parse() {}",
    });
    await recordStep(db.pool, runId, {
      kind: "tool",
      tool: "run_command",
      arguments: '{"command":"npm test"}',
      status: "ok",
      exitCode: 0,
      observation: "12 passed",
    });
    await page.waitForFunction((n) => document.querySelectorAll("#trajectory-steps tr.step").length === n, before + 2);
    await db.pool.query("UPDATE tasks SET state = 'needs_director' WHERE id = $1", [taskId]);
    await appendEvents(db.pool, [{ actor: "octocat", action: "task.needs_director", subject: `task:${taskId}`, payload: { by: "octocat" } }]);
    await page.waitForFunction(() => document.getElementById("task-state")?.textContent === "needs_director");
    const text = await screenshot(page, "task", "main");

    const rows = await page.locator(`#trajectory-steps tr.step[data-run-id="${runId}"]`).allTextContents();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain("read_file");
    expect(rows[0]).toContain("export function parse() {}");
    expect(rows[1]).toContain("run_command");
    expect(rows[1]).toContain("12 passed");
    expect(text).toContain("Trajectory");
    expect(text).toContain("needs_director");
    expect(await page.textContent("#trajectory ol.live-activity")).toContain("task.needs_director");
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    await page.close();
  });

  it("moves a card on the board when a task's state changes", async () => {
    const taskId = company.lab.taskId;
    const page = await open("/console");
    await page.waitForSelector("#board-live[data-live-state=open]", { state: "attached" });
    const card = `#task-${taskId}`;
    const from = await page.locator(card).evaluate((el) => el.closest("[data-state]")?.getAttribute("data-state"));

    await db.pool.query("UPDATE tasks SET state = 'working' WHERE id = $1", [taskId]);
    await appendEvents(db.pool, [
      { actor: "aura/manager", action: "task.state_changed", subject: "octo-org/private-lab#3/lab-task", payload: { to: "working" } },
    ]);
    await page.waitForFunction((selector) => document.querySelector(selector)?.closest("[data-state]")?.getAttribute("data-state") === "working", card);
    const text = await screenshot(page, "board", "main");

    expect(from).not.toBe("working");
    expect(text).toContain("Requirements");
    expect(text).toContain("Lab work");
    expect(await page.textContent("#board-live")).toContain("task.state_changed");
    expect((page as Page & { errors: string[] }).errors).toEqual([]);
    await page.close();
  });

  it("gives someone who directs nothing no task page and an empty stream", async () => {
    const page = await open(`/console/tasks/${company.widgets.taskId}`, "stranger");
    const board = await open("/console", "stranger");
    await board.waitForSelector("#board-live[data-live-state=open]", { state: "attached" });

    await appendEvents(db.pool, [{ actor: "aura/manager", action: "task.state_changed", subject: "octo-org/widgets#7/fix-parser", payload: {} }]);
    // A record the stranger's stream would carry if it leaked, followed by a step: neither may arrive. The
    // director's stream, opened alongside, proves both were delivered.
    const director = await open("/console");
    await director.waitForSelector("#board-live[data-live-state=open]", { state: "attached" });
    await appendEvents(db.pool, [{ actor: "aura/manager", action: "requirement.planned", subject: "octo-org/widgets#7", payload: { marker: true } }]);
    await director.waitForFunction(() => document.querySelector("#board-live")?.textContent?.includes("requirement.planned") === true);
    const text = await screenshot(board, "stranger-board", "main");

    expect(await page.textContent("#not-found")).toBe("Not found");
    expect(text).not.toContain("Fix the parser");
    expect(await board.locator("#board-live li").count()).toBe(0);
    await Promise.all([page.close(), board.close(), director.close()]);
  });
});
