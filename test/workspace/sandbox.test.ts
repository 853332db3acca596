import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SandboxUnavailableError } from "../../src/workspace/errors.js";
import { probeBwrap, runInSandbox, sandboxMode, sandboxStatus, type SandboxOptions } from "../../src/workspace/sandbox.js";
import { probeLimits, SandboxLimitsUnavailableError, type LimitProbe } from "../../src/workspace/sandbox-limits.js";
import { makeTempDir } from "./git-fixture.js";

const execFileAsync = promisify(execFile);
const probe = probeBwrap();
const sandboxed: SandboxOptions = { allowUnsandboxed: false };
const unsandboxed: SandboxOptions = { allowUnsandboxed: true, bwrapPath: "/nonexistent/bwrap" };
/** The detection result of a host where no cgroup works (injected: the rest of this host's probe stays). */
const noLimits: LimitProbe = { ...probeLimits(), cgroup: { kind: "none", reason: "no cgroup here" } };
const limitsWork = probeLimits().cgroup.kind !== "none";
/** What a non-root app in a Docker container finds: no cgroup of its own, no workspace layer, no uid per run. */
const asInDocker: LimitProbe = {
  ...probeLimits(),
  cgroup: { kind: "none", reason: "cgroupfs is read-only" },
  workspace: { ok: false, reason: "the app does not run as root" },
  uids: { ok: false, reason: "the app does not run as root", pool: probeLimits().uids.pool },
};

let temp: ReturnType<typeof makeTempDir>;
let tree: string;

beforeEach(() => {
  temp = makeTempDir("aura-sbx-");
  tree = path.join(temp.dir, "tree");
  mkdirSync(tree);
  writeFileSync(path.join(tree, "package.json"), "{}\n");
  writeFileSync(path.join(tree, ".git"), "gitdir: /somewhere/cache.git/worktrees/tree\n");
});

afterEach(() => {
  temp.cleanup();
});

/** Processes on the host whose command line contains `needle`. */
function hostProcessesWith(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
      if (cmdline.includes(needle)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

const connectScript = (port: number) =>
  `node -e "require('net').connect(${port}, '127.0.0.1').on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log('error', e.code); process.exit(3) })"`;

describe.skipIf(!probe.ok)(`bubblewrap sandbox${probe.ok ? "" : ` (skipped: ${probe.ok ? "" : probe.error})`}`, () => {
  let server: net.Server;
  let port: number;

  beforeAll(async () => {
    server = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("reports bwrap as the sandbox mode when limits work", () => {
    expect(sandboxMode(sandboxed)).toBe(sandboxStatus(sandboxed).missing === "" ? "bwrap" : "unavailable");
  });

  it("cannot write outside the work tree or into its .git, but can write inside", async () => {
    const outside = path.join(temp.dir, "outside.txt");
    const command = [
      `touch /usr/aura-probe || echo usr-refused`,
      `echo x > ${outside} || echo outside-refused`,
      `echo x > /workspace/.git || echo git-refused`,
      `echo x > /aura-probe || echo root-refused`,
      `echo inside > /workspace/inside.txt`,
    ].join("; ");

    const result = await runInSandbox(sandboxed, { command, cwd: tree, phase: "test" });

    expect(result.sandbox).toBe("bwrap");
    expect(result.log).toMatch(/usr-refused[\s\S]*outside-refused[\s\S]*git-refused[\s\S]*root-refused/);
    expect(existsSync(outside)).toBe(false);
    expect(existsSync("/usr/aura-probe")).toBe(false);
    expect(readFileSync(path.join(tree, ".git"), "utf8")).toBe("gitdir: /somewhere/cache.git/worktrees/tree\n");
    expect(readFileSync(path.join(tree, "inside.txt"), "utf8")).toBe("inside\n");
  });

  it("keeps a .git directory unwritable", async () => {
    const gitDir = path.join(temp.dir, "tree2", ".git");
    mkdirSync(path.join(gitDir, "hooks"), { recursive: true });

    const result = await runInSandbox(sandboxed, {
      command: "mkdir -p .git/hooks && echo 'touch /tmp/pwned' > .git/hooks/pre-commit || echo refused",
      cwd: path.dirname(gitDir),
      phase: "test",
    });

    expect(result.log).toContain("refused");
    expect(readdirSync(path.join(gitDir, "hooks"))).toEqual([]);
  });

  it("cannot remount file systems", async () => {
    const result = await runInSandbox(sandboxed, {
      command: "mount -o remount,rw /usr && echo remounted; mount -t tmpfs none /workspace && echo mounted; exit 0",
      cwd: tree,
      phase: "test",
    });

    expect(result.log).not.toMatch(/remounted|mounted\n/);
    expect(result.log).not.toMatch(/not found/);
  });

  it("cannot read the app's private key file", async () => {
    const keyDir = path.join(temp.dir, "secrets");
    mkdirSync(keyDir);
    const keyPath = path.join(keyDir, "app.private-key.pem");
    writeFileSync(keyPath, "-----BEGIN RSA PRIVATE KEY-----\nSUPERSECRETKEYMATERIAL\n", { mode: 0o600 });

    const result = await runInSandbox(sandboxed, { command: `cat ${keyPath}`, cwd: tree, phase: "test" });

    expect(readFileSync(keyPath, "utf8")).toContain("SUPERSECRETKEYMATERIAL");
    expect(result.exitCode).not.toBe(0);
    expect(result.log).not.toContain("SUPERSECRETKEYMATERIAL");
  });

  it("has no network in the test phase, even a loopback server on the host is unreachable", async () => {
    const onHost = await execFileAsync("/bin/sh", ["-c", connectScript(port)]);

    const result = await runInSandbox({ ...sandboxed, allowSetupNetwork: true }, { command: connectScript(port), cwd: tree, phase: "test" });
    const setup = await runInSandbox(sandboxed, { command: connectScript(port), cwd: tree, phase: "setup" });

    expect(onHost.stdout).toContain("connected");
    expect(result).toMatchObject({ exitCode: 3, network: false });
    expect(result.log).toContain("error");
    expect(setup).toMatchObject({ exitCode: 3, network: false });
  });

  it("gives the setup phase no direct route even when setup network is allowed (only the registry proxy)", async () => {
    const result = await runInSandbox({ ...sandboxed, allowSetupNetwork: true }, { command: connectScript(port), cwd: tree, phase: "setup" });

    expect(result.exitCode).toBe(3);
    expect(result.egress.kind).toBe("registry-proxy");
  });

  it("refuses to run when no limit mechanism works, and says so in the mode", async () => {
    const marker = path.join(tree, "ran.txt");

    const attempt = runInSandbox({ ...sandboxed, limits: noLimits }, { command: `touch /workspace/ran.txt`, cwd: tree, phase: "test" });

    await expect(attempt).rejects.toBeInstanceOf(SandboxLimitsUnavailableError);
    await expect(attempt).rejects.toBeInstanceOf(SandboxUnavailableError);
    await expect(attempt).rejects.toThrow(/Missing: memory and process limits per run \(no cgroup here\)/);
    expect(existsSync(marker)).toBe(false);
    expect(sandboxMode({ ...sandboxed, limits: noLimits })).toBe("unavailable");
    expect(sandboxStatus({ ...sandboxed, limits: noLimits })).toMatchObject({ mode: "unavailable", bwrap: "ok", limits: "none: no cgroup here" });
  });

  it("runs without limits under bwrap only when unsandboxed runs are allowed, and the result says so", async () => {
    const allowed: SandboxOptions = { ...sandboxed, allowUnsandboxed: true, limits: noLimits };

    const result = await runInSandbox(allowed, { command: "echo ran", cwd: tree, phase: "test" });

    expect(result).toMatchObject({ exitCode: 0, sandbox: "bwrap", mode: "bwrap (limits incomplete)", limits: { memoryMb: null, maxProcesses: null } });
    expect(result.limits.missing).toContain("memory and process limits per run (no cgroup here)");
    expect(sandboxMode(allowed)).toBe("bwrap (limits incomplete)");
  });

  it("refuses a run with limits missing that AURA_SANDBOX_ACCEPT_MISSING does not name, and says what to add", async () => {
    const attempt = runInSandbox({ ...sandboxed, limits: asInDocker }, { command: "touch /workspace/ran.txt", cwd: tree, phase: "test" });

    await expect(attempt).rejects.toBeInstanceOf(SandboxLimitsUnavailableError);
    await expect(attempt).rejects.toThrow(/add cgroup,workspace,uid to AURA_SANDBOX_ACCEPT_MISSING to run in bubblewrap without exactly these limits/);
    expect(existsSync(path.join(tree, "ran.txt"))).toBe(false);
    expect(sandboxMode({ ...sandboxed, limits: asInDocker })).toBe("unavailable");
    expect(sandboxStatus({ ...sandboxed, limits: asInDocker }).fix).toMatch(
      /or set AURA_SANDBOX_ACCEPT_MISSING=cgroup,workspace,uid to run in bubblewrap without exactly these limits$/,
    );
  });

  it("runs in bubblewrap without exactly the limits AURA_SANDBOX_ACCEPT_MISSING names, and the result says which held and which were accepted", async () => {
    const accepting: SandboxOptions = { ...sandboxed, limits: asInDocker, acceptMissing: ["cgroup", "workspace", "uid"] };

    const result = await runInSandbox(accepting, { command: "touch /workspace/ran.txt; id -u; echo ran > /tmp/x && cat /tmp/x", cwd: tree, phase: "test" });

    expect(result).toMatchObject({
      exitCode: 0,
      sandbox: "bwrap",
      mode: "bwrap (limits incomplete)",
      network: false,
      limits: { memoryMb: null, maxProcesses: null, uid: null },
    });
    expect(result.log).toMatch(/ran\n$/);
    expect(existsSync(path.join(tree, "ran.txt"))).toBe(true);
    const expected = [
      "memory and process limits per run (cgroupfs is read-only)",
      "workspace disk limit (the app does not run as root)",
      "a uid per run (the app does not run as root)",
    ];
    expect(result.limits.missing).toEqual(expected);
    expect(result.limits.accepted).toEqual(expected);
    if (probe.ok && probe.features.size && probe.features.seccomp && probe.features.disableUserns) {
      expect(result.limits.held).toEqual(["tmpfs 512 MiB", "seccomp", "no nested user namespaces"]);
    }
    expect(sandboxMode(accepting)).toBe("bwrap (limits incomplete)");
    expect(sandboxStatus(accepting)).toMatchObject({ mode: "bwrap (limits incomplete)", bwrap: "ok", missing: "", accepted: expected.join("; "), fix: "" });
  });

  it("still refuses when a missing limit is not named, naming only that one, though others are accepted", async () => {
    const partly: SandboxOptions = { ...sandboxed, limits: asInDocker, acceptMissing: ["cgroup", "workspace"] };

    const attempt = runInSandbox(partly, { command: "touch /workspace/ran.txt", cwd: tree, phase: "test" });

    await expect(attempt).rejects.toBeInstanceOf(SandboxLimitsUnavailableError);
    await expect(attempt).rejects.toThrow("Missing: a uid per run (the app does not run as root). ");
    await expect(attempt).rejects.toThrow(/add uid to AURA_SANDBOX_ACCEPT_MISSING to run in bubblewrap without exactly this limit/);
    await expect(attempt).rejects.not.toThrow(/cgroupfs is read-only/);
    expect(existsSync(path.join(tree, "ran.txt"))).toBe(false);
    expect(sandboxMode(partly)).toBe("unavailable");
    expect(sandboxStatus(partly)).toMatchObject({
      mode: "unavailable",
      missing: "a uid per run (the app does not run as root)",
      accepted: "memory and process limits per run (cgroupfs is read-only); workspace disk limit (the app does not run as root)",
      fix: expect.stringMatching(/AURA_SANDBOX_ACCEPT_MISSING=uid to run/),
    });
  });

  it("never accepts a bubblewrap that fails with its own limits (--size, --disable-userns, --seccomp), whatever is named", async () => {
    chmodSync(temp.dir, 0o755);
    const wrapper = path.join(temp.dir, "bwrap-no-seccomp");
    writeFileSync(wrapper, `#!/bin/sh\ncase "$*" in *--seccomp*) echo "bwrap: seccomp refused here" >&2; exit 1;; esac\nexec /usr/bin/bwrap "$@"\n`, {
      mode: 0o755,
    });
    const everything: SandboxOptions = {
      ...sandboxed,
      bwrapPath: wrapper,
      limits: asInDocker,
      acceptMissing: ["cgroup", "tmpfs", "workspace", "uid", "seccomp", "userns"],
    };

    const attempt = runInSandbox(everything, { command: "touch /workspace/ran.txt", cwd: tree, phase: "test" });

    await expect(attempt).rejects.toBeInstanceOf(SandboxLimitsUnavailableError);
    await expect(attempt).rejects.toThrow(/with --size, --disable-userns and --seccomp failed: bwrap: seccomp refused here/);
    expect(existsSync(path.join(tree, "ran.txt"))).toBe(false);
    expect(sandboxMode(everything)).toBe("unavailable");
  });

  it("passes no token or key in the environment", async () => {
    const secrets = {
      GITHUB_TOKEN: "ghs_envtoken000000000000000000000000",
      OPENAI_API_KEY: "sk-envkey",
      PRIVATE_KEY: "PEMPEM",
      DATABASE_URL: "postgres://u:p@h/d",
    };
    Object.assign(process.env, secrets);

    const result = await runInSandbox(sandboxed, { command: "env", cwd: tree, phase: "test" }).finally(() => {
      for (const key of Object.keys(secrets)) delete process.env[key];
    });

    const names = result.log
      .trim()
      .split("\n")
      .map((line) => line.split("=")[0]);
    expect(names.filter((name) => !["PWD", "SHLVL", "_"].includes(name ?? "")).sort()).toEqual(["CI", "HOME", "LANG", "PATH"]);
    for (const value of Object.values(secrets)) expect(result.log).not.toContain(value);
  });

  it("kills the whole process group on timeout", async () => {
    const result = await runInSandbox(sandboxed, {
      command: "(sleep 171.5 &) ; sleep 171.6 & echo started; wait",
      cwd: tree,
      phase: "test",
      timeoutMs: 1_000,
    });

    expect(result).toMatchObject({ timedOut: true, exitCode: null, signal: "SIGKILL" });
    expect(result.log).toContain("started");
    expect(hostProcessesWith("171.5")).toEqual([]);
    expect(hostProcessesWith("171.6")).toEqual([]);
  });

  it.skipIf(!limitsWork)("enforces the memory and process limits", async () => {
    const grow = "x=$(head -c 80000000 /dev/zero | tr '\\0' a); echo grew ${#x}";
    const fork = "i=0; while [ $i -lt 30 ]; do sleep 1 & i=$((i+1)); done; wait; echo forked";

    const small = await runInSandbox(sandboxed, { command: grow, cwd: tree, phase: "test", memoryMb: 64 });
    const large = await runInSandbox(sandboxed, { command: grow, cwd: tree, phase: "test", memoryMb: 1024 });
    const forks = await runInSandbox(sandboxed, { command: fork, cwd: tree, phase: "test", maxProcesses: 10 });

    expect(large).toMatchObject({ mode: "bwrap", limits: { memoryMb: 1024 } });
    expect(large.log).toContain("grew 80000000");
    expect(small.log).not.toContain("grew 80000000");
    expect(forks.log).toMatch(/fork|resource temporarily unavailable/i);
  });

  it("caps the output, keeping head and tail, and digests the full log", async () => {
    const command = "echo START; i=0; while [ $i -lt 20000 ]; do echo line-$i; i=$((i+1)); done; echo END";
    const full = ["START", ...Array.from({ length: 20000 }, (_, i) => `line-${i}`), "END"].join("\n") + "\n";

    const result = await runInSandbox(sandboxed, { command, cwd: tree, phase: "test", maxOutputBytes: 2_000 });

    expect(result.logTruncated).toBe(true);
    expect(result.logBytes).toBe(Buffer.byteLength(full));
    expect(result.logSha256).toBe(createHash("sha256").update(full).digest("hex"));
    expect(result.log.startsWith("START\nline-0\n")).toBe(true);
    expect(result.log.endsWith("line-19999\nEND\n")).toBe(true);
    expect(result.log).toMatch(/bytes omitted/);
    expect(result.log.length).toBeLessThan(2_100);
  });

  it("parses test counts from the run's output", async () => {
    const result = await runInSandbox(sandboxed, {
      command: "printf '# tests 4\\n# pass 3\\n# fail 1\\n'; exit 1",
      cwd: tree,
      phase: "test",
    });

    expect(result.exitCode).toBe(1);
    expect(result.testCounts).toMatchObject({ passed: 3, failed: 1, total: 4 });
  });
});

describe("without a working bubblewrap", () => {
  it("refuses to run unless unsandboxed runs are allowed", async () => {
    const marker = path.join(tree, "ran.txt");

    const attempt = runInSandbox({ allowUnsandboxed: false, bwrapPath: "/nonexistent/bwrap" }, { command: `touch ${marker}`, cwd: tree, phase: "test" });

    await expect(attempt).rejects.toBeInstanceOf(SandboxUnavailableError);
    expect(existsSync(marker)).toBe(false);
    expect(sandboxMode({ allowUnsandboxed: false, bwrapPath: "/nonexistent/bwrap" })).toBe("unavailable");
  });

  it("runs a plain process marked sandbox none, with the scrubbed environment", async () => {
    process.env.GITHUB_TOKEN = "ghs_plainenvtoken0000000000000000000";

    const result = await runInSandbox(unsandboxed, { command: "env; pwd", cwd: tree, phase: "test" }).finally(() => {
      delete process.env.GITHUB_TOKEN;
    });

    expect(result).toMatchObject({ sandbox: "none", exitCode: 0, network: true, egress: { kind: "host" } });
    expect(result.log).not.toContain("ghs_plainenvtoken");
    expect(result.log).toContain("CI=true");
    // Without bubblewrap the command runs in the real tree: no layer for root to copy back.
    expect(result.log).toMatch(new RegExp(`^${tree}$`, "m"));
    expect(sandboxMode(unsandboxed)).toBe("none (limits incomplete)");
  });

  it("never runs without bubblewrap because of AURA_SANDBOX_ACCEPT_MISSING, even naming every limit", async () => {
    const everything: SandboxOptions = { ...unsandboxed, allowUnsandboxed: false, acceptMissing: ["cgroup", "tmpfs", "workspace", "uid", "seccomp", "userns"] };

    const attempt = runInSandbox(everything, { command: "touch ran.txt", cwd: tree, phase: "test" });

    await expect(attempt).rejects.toBeInstanceOf(SandboxUnavailableError);
    await expect(attempt).rejects.toThrow(/\/nonexistent\/bwrap is not installed/);
    expect(existsSync(path.join(tree, "ran.txt"))).toBe(false);
    expect(sandboxMode(everything)).toBe("unavailable");
    expect(sandboxStatus(everything).accepted).toBe("");
  });

  it("says when neither bubblewrap nor limits work", () => {
    expect(sandboxMode({ ...unsandboxed, limits: noLimits })).toBe("none (limits incomplete)");
    expect(sandboxMode({ ...unsandboxed, allowUnsandboxed: false, limits: noLimits })).toBe("unavailable");
  });

  it("kills the whole process group on timeout", async () => {
    const result = await runInSandbox(unsandboxed, {
      command: "sleep 172.5 & sleep 172.6 & echo started; wait",
      cwd: tree,
      phase: "test",
      timeoutMs: 1_000,
    });

    expect(result).toMatchObject({ sandbox: "none", timedOut: true });
    expect(hostProcessesWith("172.5")).toEqual([]);
    expect(hostProcessesWith("172.6")).toEqual([]);
  });
});

describe.skipIf(process.getuid?.() !== 0)("sandbox user reachability (runs as root only)", () => {
  it("refuses with a clear error when the sandbox user cannot reach the work tree", async () => {
    const hidden = path.join(temp.dir, "private");
    mkdirSync(path.join(hidden, "tree"), { recursive: true, mode: 0o700 });

    const attempt = runInSandbox(unsandboxed, { command: "true", cwd: path.join(hidden, "tree"), phase: "test" });

    await expect(attempt).rejects.toThrow(/cannot traverse .*private/);
  });
});
