// Real parts: bubblewrap, the sandbox's node, npm, the host-side proxy on a Unix socket, and local servers
// standing in for package registries (allowed by configuration) and for everything else.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { EgressEvent } from "../../src/workspace/registry-proxy.js";
import { probeBwrap, runInSandbox, type SandboxOptions } from "../../src/workspace/sandbox.js";
import { makeTempDir } from "./git-fixture.js";

const probe = probeBwrap();

/** Run inside the sandbox: `connect <host:port>` through $HTTPS_PROXY, or `direct <host:port>`. */
const PROBE_SCRIPT = `
const http = require("http");
const net = require("net");
const [how, target] = process.argv.slice(2);
if (how === "connect") {
  if (!process.env.HTTPS_PROXY) { console.log("no proxy"); process.exit(5); }
  const proxy = new URL(process.env.HTTPS_PROXY);
  http.request({ host: proxy.hostname, port: Number(proxy.port), method: "CONNECT", path: target })
    .on("connect", (res, socket) => {
      if (res.statusCode !== 200) { console.log("refused " + res.statusCode); process.exit(4); }
      let body = "";
      socket.on("data", (d) => (body += d)).on("end", () => { console.log("through " + body); process.exit(0); });
      socket.write("ping");
    })
    .on("error", (e) => { console.log("error " + e.code); process.exit(3); })
    .end();
} else {
  const i = target.lastIndexOf(":");
  net.connect(Number(target.slice(i + 1)), target.slice(0, i))
    .on("connect", () => { console.log("direct connected"); process.exit(0); })
    .on("error", (e) => { console.log("direct error " + e.code); process.exit(3); });
}
`;

/** A one-package npm registry over plain http, as `npm install --registry` talks to it. */
function fakeRegistry(): { server: http.Server; requests: string[]; tarball: Buffer } {
  const staging = makeTempDir("aura-pkg-");
  const pkg = path.join(staging.dir, "package");
  mkdirSync(pkg);
  // The postinstall script must NOT run: install scripts are off in setup by default.
  const manifest = {
    name: "aura-fixture-pkg",
    version: "1.0.0",
    main: "index.js",
    scripts: { postinstall: "node -e \"require('fs').writeFileSync('/workspace/POSTINSTALL_RAN', '')\"" },
  };
  writeFileSync(path.join(pkg, "package.json"), JSON.stringify(manifest));
  writeFileSync(path.join(pkg, "index.js"), "module.exports = 'fixture package loaded';\n");
  execFileSync("tar", ["czf", path.join(staging.dir, "p.tgz"), "-C", staging.dir, "package"]);
  const tarball = readFileSync(path.join(staging.dir, "p.tgz"));
  staging.cleanup();
  const integrity = `sha512-${createHash("sha512").update(tarball).digest("base64")}`;
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const base = `http://${req.headers.host}`;
    if (req.url === "/aura-fixture-pkg") {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          name: manifest.name,
          "dist-tags": { latest: "1.0.0" },
          versions: { "1.0.0": { ...manifest, dist: { tarball: `${base}/aura-fixture-pkg/-/aura-fixture-pkg-1.0.0.tgz`, integrity } } },
        }),
      );
    } else if (req.url === "/aura-fixture-pkg/-/aura-fixture-pkg-1.0.0.tgz") {
      res.end(tarball);
    } else {
      res.writeHead(404).end("{}");
    }
  });
  return { server, requests, tarball };
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as net.AddressInfo).port;
}

function egressDirs(): string[] {
  return readdirSync(os.tmpdir()).filter((name) => name.startsWith("aura-egress-"));
}

describe.skipIf(!probe.ok)(`setup egress through the registry proxy${probe.ok ? "" : " (skipped: no bubblewrap)"}`, () => {
  let registry: ReturnType<typeof fakeRegistry>;
  let registryPort: number;
  let rawRegistry: net.Server;
  let rawPort: number;
  let elsewhere: net.Server;
  let elsewherePort: number;
  let elsewhereReached: boolean;
  let temp: ReturnType<typeof makeTempDir>;
  let tree: string;
  let events: EgressEvent[];
  let options: SandboxOptions;

  beforeAll(async () => {
    registry = fakeRegistry();
    registryPort = await listen(registry.server);
    rawRegistry = net.createServer((socket) => socket.once("data", (data) => socket.end(`registry:${data.toString()}`)));
    rawPort = await listen(rawRegistry);
    elsewhere = net.createServer((socket) => {
      elsewhereReached = true;
      socket.end("secret");
    });
    elsewherePort = await listen(elsewhere);
  });

  afterAll(async () => {
    await Promise.all([registry.server, rawRegistry, elsewhere].map((server) => new Promise((resolve) => server.close(resolve))));
  });

  beforeEach(() => {
    temp = makeTempDir("aura-sbx-egress-");
    tree = path.join(temp.dir, "tree");
    mkdirSync(tree);
    writeFileSync(path.join(tree, "probe.js"), PROBE_SCRIPT);
    events = [];
    elsewhereReached = false;
    options = {
      allowUnsandboxed: false,
      allowSetupNetwork: true,
      registryHosts: [`127.0.0.1:${registryPort}`, `127.0.0.1:${rawPort}`],
      onEgress: (event) => events.push(event),
    };
  });

  afterEach(() => {
    temp.cleanup();
  });

  it("lets npm install from an allowed registry, with install scripts off", async () => {
    writeFileSync(path.join(tree, "package.json"), JSON.stringify({ name: "t", version: "1.0.0", dependencies: { "aura-fixture-pkg": "1.0.0" } }));
    const command = `npm install --registry http://127.0.0.1:${registryPort}/ --no-audit --no-fund && node -p "require('aura-fixture-pkg')"`;

    const result = await runInSandbox(options, { command, cwd: tree, phase: "setup" });

    expect(result.log).toContain("fixture package loaded");
    expect(result).toMatchObject({ exitCode: 0, sandbox: "bwrap", network: true, egress: { kind: "registry-proxy", refused: [] } });
    expect(registry.requests).toEqual(expect.arrayContaining(["GET /aura-fixture-pkg", "GET /aura-fixture-pkg/-/aura-fixture-pkg-1.0.0.tgz"]));
    expect(events.some((event) => event.decision === "allowed" && event.target === `127.0.0.1:${registryPort}`)).toBe(true);
    expect(existsSync(path.join(tree, "node_modules", "aura-fixture-pkg", "index.js"))).toBe(true);
    expect(existsSync(path.join(tree, "POSTINSTALL_RAN"))).toBe(false);
  });

  it("runs install scripts only when the operator allows them", async () => {
    writeFileSync(path.join(tree, "package.json"), JSON.stringify({ name: "t", version: "1.0.0", dependencies: { "aura-fixture-pkg": "1.0.0" } }));
    const command = `npm install --registry http://127.0.0.1:${registryPort}/ --no-audit --no-fund`;

    const result = await runInSandbox({ ...options, allowInstallScripts: true }, { command, cwd: tree, phase: "setup" });

    expect(result.exitCode).toBe(0);
    expect(existsSync(path.join(tree, "POSTINSTALL_RAN"))).toBe(true);
  });

  it("tunnels a CONNECT to an allowed host:port and refuses any other with 403", async () => {
    const allowed = await runInSandbox(options, { command: `node probe.js connect 127.0.0.1:${rawPort}`, cwd: tree, phase: "setup" });
    const refused = await runInSandbox(options, { command: `node probe.js connect 127.0.0.1:${elsewherePort}`, cwd: tree, phase: "setup" });
    const named = await runInSandbox(options, { command: "node probe.js connect example.com:443", cwd: tree, phase: "setup" });

    expect(allowed.log).toContain("through registry:ping");
    expect(allowed.exitCode).toBe(0);
    expect(refused.log).toContain("refused 403");
    expect(named.log).toContain("refused 403");
    expect(elsewhereReached).toBe(false);
    expect(refused.egress).toEqual({ kind: "registry-proxy", allowed: options.registryHosts, refused: [`127.0.0.1:${elsewherePort}`] });
    expect(events.filter((event) => event.decision === "refused").map((event) => event.target)).toEqual([`127.0.0.1:${elsewherePort}`, "example.com:443"]);
  });

  it("has no route around the proxy: direct connections to the registry or anywhere else fail", async () => {
    const command = `node probe.js direct 127.0.0.1:${rawPort}; node probe.js direct 1.1.1.1:443; node probe.js direct 10.0.0.1:80`;

    const result = await runInSandbox(options, { command, cwd: tree, phase: "setup" });

    expect(result.log).not.toContain("direct connected");
    expect(result.log.match(/direct error/g)).toHaveLength(3);
  });

  it("gives the test phase neither network nor proxy, even with setup egress configured", async () => {
    const command = `node probe.js connect 127.0.0.1:${rawPort}; node probe.js direct 127.0.0.1:${rawPort}; ls /aura-egress 2>&1; env | grep -ci proxy`;

    const result = await runInSandbox(options, { command, cwd: tree, phase: "test" });

    expect(result.log).toContain("no proxy");
    expect(result.log).toContain("direct error");
    expect(result.log).toMatch(/No such file or directory/);
    expect(result.log.trim().endsWith("0")).toBe(true);
    expect(result).toMatchObject({ network: false, egress: { kind: "none" } });
  });

  it("passes no secrets to setup and removes the proxy after the run", async () => {
    const before = egressDirs();
    process.env.GITHUB_TOKEN = "ghs_egresstoken00000000000000000000000";

    const result = await runInSandbox(options, { command: "env", cwd: tree, phase: "setup" }).finally(() => {
      delete process.env.GITHUB_TOKEN;
    });

    const names = result.log
      .trim()
      .split("\n")
      .map((line) => line.split("=")[0] ?? "")
      .filter((name) => !["PWD", "SHLVL", "_"].includes(name));
    expect(names.sort()).toEqual(
      [
        "CI",
        "HOME",
        "HTTPS_PROXY",
        "HTTP_PROXY",
        "LANG",
        "PATH",
        "http_proxy",
        "https_proxy",
        "npm_config_https_proxy",
        "npm_config_ignore_scripts",
        "npm_config_proxy",
      ].sort(),
    );
    expect(result.log).not.toContain("ghs_egresstoken");
    expect(result.log).toContain("npm_config_ignore_scripts=true");
    expect(egressDirs()).toEqual(before);
  });

  it("keeps setup offline when setup network is not allowed", async () => {
    const result = await runInSandbox(
      { ...options, allowSetupNetwork: false },
      { command: `node probe.js connect 127.0.0.1:${rawPort}`, cwd: tree, phase: "setup" },
    );

    expect(result.log).toContain("no proxy");
    expect(result).toMatchObject({ network: false, egress: { kind: "none" } });
  });
});
