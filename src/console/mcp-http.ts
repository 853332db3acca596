// `/mcp` on the app's own server: the MCP server over streamable HTTP, stateless (one server and transport per
// POST, JSON responses), for callers with a personal token in `Authorization: Bearer …`. A missing, malformed,
// unknown or revoked token gets 401 with what to do, before anything is read for it. The caller's GitHub token,
// needed only by submit_requirement, comes in `X-GitHub-Token` and is used for that one request, never stored.
import type { IncomingMessage, ServerResponse } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { createMcpServer, type McpServices } from "./mcp.js";
import { authenticateToken } from "./tokens.js";

export const MCP_PATH = "/mcp";
/** An MCP request is a JSON-RPC message or a small batch; nothing legitimate comes near this. */
export const MCP_MAX_BODY_BYTES = 1024 * 1024;

function jsonRpcError(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): true {
  res
    .writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers })
    .end(JSON.stringify({ jsonrpc: "2.0", error: { code: status === 401 ? -32001 : -32600, message }, id: null }));
  return true;
}

function bearer(req: IncomingMessage): string | undefined {
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  return match?.[1];
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

/** The `/mcp` route, for Probot's Server.addHandler: false for every other path. */
export function mcpHttpHandler(services: McpServices) {
  return async (req: IncomingMessage & { body?: unknown }, res: ServerResponse): Promise<boolean> => {
    if ((req.url ?? "").split("?")[0] !== MCP_PATH) return false;
    const challenge = { "www-authenticate": 'Bearer realm="aura-mcp"' };
    const token = bearer(req);
    if (!token) {
      return jsonRpcError(res, 401, "Send a personal token as 'Authorization: Bearer aura_pt_…'; issue one in the Aura console (Tokens).", challenge);
    }
    const auth = await authenticateToken(services.pool, token);
    if (!auth.ok) return jsonRpcError(res, 401, auth.message, { ...challenge, "www-authenticate": `Bearer realm="aura-mcp", error="invalid_token"` });
    if (req.method !== "POST") {
      return jsonRpcError(res, 405, "This MCP endpoint is stateless: send each JSON-RPC message as a POST (no GET stream, no sessions).", { allow: "POST" });
    }
    const body = typeof req.body === "string" ? req.body : "";
    if (Buffer.byteLength(body) > MCP_MAX_BODY_BYTES) return jsonRpcError(res, 413, `An MCP request body may be at most ${MCP_MAX_BODY_BYTES} bytes.`);
    let message: unknown;
    try {
      message = JSON.parse(body);
    } catch {
      return jsonRpcError(res, 400, "The request body is not JSON: send a JSON-RPC message.");
    }
    const server = createMcpServer(services, { person: auth.person, githubToken: header(req, "x-github-token") });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on("close", () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, message);
    return true;
  };
}
