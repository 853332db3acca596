// The Director's console under /console, served by the app's own HTTP server beside the webhook route: sign-in
// with GitHub (auth.ts), signed session cookies (session.ts), CSRF on every POST (csrf.ts), the views, the
// actions (actions.ts) and the live stream (live.ts). Every page is filtered by what the signed-in person
// directs (access.ts: the `/aura` commands' own decision, asked at each request); an id outside that is 404,
// exactly like one that does not exist. Every answer carries a strict Content-Security-Policy (scripts and
// styles only from /console/static, no inline code), frame-ancestors 'none' and no-store.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Services } from "../services.js";
import { visibleRepositories } from "./access.js";
import { ActionInputInvalid, isConsoleVerb, runConsoleAction, type ActionTarget } from "./actions.js";
import { authorizeUrl, oauthClient, signInWithCode, SignInFailed, type OAuthClient } from "./auth.js";
import { hasValidCsrf } from "./csrf.js";
import { currentCursor, formatCursor, liveStream, type LiveHub } from "./live.js";
import { getRequirement, getTask, listRequirements, listTasks } from "./read-model.js";
import { auditStatus, listAuditEvents, type AuditEvent, type AuditFilter } from "./read-model-audit.js";
import { getScoreboards } from "./read-model-scoreboard.js";
import {
  consoleCookieKey,
  cookieHeader,
  newOAuthState,
  newSession,
  OAuthState,
  readCookie,
  sameText,
  Session,
  SESSION_COOKIE,
  SESSION_SECONDS,
  sign,
  STATE_COOKIE,
  STATE_SECONDS,
  verify,
  type CookieKey,
} from "./session.js";
import { issueToken, listTokens, revokeToken } from "./tokens.js";
import { isVisible, visibleInstallations, type Visibility } from "./visible.js";
import { auditView, type AuditQuery } from "./views/audit.js";
import { boardView } from "./views/board.js";
import { employeesView, hrKey } from "./views/employees.js";
import type { Html } from "./views/html.js";
import { page, type PageOptions, type Viewer } from "./views/layout.js";
import { messageView, noAccessView, notConfiguredView, notFoundView, resultView, setupModeView, signInView } from "./views/messages.js";
import { requirementView, taskView } from "./views/task.js";
import { tokensView } from "./views/tokens.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export type ConsoleOptions = {
  services: Services;
  /** The live hub (one per process); without it /console/live answers 404. */
  live?: LiveHub;
};

/** At most this much of a form is read; the console's forms are a few hundred bytes. */
const MAX_FORM_BYTES = 16 * 1024;

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cache-control": "no-store",
};

type Asset = { type: string; body: Buffer; etag: string };

/** The files of src/console/public (a build copies them beside the compiled code), read once. */
function loadAssets(): Map<string, Asset> {
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), "public");
  const types: Record<string, string> = { ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8" };
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = types[path.extname(name)];
    if (!type) continue;
    const body = readFileSync(path.join(dir, name));
    assets.set(name, { type, body, etag: `"${createHash("sha256").update(body).digest("base64url")}"` });
  }
  return assets;
}

function isConsolePath(pathname: string): boolean {
  return pathname === "/console" || pathname.startsWith("/console/");
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": "text/html; charset=utf-8", ...headers }).end(body);
}

function redirect(res: ServerResponse, location: string, cookies: string[] = [], status = 302): void {
  res.writeHead(status, { ...SECURITY_HEADERS, location, ...(cookies.length > 0 ? { "set-cookie": cookies } : {}) }).end();
}

/** For a process without a GitHub App yet: the console only says how to get one. */
export function setupModeConsole(): Handler {
  return async (req, res) => {
    const pathname = (req.url ?? "/").split("?")[0] ?? "/";
    if (!isConsolePath(pathname)) return false;
    send(res, 503, page({ title: "Not set up yet", viewer: null, mainId: "setup" }, setupModeView()));
    return true;
  };
}

export function consoleHandler(options: ConsoleOptions): Handler {
  const { services } = options;
  const { config } = services;
  const assets = loadAssets();
  const key = consoleCookieKey(config);
  const client = oauthClient(config);
  const scripts = assets.has("live.js") ? ["/console/static/live.js"] : [];
  const console = new Console(services, options.live, key, client, scripts);
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "http://console.invalid");
    if (!isConsolePath(url.pathname)) return false;
    const asset = url.pathname.startsWith("/console/static/") ? assets.get(url.pathname.slice("/console/static/".length)) : undefined;
    if (asset && req.method === "GET") {
      const fresh = req.headers["if-none-match"] === asset.etag;
      res.writeHead(fresh ? 304 : 200, { ...SECURITY_HEADERS, "content-type": asset.type, etag: asset.etag, "cache-control": "no-cache" });
      res.end(fresh ? undefined : asset.body);
      return true;
    }
    try {
      await console.route(req, res, url);
    } catch (error) {
      services.log.error({ err: error, path: url.pathname }, "console request failed");
      if (!res.headersSent)
        send(
          res,
          500,
          page(
            { title: "Something went wrong", viewer: null, mainId: "error" },
            messageView("error", "The console could not answer this request; the server log has the details. Try again."),
          ),
        );
      else res.end();
    }
    return true;
  };
}

type Signed = { session: Session; viewer: Viewer; visible: Visibility };

class Console {
  constructor(
    private readonly services: Services,
    private readonly live: LiveHub | undefined,
    private readonly key: CookieKey | null,
    private readonly client: OAuthClient | null,
    private readonly scripts: readonly string[],
  ) {}

  private secure(req: IncomingMessage): boolean {
    const forwarded = req.headers["x-forwarded-proto"];
    return (
      this.services.config.AURA_CONSOLE_URL?.startsWith("https:") === true ||
      (req.socket as { encrypted?: boolean }).encrypted === true ||
      forwarded === "https"
    );
  }

  private html(res: ServerResponse, status: number, options: Omit<PageOptions, "scripts">, body: Html): void {
    send(res, status, page({ ...options, scripts: this.scripts }, body));
  }

  async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (!this.client || !this.key) {
      this.html(res, 503, { title: "Sign-in is not set up", viewer: null, mainId: "setup" }, notConfiguredView());
      return;
    }
    const { pathname } = url;
    if (req.method === "GET" && pathname === "/console/login") return this.login(req, res, this.client, this.key);
    if (req.method === "GET" && pathname === "/console/callback") return this.callback(req, res, url, this.client, this.key);
    const session = verify(this.key, readCookie(req, SESSION_COOKIE), Session, this.services.now());
    if (!session) {
      if (req.method !== "GET")
        return this.html(res, 401, { title: "Sign in", viewer: null, mainId: "sign-in-page" }, signInView("Your session has ended. Sign in again."));
      return this.html(res, 200, { title: "Sign in", viewer: null, mainId: "sign-in-page" }, signInView(null));
    }
    const viewer = { login: session.login, csrf: session.csrf };
    if (req.method === "POST") return this.post(req, res, url, session, viewer);
    if (req.method !== "GET")
      return this.html(res, 405, { title: "Not allowed", viewer, mainId: "error" }, messageView("error", "Only GET and POST are used here."));
    const visible = await visibleRepositories(this.services, session.login);
    const signed = { session, viewer, visible };
    if (pathname === "/console/tokens") return this.tokens(res, signed, null);
    if (visible.length === 0) return this.html(res, 403, { title: "Nothing to show", viewer, mainId: "no-access-page" }, noAccessView(session.login));
    return this.view(req, res, url, signed);
  }

  private async view(req: IncomingMessage, res: ServerResponse, url: URL, signed: Signed): Promise<void> {
    const { pathname } = url;
    const { viewer, visible } = signed;
    const id = (prefix: string) => (new RegExp(`^/console/${prefix}/(\\d{1,15})$`).exec(pathname) ?? [])[1];
    if (pathname === "/console") return this.board(res, signed);
    if (pathname === "/console/employees") return this.employees(res, signed);
    if (pathname === "/console/audit") return this.audit(res, url, signed);
    if (pathname === "/console/audit/export") return this.exportAudit(res, url, visible);
    if (pathname === "/console/live" && this.live) return this.stream(req, res, url, visible, signed.session.exp * 1000);
    const taskId = id("tasks");
    if (taskId) {
      const task = await getTask(this.services.pool, visible, Number(taskId));
      if (!task) return this.notFound(res, viewer);
      const since = formatCursor(await currentCursor(this.services.pool, task.id));
      return this.html(res, 200, { title: `Task ${task.key}: ${task.title}`, viewer, current: "board", mainId: "task-page" }, taskView(viewer, task, since));
    }
    const requirementId = id("requirements");
    if (requirementId) {
      const requirement = await getRequirement(this.services.pool, visible, Number(requirementId));
      if (!requirement) return this.notFound(res, viewer);
      const tasks = await listTasks(this.services.pool, visible, { requirementId: requirement.id });
      return this.html(
        res,
        200,
        { title: requirement.title, viewer, current: "board", mainId: "requirement-page" },
        requirementView(viewer, requirement, tasks),
      );
    }
    return this.notFound(res, viewer);
  }

  private notFound(res: ServerResponse, viewer: Viewer | null): void {
    this.html(res, 404, { title: "Not found", viewer, mainId: "not-found-page" }, notFoundView());
  }

  private login(req: IncomingMessage, res: ServerResponse, client: OAuthClient, key: CookieKey): void {
    const state = newOAuthState(this.services.now());
    redirect(res, authorizeUrl(client, state.state), [
      cookieHeader(STATE_COOKIE, sign(key, state), { maxAgeSeconds: STATE_SECONDS, secure: this.secure(req) }),
    ]);
  }

  /** GitHub's return: the state must be the one this browser was given; then the code is exchanged once. */
  private async callback(req: IncomingMessage, res: ServerResponse, url: URL, client: OAuthClient, key: CookieKey): Promise<void> {
    const secure = this.secure(req);
    const clearState = cookieHeader(STATE_COOKIE, "", { maxAgeSeconds: 0, secure });
    const expected = verify(key, readCookie(req, STATE_COOKIE), OAuthState, this.services.now());
    const state = url.searchParams.get("state") ?? "";
    const code = url.searchParams.get("code") ?? "";
    const refuse = (message: string) => {
      res.setHeader("set-cookie", [clearState]);
      this.html(res, 400, { title: "Sign in", viewer: null, mainId: "sign-in-page" }, signInView(message));
    };
    if (!expected || !sameText(state, expected.state))
      return refuse("This sign-in was not started in this browser, or took longer than ten minutes. Sign in again.");
    if (code === "") return refuse(`GitHub did not sign you in${url.searchParams.get("error") ? ` (${url.searchParams.get("error")})` : ""}. Sign in again.`);
    try {
      const user = await signInWithCode(client, code);
      const session = newSession({ login: user.login, userId: user.id }, this.services.now());
      this.services.log.info({ login: user.login }, "console sign-in");
      redirect(res, "/console", [clearState, cookieHeader(SESSION_COOKIE, sign(key, session), { maxAgeSeconds: SESSION_SECONDS, secure })]);
    } catch (error) {
      if (error instanceof SignInFailed) return refuse(error.message);
      throw error;
    }
  }

  private async post(req: IncomingMessage, res: ServerResponse, url: URL, session: Session, viewer: Viewer): Promise<void> {
    const form = await readForm(req);
    if (form === null)
      return this.html(
        res,
        415,
        { title: "Not a form", viewer, mainId: "error" },
        messageView("error", "Send a form (application/x-www-form-urlencoded) of at most 16 KiB."),
      );
    if (!hasValidCsrf(session, req, form)) {
      return this.html(
        res,
        403,
        { title: "Refused", viewer, mainId: "csrf-refused" },
        messageView(
          "csrf-refused",
          "This form is out of date or did not come from the console (its CSRF token does not match). Reload the page and try again.",
        ),
      );
    }
    if (url.pathname === "/console/logout")
      return redirect(res, "/console", [cookieHeader(SESSION_COOKIE, "", { maxAgeSeconds: 0, secure: this.secure(req) })], 303);
    if (url.pathname === "/console/tokens") {
      const issued = await issueToken(this.services.pool, {
        person: { login: session.login, userId: session.userId },
        label: form.get("label") ?? "",
        by: session.login,
      });
      return this.tokens(res, { session, viewer, visible: [] }, issued);
    }
    const revoke = /^\/console\/tokens\/(\d{1,15})\/revoke$/.exec(url.pathname)?.[1];
    if (revoke) {
      const revoked = await revokeToken(this.services.pool, { id: Number(revoke), by: session.login, ownerUserId: session.userId });
      if (!revoked) return this.notFound(res, viewer);
      return redirect(res, "/console/tokens", [], 303);
    }
    if (url.pathname === "/console/actions") return this.action(res, form, session, viewer);
    return this.notFound(res, viewer);
  }

  private async action(res: ServerResponse, form: URLSearchParams, session: Session, viewer: Viewer): Promise<void> {
    const verb = form.get("verb") ?? "";
    if (!isConsoleVerb(verb))
      return this.html(
        res,
        400,
        { title: "Unknown action", viewer, mainId: "error" },
        messageView("error", "The console offers approve, halt, resume, reassign, suspend, reinstate and budget; merging stays on GitHub."),
      );
    const visible = await visibleRepositories(this.services, session.login);
    const target = await this.actionTarget(form, visible);
    if (!target) return this.notFound(res, viewer);
    try {
      const result = await runConsoleAction(this.services, { verb, form, login: session.login, target: target.at });
      const status = result.outcome === "done" ? 200 : 409;
      return this.html(res, status, { title: `Action: ${verb}`, viewer, mainId: "action-page" }, resultView({ verb, ...result, back: target.back }));
    } catch (error) {
      if (!(error instanceof ActionInputInvalid)) throw error;
      return this.html(
        res,
        400,
        { title: `Action: ${verb}`, viewer, mainId: "action-page" },
        resultView({ verb, outcome: "invalid", reply: error.message, back: target.back }),
      );
    }
  }

  /** The requirement (by id) or the installation's repository the form names, when the person may see it. */
  private async actionTarget(form: URLSearchParams, visible: Visibility): Promise<{ at: ActionTarget; back: string } | undefined> {
    const requirementId = form.get("requirement");
    if (requirementId !== null) {
      if (!/^\d{1,15}$/.test(requirementId)) return undefined;
      const requirement = await getRequirement(this.services.pool, visible, Number(requirementId));
      if (!requirement) return undefined;
      return {
        at: { installationId: requirement.installationId, repo: requirement.repo, issueNumber: requirement.issueNumber },
        back: `/console/requirements/${requirement.id}`,
      };
    }
    const installation = form.get("installation") ?? "";
    const repo = form.get("repo") ?? "";
    if (!/^\d{1,15}$/.test(installation) || !isVisible(visible, Number(installation), repo)) return undefined;
    const named = visible.find((entry) => entry.installationId === Number(installation) && entry.repo.toLowerCase() === repo.toLowerCase());
    // Installation-wide commands are recorded on the repository they were given from, with no issue (#0).
    return named ? { at: { installationId: named.installationId, repo: named.repo, issueNumber: 0 }, back: "/console" } : undefined;
  }

  private async board(res: ServerResponse, { viewer, visible }: Signed): Promise<void> {
    const { pool } = this.services;
    const [requirements, tasks, cursor] = await Promise.all([
      listRequirements(pool, visible, { limit: 500 }),
      listTasks(pool, visible, { limit: 500 }),
      currentCursor(pool, null),
    ]);
    const installations = visibleInstallations(visible).map((installationId) => ({
      installationId,
      repos: visible.filter((entry) => entry.installationId === installationId).map((entry) => entry.repo),
    }));
    this.html(
      res,
      200,
      { title: "Board", viewer, current: "board", mainId: "board" },
      boardView({ viewer, requirements, tasks, installations, liveSince: formatCursor(cursor) }),
    );
  }

  private async employees(res: ServerResponse, { viewer, visible }: Signed): Promise<void> {
    const boards = await getScoreboards(this.services, visible);
    const hr = new Map<string, AuditEvent[]>();
    for (const board of boards) {
      for (const row of board.rows) {
        const subject = `installation:${board.installationId}/employee:${row.stats.employee}`;
        hr.set(hrKey(board.installationId, row.stats.employee), (await listAuditEvents(this.services.pool, visible, { subject, limit: 20 })).events);
      }
    }
    const repoOf = new Map<number, string>();
    for (const entry of visible) if (!repoOf.has(entry.installationId)) repoOf.set(entry.installationId, entry.repo);
    this.html(res, 200, { title: "Employees", viewer, current: "employees", mainId: "employees" }, employeesView({ viewer, boards, hr, repoOf }));
  }

  private async audit(res: ServerResponse, url: URL, { viewer, visible }: Signed): Promise<void> {
    const query = auditQuery(url);
    const page = await listAuditEvents(this.services.pool, visible, { ...filterOf(query), limit: 100 });
    const status = url.searchParams.get("verify") === "1" ? await auditStatus(this.services.pool, visible, this.services.now) : null;
    this.html(res, 200, { title: "Audit", viewer, current: "audit", mainId: "audit" }, auditView({ events: page.events, next: page.next, query, status }));
  }

  /** The visible events of the filter as JSON Lines, oldest first, streamed page by page. */
  private async exportAudit(res: ServerResponse, url: URL, visible: Visibility): Promise<void> {
    const filter = filterOf({ ...auditQuery(url), before: undefined });
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      "content-type": "application/x-ndjson; charset=utf-8",
      "content-disposition": 'attachment; filename="aura-audit.jsonl"',
    });
    let after = 0;
    for (;;) {
      const page = await listAuditEvents(this.services.pool, visible, { ...filter, afterSeq: after, limit: 500 });
      for (const event of page.events) res.write(`${JSON.stringify(event)}\n`);
      if (page.next === null) break;
      after = page.next;
    }
    res.end();
  }

  private async stream(req: IncomingMessage, res: ServerResponse, url: URL, visible: Visibility, until: number): Promise<void> {
    if (!this.live) return;
    const taskParam = url.searchParams.get("task");
    let taskId: number | null = null;
    if (taskParam !== null) {
      const task = /^\d{1,15}$/.test(taskParam) ? await getTask(this.services.pool, visible, Number(taskParam), { steps: false }) : undefined;
      if (!task) return this.notFound(res, null);
      taskId = task.id;
    }
    await liveStream(this.live, this.services.pool, req, res, { visible, taskId, since: url.searchParams.get("since"), until });
  }

  private async tokens(res: ServerResponse, { session, viewer }: Signed, issued: Awaited<ReturnType<typeof issueToken>> | null): Promise<void> {
    const tokens = await listTokens(this.services.pool, { userId: session.userId });
    this.html(res, issued ? 201 : 200, { title: "Personal tokens", viewer, current: "tokens", mainId: "tokens-page" }, tokensView(viewer, tokens, issued));
  }
}

function auditQuery(url: URL): AuditQuery {
  const text = (name: string) => {
    const value = (url.searchParams.get(name) ?? "").trim();
    return value === "" ? undefined : value.slice(0, 300);
  };
  const before = url.searchParams.get("before") ?? "";
  return { subject: text("subject"), action: text("action"), before: /^\d{1,15}$/.test(before) ? Number(before) : undefined };
}

function filterOf(query: AuditQuery): AuditFilter {
  return {
    ...(query.subject ? { subject: query.subject } : {}),
    ...(query.action ? { action: query.action } : {}),
    ...(query.before !== undefined ? { beforeSeq: query.before } : {}),
  };
}

/** The request's form, or null when it is not a urlencoded form within MAX_FORM_BYTES. */
async function readForm(req: IncomingMessage): Promise<URLSearchParams | null> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/x-www-form-urlencoded") return null;
  // The server's body limit (src/server/body-limit.ts) has read the body already and left it as `req.body`.
  const held = (req as IncomingMessage & { body?: unknown }).body;
  if (typeof held === "string") return Buffer.byteLength(held) > MAX_FORM_BYTES ? null : new URLSearchParams(held);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FORM_BYTES) return null;
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}
