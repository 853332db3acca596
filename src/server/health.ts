// GET /health: the process is up. GET /ready: the database answers and every migration is applied (503
// otherwise), with the sandbox mode. The operator's detail (the database's error text, the app's database role
// and warnings about it, what the sandbox probe found) is shown only to a request from this host with no proxy in
// between (AURA_READY_DETAIL=none: to nobody): the app's port also serves GitHub's webhooks, so it is often
// reachable from the internet.
import type { IncomingMessage, ServerResponse } from "node:http";
import type pg from "pg";
import { isMigrated } from "../db/migrate.js";

export type ReadinessProbe = {
  pool: pg.Pool;
  /** "bwrap", "bwrap (limits incomplete)", "none", "none (limits incomplete)" or "unavailable". */
  sandboxMode: () => string;
  /** What was detected: bubblewrap (or, in plain words, why it cannot start), the limits that hold and those that do not, the setup phase's egress. */
  sandboxDetail?: () => Record<string, string>;
  /** The app's database role, checked at start; warnings when it could write the audit log directly. */
  databaseRole?: { role: string; warnings: string[] };
  /** AURA_READY_DETAIL: who sees the fields above and the database's error text (default `local`). */
  detail?: "local" | "none";
};

/** A request from the host itself (a container healthcheck, an operator's curl) that no proxy forwarded. */
export function fromThisHost(req: Pick<IncomingMessage, "headers" | "socket">): boolean {
  const address = req.socket.remoteAddress ?? "";
  const loopback = address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
  const { headers } = req;
  return loopback && headers["x-forwarded-for"] === undefined && headers.forwarded === undefined && headers["x-real-ip"] === undefined;
}

/** Who sees the operator's detail (/ready's, and /metrics without a token): this host with no proxy between, unless AURA_READY_DETAIL=none. */
export function mayReadDetail(req: Pick<IncomingMessage, "headers" | "socket">, detail: ReadinessProbe["detail"]): boolean {
  return detail !== "none" && fromThisHost(req);
}

function operatorFields(probe: ReadinessProbe, detailed: boolean): Record<string, unknown> {
  if (!detailed) return { sandbox: probe.sandboxMode() };
  return {
    sandbox: probe.sandboxMode(),
    ...(probe.sandboxDetail ? { sandboxDetail: probe.sandboxDetail() } : {}),
    ...(probe.databaseRole
      ? { databaseRole: probe.databaseRole.role, ...(probe.databaseRole.warnings.length > 0 ? { warnings: probe.databaseRole.warnings } : {}) }
      : {}),
  };
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>): void {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(body));
}

export function healthHandler(probe: ReadinessProbe) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    const path = req.url?.split("?")[0];
    if (req.method !== "GET" || (path !== "/health" && path !== "/ready")) return false;
    if (path === "/health") {
      send(res, 200, { status: "ok" });
      return true;
    }
    const detailed = mayReadDetail(req, probe.detail);
    try {
      const migrated = await withTimeout(isMigrated(probe.pool), 2_000);
      send(res, migrated ? 200 : 503, {
        status: migrated ? "ready" : "migrations pending",
        database: "ok",
        ...operatorFields(probe, detailed),
      });
    } catch (error) {
      send(res, 503, {
        status: "database unreachable",
        database: detailed ? (error instanceof Error ? error.message : String(error)) : "unreachable",
        ...operatorFields(probe, detailed),
      });
    }
    return true;
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
