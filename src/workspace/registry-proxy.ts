// The setup phase's only way out of its sandbox: an HTTP proxy on a Unix socket that tunnels (CONNECT) or
// forwards (plain GET/HEAD, for http registries) to the configured package-registry hosts and refuses every
// other destination with 403. The sandbox has no network namespace of its own to route anywhere, so this
// allow-list is the whole egress policy; it is started for one setup run and closed after it.
import http from "node:http";
import net from "node:net";

/** registry.npmjs.org over HTTPS: what `npm ci` needs by default. */
export const DEFAULT_REGISTRY_HOSTS: readonly string[] = ["registry.npmjs.org:443"];

/** One proxy decision, for the app's log and the run's evidence. */
export type EgressEvent = {
  decision: "allowed" | "refused";
  method: string;
  /** `host:port` as requested (lower-cased). */
  target: string;
  reason?: string;
};

export type RegistryProxy = {
  socketPath: string;
  /** Targets refused during this run, each once, in order. */
  refused: () => string[];
  /** Stops listening and cuts every open tunnel. */
  close: () => Promise<void>;
};

export class RegistryHostError extends Error {
  override name = "RegistryHostError";
}

const AUTHORITY = /^(\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?\.?)(?::(\d{1,5}))?$/i;

/**
 * Parses `host` or `host:port` (IPv6 in brackets) into `host:port`, lower-cased, without a trailing dot.
 * `defaultPort` is 443 for configured hosts and CONNECT targets, 80 for plain http URLs.
 */
export function normaliseAuthority(value: string, defaultPort = 443): { host: string; port: number; key: string } {
  const match = AUTHORITY.exec(value.trim());
  const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
  if (!match?.[1] || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RegistryHostError(`${JSON.stringify(value)} is not a host or host:port`);
  }
  const host = match[1].toLowerCase().replace(/\.$/, "");
  return { host, port, key: `${host}:${port}` };
}

/** `AURA_SETUP_REGISTRY_HOSTS`: comma- or space-separated `host[:port]` entries (port 443 when omitted). */
export function parseRegistryHosts(value: string): string[] {
  const entries = value.split(/[\s,]+/).filter((entry) => entry !== "");
  return [...new Set(entries.map((entry) => normaliseAuthority(entry).key))];
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"]);

function refuse(socket: net.Socket, status: 403 | 400 | 502, text: string): void {
  const reason = status === 403 ? "Forbidden" : status === 400 ? "Bad Request" : "Bad Gateway";
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nConnection: close\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
}

/** The allow-list, and the record of what it decided. */
type EgressPolicy = {
  /** The upstream to connect to, or undefined (recorded as refused) when `target` is not an allowed registry. */
  decide: (method: string, target: string, defaultPort: number) => { host: string; port: number } | undefined;
  record: (event: EgressEvent) => void;
  refusedTargets: string[];
};

/** Every socket the proxy holds, so close() can cut open tunnels. */
type SocketTracker = (socket: net.Socket) => void;

/** Starts the proxy on `socketPath` (a Unix socket; its directory is bound into the sandbox). */
export async function startRegistryProxy(options: {
  socketPath: string;
  allow: readonly string[];
  onEvent?: (event: EgressEvent) => void;
}): Promise<RegistryProxy> {
  const egress = egressPolicy(options.allow, options.onEvent);
  const sockets = new Set<net.Socket>();
  const track: SocketTracker = (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  };

  const server = http.createServer((req, res) => forwardPlainHttp(req, res, egress, track));
  server.on("connection", track);
  server.on("connect", (req: http.IncomingMessage, client: net.Socket, head: Buffer) => tunnel(req, client, head, egress, track));
  await listen(server, options.socketPath);

  let closed: Promise<void> | undefined;
  return {
    socketPath: options.socketPath,
    refused: () => [...egress.refusedTargets],
    close: () => {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}

function egressPolicy(allow: readonly string[], onEvent: ((event: EgressEvent) => void) | undefined): EgressPolicy {
  const allowed = new Set(allow.map((entry) => normaliseAuthority(entry).key));
  const refusedTargets: string[] = [];
  const record = (event: EgressEvent) => {
    if (event.decision === "refused" && !refusedTargets.includes(event.target)) refusedTargets.push(event.target);
    onEvent?.(event);
  };
  const decide = (method: string, target: string, defaultPort: number): { host: string; port: number } | undefined => {
    let parsed: { host: string; port: number; key: string };
    try {
      parsed = normaliseAuthority(target, defaultPort);
    } catch {
      record({ decision: "refused", method, target: target.toLowerCase(), reason: "not a host:port" });
      return undefined;
    }
    if (!allowed.has(parsed.key)) {
      record({ decision: "refused", method, target: parsed.key, reason: "not an allowed package registry" });
      return undefined;
    }
    record({ decision: "allowed", method, target: parsed.key });
    return { host: parsed.host.replace(/^\[|\]$/g, ""), port: parsed.port };
  };
  return { decide, record, refusedTargets };
}

/** Plain-http registries only: the request line carries an absolute URL (proxy form); GET and HEAD are forwarded. */
function forwardPlainHttp(req: http.IncomingMessage, res: http.ServerResponse, egress: EgressPolicy, track: SocketTracker): void {
  let url: URL | undefined;
  try {
    url = new URL(req.url ?? "");
  } catch {
    url = undefined;
  }
  if (!url || url.protocol !== "http:") {
    egress.record({ decision: "refused", method: req.method ?? "?", target: String(req.url).slice(0, 200), reason: "not an absolute http URL" });
    res.writeHead(400, { "content-type": "text/plain", connection: "close" }).end("aura: only CONNECT or absolute http:// GET requests are proxied\n");
    return;
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    egress.record({ decision: "refused", method: req.method ?? "?", target: url.host, reason: "only GET and HEAD are forwarded" });
    res.writeHead(405, { "content-type": "text/plain", connection: "close", allow: "GET, HEAD" }).end("aura: only GET and HEAD are forwarded\n");
    return;
  }
  const target = egress.decide(req.method, url.host, 80);
  if (!target) {
    res.writeHead(403, { "content-type": "text/plain", connection: "close" }).end(`aura: ${url.host} is not an allowed package registry\n`);
    return;
  }
  const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
  const upstream = http.request(
    { host: target.host, port: target.port, method: req.method, path: `${url.pathname}${url.search}`, headers, agent: false },
    (response) => {
      const responseHeaders = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !HOP_BY_HOP.has(name)));
      res.writeHead(response.statusCode ?? 502, responseHeaders);
      response.pipe(res);
    },
  );
  upstream.on("socket", track);
  upstream.on("error", (error) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain", connection: "close" }).end(`aura: ${error.message}\n`);
    else res.destroy();
  });
  upstream.end();
}

/** CONNECT: a TCP tunnel to an allowed registry (HTTPS), or 403. */
function tunnel(req: http.IncomingMessage, client: net.Socket, head: Buffer, egress: EgressPolicy, track: SocketTracker): void {
  track(client);
  client.on("error", () => client.destroy());
  const target = egress.decide("CONNECT", req.url ?? "", 443);
  if (!target) {
    refuse(client, 403, `aura: ${req.url ?? "?"} is not an allowed package registry\n`);
    return;
  }
  const upstream = net.connect({ host: target.host, port: target.port });
  track(upstream);
  let connected = false;
  upstream.once("connect", () => {
    connected = true;
    client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on("error", (error) => {
    if (!connected) refuse(client, 502, `aura: ${error.message}\n`);
    else client.destroy();
  });
  client.on("close", () => upstream.destroy());
  upstream.on("close", () => client.destroy());
}

function listen(server: http.Server, socketPath: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
