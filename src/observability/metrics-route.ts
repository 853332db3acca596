// GET /metrics: this process's metrics in the Prometheus text format, with the queue's depth read at scrape time.
// Not public (the app's port also takes GitHub's webhooks, so it is often reachable from the internet): served
// with `Authorization: Bearer <AURA_METRICS_TOKEN>`, or to a request from this host that no proxy forwarded,
// the same decision that shows /ready's detail (src/server/health.ts decides it and is passed in as `local`).
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type pg from "pg";
import type { Logger } from "pino";
import { metrics } from "./metrics.js";
import { refreshQueueDepth } from "./queue-depth.js";

export type MetricsAccess = {
  pool: Pick<pg.Pool, "query">;
  /** AURA_METRICS_TOKEN: a scraper elsewhere sends it as a bearer token. Unset: only `local` requests. */
  token: string | undefined;
  /** Whether the request may see the operator's detail without a token (/ready's rule). */
  local: (req: IncomingMessage) => boolean;
  log: Logger;
};

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** The bearer token matches, compared in constant time. */
function hasToken(req: IncomingMessage, token: string | undefined): boolean {
  if (token === undefined) return false;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return match?.[1] !== undefined && timingSafeEqual(digest(match[1]), digest(token));
}

function refuse(res: ServerResponse, tokenSet: boolean): void {
  const text = tokenSet
    ? "Metrics are served to this host, or with the header Authorization: Bearer <AURA_METRICS_TOKEN>. Send the token the app was started with.\n"
    : "Metrics are served only to this host. To scrape from elsewhere, start the app with AURA_METRICS_TOKEN set and send it as Authorization: Bearer <token>.\n";
  res.writeHead(401, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", "www-authenticate": 'Bearer realm="aura-metrics"' }).end(text);
}

export function metricsHandler(access: MetricsAccess) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    if (req.url?.split("?")[0] !== "/metrics") return false;
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      return true;
    }
    if (!access.local(req) && !hasToken(req, access.token)) {
      refuse(res, access.token !== undefined);
      return true;
    }
    await refreshQueueDepth(access.pool).catch((error: unknown) =>
      access.log.warn({ reason: error instanceof Error ? error.message : String(error) }, "metrics: the queue's depth could not be read; served without it"),
    );
    const { registry } = metrics();
    const body = await registry.metrics();
    res.writeHead(200, { "content-type": registry.contentType, "cache-control": "no-store" }).end(body);
    return true;
  };
}
