// Request bodies are capped before anything else reads them, per request and in total.
// - Per request: GitHub never sends a webhook payload larger than 25 MB, so a larger body is refused with 413:
//   up front when Content-Length says so (nothing is read), and while streaming otherwise (chunked).
// - In total: every connection's body counts against one budget (AURA_BODY_BYTES_IN_FLIGHT) from its first
//   byte until the handler that received it has finished, so many concurrent bodies cannot together hold more.
//   The budget counts bytes actually received, never a Content-Length's promise: a slow client that announces
//   25 MB and sends nothing holds nothing. A request whose declared length does not fit what is left, or whose
//   next chunk would pass the budget, is refused with 503 and Retry-After, its bytes given back at once.
// - On the webhook path, a POST that is not JSON or lacks GitHub's headers is refused before its body is read,
//   with the same codes @octokit/webhooks gives (415, 400): without a signature it could never be accepted.
// Only a body within both caps is held in memory; it is handed on as `req.body`, which Probot's and
// @octokit/webhooks' readers use as is.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { Probot } from "probot";

/** GitHub's cap on webhook payloads. */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;

/** The default total of request bodies held at once: two payloads of GitHub's maximum size, and room beside them. */
export const DEFAULT_BODY_BYTES_IN_FLIGHT = 64 * 1024 * 1024;

/**
 * Smaller caps for the routes that need no webhook-sized bodies, so that nobody can hold the shared budget (and
 * so GitHub's deliveries) with large posts to them: the console's forms and the MCP endpoint's JSON-RPC.
 */
export const ROUTE_BODY_LIMITS: readonly { prefix: string; bytes: number; what: string }[] = [
  { prefix: "/console", bytes: 64 * 1024, what: "the console's forms" },
  { prefix: "/mcp", bytes: 1024 * 1024, what: "an MCP request" },
];

/** The cap for a request to `url`: a route's own, or the one for every other request. */
function routeLimit(url: string | undefined, perRequest: number): { bytes: number; what: string } {
  let path = "/";
  try {
    path = new URL(url ?? "/", "http://localhost").pathname;
  } catch {
    // An unparsable URL gets the general cap; the router answers it.
  }
  const route = ROUTE_BODY_LIMITS.find((entry) => path === entry.prefix || path.startsWith(`${entry.prefix}/`));
  return route && route.bytes < perRequest ? route : { bytes: perRequest, what: "GitHub's limit for webhook payloads" };
}

/** Seconds a client refused for load is told to wait (Retry-After). */
export const BUSY_RETRY_AFTER_SECONDS = 30;

/** The headers GitHub sends with every delivery; @octokit/webhooks refuses a request without any of them. */
const WEBHOOK_HEADERS = ["x-github-event", "x-hub-signature-256", "x-github-delivery"] as const;

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

/** The bytes of request bodies held across all connections of one server. */
export class BodyBudget {
  #held = 0;
  #peak = 0;

  constructor(readonly limit: number) {}

  /** Bytes held now. */
  get held(): number {
    return this.#held;
  }

  /** The most bytes held at any one time since the server started. */
  get peak(): number {
    return this.#peak;
  }

  /** Whether `bytes` more would fit now. */
  fits(bytes: number): boolean {
    return this.#held + bytes <= this.limit;
  }

  /** One request's share: takes bytes while they fit, gives all of them back once (later calls do nothing). */
  share(): { take: (bytes: number) => boolean; release: () => void } {
    let taken = 0;
    let released = false;
    return {
      take: (bytes) => {
        if (released || !this.fits(bytes)) return false;
        taken += bytes;
        this.#held += bytes;
        this.#peak = Math.max(this.#peak, this.#held);
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#held -= taken;
      },
    };
  }
}

export type BodyLimits = {
  /** The most bytes one request body may have (default GitHub's 25 MB). */
  perRequest?: number;
  /** Shared by every connection; its limit is AURA_BODY_BYTES_IN_FLIGHT. */
  budget: BodyBudget;
  /** The webhook path, whose requests must carry GitHub's headers before their body is read. */
  webhookPath: string;
  log: Logger;
};

/** Answers and closes the connection: whatever of the body was not read stays unread. */
function answer(res: ServerResponse, status: number, headers: Record<string, string>, body: string): true {
  res.shouldKeepAlive = false;
  res.writeHead(status, { ...headers, connection: "close" }).end(body);
  return true;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/** Drops trailing slashes, as @octokit/webhooks does before it compares paths. */
function withoutTrailingSlashes(path: string): string {
  return path.replace(/\/+$/, "") || "/";
}

/** Whether @octokit/webhooks would take this request as a webhook (same comparison; an unparsable URL is not). */
function isWebhookPath(url: string | undefined, webhookPath: string): boolean {
  try {
    return new URL(withoutTrailingSlashes(url ?? ""), "http://localhost").pathname === withoutTrailingSlashes(webhookPath);
  } catch {
    return false;
  }
}

/**
 * A webhook POST that can never be accepted, answered before its body is read with the status
 * @octokit/webhooks would give after reading it: 415 when it is not JSON, 400 when GitHub's headers are missing.
 */
function refuseWebhookEarly(req: IncomingMessage, res: ServerResponse): boolean {
  const contentType = req.headers["content-type"];
  const json = { "content-type": "application/json", accept: "application/json" };
  if (typeof contentType !== "string" || !/^\s*(application\/json)\s*(?:;|$)/u.test(contentType)) {
    return answer(res, 415, json, JSON.stringify({ error: `Unsupported "Content-Type" header value. Must be "application/json"` }));
  }
  const missing = WEBHOOK_HEADERS.filter((name) => req.headers[name] === undefined);
  if (missing.length === 0) return false;
  const error =
    `Required headers missing: ${missing.join(", ")}. GitHub sends X-GitHub-Event, X-GitHub-Delivery and a signature ` +
    "(X-Hub-Signature-256) with every delivery once the GitHub App has a webhook secret; this request's body was not read.";
  return answer(res, 400, json, JSON.stringify({ error }));
}

type Read = { kind: "body"; body: Buffer } | { kind: "too-large" } | { kind: "busy"; readBytes: number } | { kind: "aborted" };

/**
 * Reads the body while each chunk fits both the per-request cap and the shared budget; stops reading at the
 * first chunk that does not, or when the client goes away. Only a whole body keeps its share of the budget.
 */
function readWithin(req: IncomingMessage, perRequest: number, share: ReturnType<BodyBudget["share"]>): Promise<Read> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (result: Read) => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onGone);
      req.off("close", onGone);
      if (result.kind !== "body") {
        req.pause();
        chunks.length = 0;
        share.release();
      }
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      if (size + chunk.length > perRequest) return finish({ kind: "too-large" });
      if (!share.take(chunk.length)) return finish({ kind: "busy", readBytes: size + chunk.length });
      size += chunk.length;
      chunks.push(chunk);
    };
    const onEnd = () => finish({ kind: "body", body: Buffer.concat(chunks, size) });
    const onGone = () => finish({ kind: "aborted" });
    req.on("data", onData);
    req.once("end", onEnd);
    req.once("error", onGone);
    req.once("close", onGone);
  });
}

/**
 * Wraps the server's first handler so that every request body passes both caps before it runs. The body is
 * decoded as UTF-8 exactly as @octokit/webhooks decodes a streamed one, so signatures are checked on the
 * same text. Its share of the budget is given back when the wrapped handler has finished, refused or failed,
 * or when the client goes away mid-body.
 */
export function limitRequestBodies(next: Handler, limits: BodyLimits): Handler {
  const { budget, log, webhookPath } = limits;
  const perRequest = limits.perRequest ?? MAX_BODY_BYTES;
  const decoder = new TextDecoder("utf-8", { fatal: false });
  const tooLarge = (limit: { bytes: number; what: string }) => `Request body larger than ${limit.bytes} bytes (${limit.what}); it was not read.\n`;
  const busy = (req: IncomingMessage, res: ServerResponse, declared: number, readBytes: number) => {
    log.warn(
      {
        path: req.url,
        event: req.headers["x-github-event"],
        delivery: req.headers["x-github-delivery"],
        declaredBytes: declared || undefined,
        readBytes,
        heldBytes: budget.held,
        limitBytes: budget.limit,
      },
      "refused a request with 503: request bodies in flight reached AURA_BODY_BYTES_IN_FLIGHT. GitHub does not retry a failed delivery: redeliver it from the GitHub App's settings (Advanced, Recent Deliveries) once the load has passed",
    );
    const text =
      `The server already holds as many request bodies as it allows at once (${budget.limit} bytes in all); ` +
      `this request's body was not accepted. Retry after ${BUSY_RETRY_AFTER_SECONDS} seconds.\n`;
    return answer(res, 503, { "content-type": "text/plain", "retry-after": String(BUSY_RETRY_AFTER_SECONDS) }, text);
  };

  return async (req, res) => {
    if (req.method === "POST" && isWebhookPath(req.url, webhookPath) && refuseWebhookEarly(req, res)) return true;
    if (!hasBody(req)) return next(req, res);
    const declared = Number(req.headers["content-length"] ?? 0);
    const limit = routeLimit(req.url, perRequest);
    if (declared > limit.bytes) return answer(res, 413, { "content-type": "text/plain" }, tooLarge(limit));
    if (!budget.fits(Math.max(declared, 1))) return busy(req, res, declared, 0);
    const share = budget.share();
    try {
      const read = await readWithin(req, limit.bytes, share);
      if (read.kind === "too-large") return answer(res, 413, { "content-type": "text/plain" }, tooLarge(limit));
      if (read.kind === "busy") return busy(req, res, declared, read.readBytes);
      // The client went away mid-body: there is no one to answer.
      if (read.kind === "aborted") return true;
      (req as IncomingMessage & { body?: string }).body = decoder.decode(read.body);
      return await next(req, res);
    } finally {
      share.release();
    }
  };
}

/**
 * The Probot class for the server: its webhook middleware, which Probot's Server runs before every other
 * handler, is wrapped by the caps, so they apply to the webhook path, the setup routes and everything else.
 */
export function withBodyLimit(Base: typeof Probot, limits: Omit<BodyLimits, "webhookPath">): typeof Probot {
  class LimitedProbot extends Base {
    override async getNodeMiddleware(options?: Parameters<Probot["getNodeMiddleware"]>[0]) {
      const middleware = await super.getNodeMiddleware(options);
      const webhookPath = options?.path ?? this.webhookPath;
      return limitRequestBodies((req, res) => middleware(req, res), { ...limits, webhookPath }) as unknown as typeof middleware;
    }
  }
  return LimitedProbot;
}
