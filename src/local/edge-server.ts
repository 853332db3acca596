// Local mode's GitHub: the repository edge (github-edge.ts) served over HTTP on a loopback port, at the paths a
// GitHub Enterprise Server has (REST under /api/v3, GraphQL at /api/graphql), so the app reaches it through
// GHE_HOST like any GitHub. It also hands out installation tokens, which only this edge accepts.
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { GitHubEdge } from "./github-edge.js";
import { NOT_FOUND } from "./github-edge/context.js";

export type EdgeServer = {
  /** `127.0.0.1:<port>`, what GHE_HOST is set to. */
  host: string;
  port: number;
  close: () => Promise<void>;
};

const MAX_BODY_BYTES = 32 * 1024 * 1024;

function readBody(request: http.IncomingMessage): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error("request body too large"));
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8");
      if (text === "") return resolve(undefined);
      try {
        const parsed = JSON.parse(text) as unknown;
        resolve(parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined);
      } catch {
        reject(new Error("request body is not JSON"));
      }
    });
    request.on("error", reject);
  });
}

function send(response: http.ServerResponse, status: number, json: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(json);
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", "x-github-media-type": "github.v3; format=json", ...headers });
  response.end(body);
}

/** What `path` is on github.com: `/api/v3/x` is `/x`, `/api/graphql` is `/graphql`; anything else is not the API. */
function apiPath(pathname: string): string | undefined {
  if (pathname === "/api/graphql") return "/graphql";
  if (pathname.startsWith("/api/v3/")) return pathname.slice("/api/v3".length);
  return undefined;
}

/** One answer of a GitHub API route: status, JSON body and any headers (e.g. `retry-after`, `link`). */
export type ApiAnswer = { status: number; json: unknown; headers?: Record<string, string> | undefined };
export type ApiRoute = (method: string, pathname: string, url: URL, body: Record<string, unknown> | undefined) => ApiAnswer;

/**
 * Serves GitHub's API paths on a loopback port: installation tokens are handed out here (only this server
 * accepts them), every other request goes to `route` with its github.com path. Local mode serves one repository
 * edge this way; bench:soak serves many, with faults.
 */
export async function serveGitHubApi(route: ApiRoute, port = 0): Promise<EdgeServer> {
  const token = `ghs_local${randomBytes(16).toString("hex")}`;
  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://127.0.0.1");
    const method = (request.method ?? "GET").toUpperCase();
    const pathname = apiPath(url.pathname);
    if (pathname === undefined) return send(response, 404, { message: "Not Found" });
    readBody(request).then(
      (body) => {
        if (method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(pathname)) {
          return send(response, 201, {
            token,
            expires_at: new Date(Date.now() + 3_600_000).toISOString(),
            permissions: { contents: "write", issues: "write", pull_requests: "write", statuses: "write", metadata: "read" },
            repository_selection: "all",
          });
        }
        let answer: ApiAnswer;
        try {
          answer = route(method, pathname, url, body);
        } catch (error) {
          // A route that fails (git could not read the repository) answers as GitHub's own failures do.
          answer = { status: 500, json: { message: `the local GitHub edge failed: ${error instanceof Error ? error.message : String(error)}` } };
        }
        send(response, answer.status, answer.json, answer.headers);
      },
      (error: unknown) => send(response, 400, { message: error instanceof Error ? error.message : String(error) }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function serveGitHubEdge(edge: GitHubEdge, port = 0): Promise<EdgeServer> {
  return serveGitHubEdges(() => edge, port);
}

/**
 * Serves the edges of several repositories on one port (a local session's runs): a request under
 * `/repos/{owner}/{name}` goes to `edgeOf("owner/name")`, any other (GraphQL, app-level paths) to `edgeOf()`; a
 * repository without an edge is answered 404, as GitHub answers one that is gone.
 */
export function serveGitHubEdges(edgeOf: (fullName?: string) => GitHubEdge | undefined, port = 0): Promise<EdgeServer> {
  return serveGitHubApi((method, pathname, url, body) => {
    const repo = /^\/repos\/([^/]+)\/([^/]+)/.exec(pathname);
    const edge = repo ? edgeOf(`${decodeURIComponent(repo[1] ?? "")}/${decodeURIComponent(repo[2] ?? "")}`) : edgeOf();
    if (!edge) return { status: 404, json: NOT_FOUND };
    return edge.respond(method, new URL(`${pathname}${url.search}`, "http://127.0.0.1"), body);
  }, port);
}
