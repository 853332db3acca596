// Request bodies are capped before anything else reads them. GitHub never sends a webhook payload larger than
// 25 MB, so a larger body is refused with 413: up front when Content-Length says so (nothing is read), and
// while streaming otherwise (chunked), as soon as the count passes the cap. Only a body within the cap is
// held in memory; it is handed on as `req.body`, which Probot's and @octokit/webhooks' readers use as is.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Probot } from "probot";

/** GitHub's cap on webhook payloads. */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;

type Handler = (req: IncomingMessage, res: ServerResponse) => boolean | Promise<boolean>;

const tooLarge = `Request body larger than ${MAX_BODY_BYTES} bytes (GitHub's limit for webhook payloads); it was not read.\n`;

function refuse(res: ServerResponse): true {
  // The rest of the body is not read: the connection is closed once the reply is sent.
  res.shouldKeepAlive = false;
  res.writeHead(413, { "content-type": "text/plain", connection: "close" }).end(tooLarge);
  return true;
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers["transfer-encoding"] !== undefined || Number(req.headers["content-length"] ?? 0) > 0;
}

/** Reads the body up to `limit` bytes; resolves undefined (and stops reading) once it passes the limit. */
function readWithin(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        req.pause();
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(Buffer.concat(chunks, size)));
    req.once("error", reject);
  });
}

/**
 * Wraps the server's first handler so that every request body passes the cap before it runs. The body is
 * decoded as UTF-8 exactly as @octokit/webhooks decodes a streamed one, so signatures are checked on the
 * same text.
 */
export function limitRequestBodies(next: Handler, limit = MAX_BODY_BYTES): Handler {
  const decoder = new TextDecoder("utf-8", { fatal: false });
  return async (req, res) => {
    if (!hasBody(req)) return next(req, res);
    if (Number(req.headers["content-length"] ?? 0) > limit) return refuse(res);
    const body = await readWithin(req, limit);
    if (body === undefined) return refuse(res);
    (req as IncomingMessage & { body?: string }).body = decoder.decode(body);
    return next(req, res);
  };
}

/**
 * The Probot class for the server: its webhook middleware, which Probot's Server runs before every other
 * handler, is wrapped by the cap, so it applies to the webhook path, the setup routes and everything else.
 */
export function withBodyLimit(Base: typeof Probot): typeof Probot {
  class LimitedProbot extends Base {
    override async getNodeMiddleware(options?: Parameters<Probot["getNodeMiddleware"]>[0]) {
      const middleware = await super.getNodeMiddleware(options);
      return limitRequestBodies((req, res) => middleware(req, res)) as unknown as typeof middleware;
    }
  }
  return LimitedProbot;
}
