import http from "node:http";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/env.js";
import {
  normaliseAuthority,
  parseRegistryHosts,
  RegistryHostError,
  startRegistryProxy,
  type EgressEvent,
  type RegistryProxy,
} from "../../src/workspace/registry-proxy.js";

/** Speaks raw HTTP to the proxy's Unix socket; `then` is sent once the first reply has arrived. */
function talk(socketPath: string, request: string, then?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let received = "";
    let sent = false;
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk) => {
      received += chunk.toString();
      if (then !== undefined && !sent && received.includes("\r\n\r\n")) {
        sent = true;
        socket.write(then);
      }
    });
    socket.on("close", () => resolve(received));
    socket.on("error", reject);
  });
}

describe("registry host configuration", () => {
  it("normalises entries to lower-case host:port, 443 when no port is given", () => {
    const hosts = parseRegistryHosts("Registry.NPMjs.org., 127.0.0.1:4873  [::1]:8080,registry.npmjs.org:443");

    expect(hosts).toEqual(["registry.npmjs.org:443", "127.0.0.1:4873", "[::1]:8080"]);
  });

  it.each(["https://registry.npmjs.org", "registry.npmjs.org:99999", "bad_host:1", "user@host:443"])("refuses %s", (entry) => {
    expect(() => parseRegistryHosts(entry)).toThrow(RegistryHostError);
  });

  it("uses port 80 for plain http URLs when asked", () => {
    expect(normaliseAuthority("example.org", 80).key).toBe("example.org:80");
  });
});

describe("AURA_SETUP_REGISTRY_HOSTS", () => {
  it("defaults to the npm registry over HTTPS, also when left empty", () => {
    expect(loadConfig({}).AURA_SETUP_REGISTRY_HOSTS).toEqual(["registry.npmjs.org:443"]);
    expect(loadConfig({ AURA_SETUP_REGISTRY_HOSTS: " " }).AURA_SETUP_REGISTRY_HOSTS).toEqual(["registry.npmjs.org:443"]);
  });

  it("takes a list and names a bad entry in the configuration message", () => {
    expect(loadConfig({ AURA_SETUP_REGISTRY_HOSTS: "registry.npmjs.org,npm.example.com:8443" }).AURA_SETUP_REGISTRY_HOSTS).toEqual([
      "registry.npmjs.org:443",
      "npm.example.com:8443",
    ]);
    expect(() => loadConfig({ AURA_SETUP_REGISTRY_HOSTS: "https://registry.npmjs.org" })).toThrow(ConfigError);
    expect(() => loadConfig({ AURA_SETUP_REGISTRY_HOSTS: "https://registry.npmjs.org" })).toThrow(/AURA_SETUP_REGISTRY_HOSTS .*host:port/);
  });
});

describe("the registry proxy", () => {
  let dir: string;
  let registry: net.Server;
  let registryPort: number;
  let other: net.Server;
  let otherPort: number;
  let web: http.Server;
  let webPort: number;
  let proxy: RegistryProxy;
  let events: EgressEvent[];

  const listen = async (server: net.Server) => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return (server.address() as net.AddressInfo).port;
  };

  beforeAll(async () => {
    registry = net.createServer((socket) => socket.once("data", (data) => socket.end(`registry:${data.toString()}`)));
    other = net.createServer((socket) => socket.end("other"));
    web = http.createServer((req, res) => res.end(`web ${req.method} ${req.url} via=${req.headers["proxy-authorization"] ?? "-"}`));
    registryPort = await listen(registry);
    otherPort = await listen(other);
    webPort = await listen(web);
  });

  afterAll(async () => {
    await Promise.all([registry, other, web].map((server) => new Promise((resolve) => server.close(resolve))));
  });

  beforeEach(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "aura-proxy-test-"));
    events = [];
    proxy = await startRegistryProxy({
      socketPath: path.join(dir, "proxy.sock"),
      allow: [`127.0.0.1:${registryPort}`, `127.0.0.1:${webPort}`],
      onEvent: (event) => events.push(event),
    });
  });

  afterEach(async () => {
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("tunnels CONNECT to an allowed host:port", async () => {
    const reply = await talk(proxy.socketPath, `CONNECT 127.0.0.1:${registryPort} HTTP/1.1\r\nHost: 127.0.0.1:${registryPort}\r\n\r\n`, "ping");

    expect(reply).toBe("HTTP/1.1 200 Connection Established\r\n\r\nregistry:ping");
    expect(events).toEqual([{ decision: "allowed", method: "CONNECT", target: `127.0.0.1:${registryPort}` }]);
  });

  it("refuses CONNECT to any other host:port with 403, logs it, and never connects", async () => {
    let reached = false;
    other.once("connection", () => (reached = true));

    const reply = await talk(proxy.socketPath, `CONNECT 127.0.0.1:${otherPort} HTTP/1.1\r\n\r\n`);
    const named = await talk(proxy.socketPath, "CONNECT evil.example.com:443 HTTP/1.1\r\n\r\n");

    expect(reply).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    expect(named).toMatch(/^HTTP\/1\.1 403 Forbidden/);
    expect(reached).toBe(false);
    expect(proxy.refused()).toEqual([`127.0.0.1:${otherPort}`, "evil.example.com:443"]);
    expect(events.map((event) => event.decision)).toEqual(["refused", "refused"]);
  });

  it("forwards a plain GET to an allowed http registry, without proxy credentials", async () => {
    const reply = await talk(
      proxy.socketPath,
      `GET http://127.0.0.1:${webPort}/left-pad?x=1 HTTP/1.1\r\nHost: 127.0.0.1:${webPort}\r\nProxy-Authorization: Basic c2VjcmV0\r\nConnection: close\r\n\r\n`,
    );

    expect(reply).toMatch(/^HTTP\/1\.1 200/);
    expect(reply).toContain("web GET /left-pad?x=1 via=-");
  });

  it("refuses a plain GET to another host, and any method but GET or HEAD", async () => {
    const elsewhere = await talk(proxy.socketPath, `GET http://127.0.0.1:${otherPort}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const upload = await talk(proxy.socketPath, `POST http://127.0.0.1:${webPort}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    const origin = await talk(proxy.socketPath, `GET /left-pad HTTP/1.1\r\nHost: 127.0.0.1:${webPort}\r\nConnection: close\r\n\r\n`);

    expect(elsewhere).toMatch(/^HTTP\/1\.1 403/);
    expect(upload).toMatch(/^HTTP\/1\.1 405/);
    expect(origin).toMatch(/^HTTP\/1\.1 400/);
    expect(events.every((event) => event.decision === "refused")).toBe(true);
  });

  it("cuts open tunnels and stops listening when closed", async () => {
    const held = net.createServer(() => undefined);
    const heldPort = await listen(held);
    const allowing = await startRegistryProxy({ socketPath: path.join(dir, "held.sock"), allow: [`127.0.0.1:${heldPort}`] });
    const client = net.connect(allowing.socketPath, () => client.write(`CONNECT 127.0.0.1:${heldPort} HTTP/1.1\r\n\r\n`));
    const established = await new Promise<string>((resolve) => client.once("data", (chunk) => resolve(chunk.toString())));
    const cut = new Promise<void>((resolve) => client.once("close", () => resolve()));

    await allowing.close();

    await cut;
    expect(established).toBe("HTTP/1.1 200 Connection Established\r\n\r\n");
    expect(existsSync(allowing.socketPath)).toBe(false);
    await new Promise((resolve) => held.close(resolve));
  });
});
