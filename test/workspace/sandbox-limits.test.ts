// Hostile scripts through the app's own sandbox API (issue 12, point 3): sized tmpfs, the work tree's disk
// limit, a uid per run so one fork bomb cannot stop another run, a memory limit that counts tmpfs, Node's fetch
// and WebAssembly working, the seccomp filter and no nested user namespaces, and a sandbox that fails to start
// reported as an infrastructure error rather than a test result. Runs where bubblewrap and every limit work.
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { SandboxStartError } from "../../src/workspace/errors.js";
import { encode, sandboxFilter } from "../../src/workspace/seccomp.js";
import { explainBwrapFailure, probeBwrap, runInSandbox, sandboxStatus, type SandboxOptions } from "../../src/workspace/sandbox.js";
import { leaseUid } from "../../src/workspace/uid-pool.js";
import { until } from "../helpers/wait.js";
import { useScratchTree } from "./git-fixture.js";

const sandboxed: SandboxOptions = { allowUnsandboxed: false };
const status = sandboxStatus(sandboxed);
const complete = status.mode === "bwrap";
const MiB = 1024 * 1024;

const scratch = useScratchTree("aura-sbxlim-");

describe.skipIf(!complete)(`sandbox limits${complete ? "" : ` (skipped: ${status.missing || status.bwrap})`}`, () => {
  it("says in its status which limits hold", () => {
    expect(status.held).toMatch(
      /^cgroup v[12] memory 4 GiB \+ pids 1024, tmpfs 512 MiB, workspace 2 GiB, uid per run \(64 from 200000\), seccomp, no nested user namespaces$/,
    );
  });

  it("refuses writes to /tmp past the tmpfs size", async () => {
    const result = await runInSandbox(sandboxed, {
      command: "head -c 20000000 /dev/zero > /tmp/big; echo rc=$?; wc -c < /tmp/big",
      cwd: scratch.tree,
      phase: "test",
      tmpfsMb: 8,
    });

    expect(result.log).toMatch(/No space left on device/);
    expect(result.log).not.toContain("rc=0");
    const written = Number(result.log.trim().split("\n").pop());
    expect(written).toBeLessThanOrEqual(8 * MiB);
    expect(result.limits.held).toContain("tmpfs 8 MiB");
  });

  it("refuses writes to the work tree past the workspace limit, and keeps what fits (deletions included) in the tree", async () => {
    writeFileSync(path.join(scratch.tree, "old.txt"), "old\n");
    mkdirSync(path.join(scratch.tree, "node_modules", "stale"), { recursive: true });
    writeFileSync(path.join(scratch.tree, "node_modules", "stale", "index.js"), "stale\n");
    const command = [
      "head -c 20000000 /dev/zero > /workspace/big; echo rc=$?",
      "rm /workspace/big",
      "echo kept > /workspace/kept.txt",
      "rm /workspace/old.txt",
      "rm -rf /workspace/node_modules && mkdir -p /workspace/node_modules/fresh && echo fresh > /workspace/node_modules/fresh/index.js",
    ].join("; ");

    const result = await runInSandbox(sandboxed, { command, cwd: scratch.tree, phase: "setup", workspaceMb: 8 });

    expect(result.log).toMatch(/No space left on device/);
    expect(result.log).not.toContain("rc=0");
    expect(result.limits.held).toContain("workspace 8 MiB");
    expect(existsSync(path.join(scratch.tree, "big"))).toBe(false);
    expect(readFileSync(path.join(scratch.tree, "kept.txt"), "utf8")).toBe("kept\n");
    expect(existsSync(path.join(scratch.tree, "old.txt"))).toBe(false);
    expect(existsSync(path.join(scratch.tree, "node_modules", "stale"))).toBe(false);
    expect(readFileSync(path.join(scratch.tree, "node_modules", "fresh", "index.js"), "utf8")).toBe("fresh\n");
    // Copied back, then the whole tree is handed back to the app (files the run made included).
    expect(statSync(path.join(scratch.tree, "kept.txt")).uid).toBe(process.getuid?.());
    expect(statSync(path.join(scratch.tree, "node_modules", "fresh", "index.js")).uid).toBe(process.getuid?.());
    expect(result.limits.uid).not.toBe(process.getuid?.());
  });

  it("kills a run whose tmpfs and processes exceed its memory limit", async () => {
    const result = await runInSandbox(sandboxed, {
      command: "head -c 200000000 /dev/zero > /tmp/fill; echo rc=$?",
      cwd: scratch.tree,
      phase: "test",
      memoryMb: 64,
      tmpfsMb: 512,
    });

    expect(result.memoryExceeded).toBe(true);
    expect(result.log).not.toContain("rc=0");
  });

  it("lets another run start while a fork bomb fills its own process limit", async () => {
    // Forks until the kernel refuses, keeps the children for a few seconds, then reaps them. The children live
    // long enough for one look at /proc to see them even on a loaded machine.
    const bomb = `perl -e 'my $n = 0; while ($n < 500) { my $pid = fork(); last unless defined $pid; if ($pid == 0) { sleep 8; exit 0 } $n++ } print "saturated\\n"; 1 while wait() != -1'`;
    // A uid range of its own, so the sandbox runs of test files running beside this one are not counted.
    const pool = { base: 240_000, count: 4, lockDir: path.join(scratch.dir, "uids") };
    const own: SandboxOptions = { ...sandboxed, uidPool: pool };
    // One pass over /proc for the whole pool (a pass per uid took seconds under load and missed the bomb).
    const inPool = () => {
      let count = 0;
      for (const entry of readdirSync("/proc")) {
        if (!/^\d+$/.test(entry)) continue;
        const status = (() => {
          try {
            return readFileSync(`/proc/${entry}/status`, "utf8");
          } catch {
            return "";
          }
        })();
        const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1] ?? -1);
        if (uid >= pool.base && uid < pool.base + pool.count && !/^State:\s+Z/m.test(status)) count++;
      }
      return count;
    };

    const first = runInSandbox(own, { command: bomb, cwd: scratch.tree, phase: "test", maxProcesses: 40 });
    // Saturated: many processes, and no more appear (the limit counts the run's helpers too, so the plateau sits
    // a few below 40 and moves with what else the machine runs).
    const seen: number[] = [];
    await until(() => {
      seen.push(inPool());
      const last = seen.slice(-20);
      return last.length === 20 && last[0]! >= 25 && last.every((count) => count === last[0]);
    }, 20_000);
    const other = path.join(scratch.dir, "other");
    mkdirSync(other);
    const second = await runInSandbox(own, { command: "sh -c 'echo child'; echo started", cwd: other, phase: "test", maxProcesses: 40 });
    const bombed = await first;

    expect(bombed.log).toContain("saturated");
    expect(second).toMatchObject({ exitCode: 0 });
    expect(second.log).toBe("child\nstarted\n");
    expect(second.limits.uid).not.toBe(bombed.limits.uid);
  });

  it("runs Node's fetch and WebAssembly (no address-space limit)", async () => {
    const script = [
      "const wasm = new Uint8Array([0,97,115,109,1,0,0,0,1,7,1,96,2,127,127,1,127,3,2,1,0,7,7,1,3,97,100,100,0,0,10,9,1,7,0,32,0,32,1,106,11]);",
      "WebAssembly.instantiate(wasm).then(async ({ instance }) => {",
      "  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536 });",
      "  const text = await new Response('ok').text();",
      "  const failed = await fetch('http://127.0.0.1:9/').then(() => 'reached', () => 'refused');",
      "  console.log('add', instance.exports.add(2, 3), memory.buffer.byteLength, text, failed);",
      "});",
    ].join("\n");
    writeFileSync(path.join(scratch.tree, "probe.cjs"), script);

    const result = await runInSandbox(sandboxed, { command: "node probe.cjs", cwd: scratch.tree, phase: "test" });

    expect(result.log).toBe("add 5 65536 ok refused\n");
  });

  it("denies ptrace, mount, unshare and keyctl with EPERM while sh, node and git work", async () => {
    const perl = (name: string, call: string) => `perl -e '$r = ${call}; print "${name}=", ($r == -1 ? ($!+0) : "allowed"), "\\n"'`;
    const command = [
      perl("ptrace", "syscall(101, 0, 0, 0, 0)"),
      perl("mount", `syscall(165, my $s = "none", my $t = "/tmp", my $f = "tmpfs", 0, 0)`),
      perl("unshare", "syscall(272, 0x10000000)"),
      perl("keyctl", "syscall(250, 0, -3, 0)"),
      "unshare -U true 2>&1 | sed 's/^/userns: /'",
      "node -e 'console.log(\"node\", 1 + 1)'",
      "git --version | cut -c1-11",
    ].join("; ");

    const result = await runInSandbox(sandboxed, { command, cwd: scratch.tree, phase: "test" });

    expect(result.log).toBe(
      ["ptrace=1", "mount=1", "unshare=1", "keyctl=1", "userns: unshare: unshare failed: Operation not permitted", "node 2", "git version", ""].join("\n"),
    );
  });

  it("reports a sandbox that cannot start as an infrastructure error, and a failing command as a result", async () => {
    const wrapper = path.join(scratch.dir, "bwrap-broken");
    writeFileSync(
      wrapper,
      `#!/bin/sh\ncase "$*" in *--chdir*) echo "bwrap: Can't mount tmpfs on /newroot/tmp: No space left on device" >&2; exit 1;; esac\nexec /usr/bin/bwrap "$@"\n`,
      { mode: 0o755 },
    );

    const broken: unknown = await runInSandbox({ ...sandboxed, bwrapPath: wrapper }, { command: "exit 0", cwd: scratch.tree, phase: "test" }).catch(
      (error: unknown) => error,
    );
    const failing = await runInSandbox(sandboxed, { command: "echo 'bwrap: not really'; exit 1", cwd: scratch.tree, phase: "test" });

    expect(broken).toBeInstanceOf(SandboxStartError);
    expect((broken as Error).message).toMatch(/bubblewrap exited before the command started: bwrap: Can't mount tmpfs/);
    expect(failing).toMatchObject({ exitCode: 1, sandbox: "bwrap" });
  });

  it("reports every uid in use as an infrastructure error, not a test result", async () => {
    const uidPool = { base: 210_000, count: 1, lockDir: path.join(scratch.dir, "uids") };
    const held = await leaseUid(uidPool);

    const attempt = runInSandbox({ ...sandboxed, uidPool }, { command: "echo ran", cwd: scratch.tree, phase: "test" }).finally(() => held.release());

    await expect(attempt).rejects.toMatchObject({ name: "SandboxStartError", failure: "uid-pool" });
    await expect(attempt).rejects.toThrow(/all 1 sandbox uids from 210000 are in use/);
  });
});

describe.skipIf(!probeBwrap().ok || process.getuid?.() !== 0)("when user namespaces are refused (as under Docker's default seccomp profile)", () => {
  it("says so plainly on /ready's sandbox status, and what to do", () => {
    const filter = path.join(scratch.dir, "deny-userns.bpf");
    writeFileSync(filter, encode(sandboxFilter(process.arch === "arm64" ? "arm64" : "x64")));
    chmodSync(scratch.dir, 0o755);
    chmodSync(filter, 0o644);
    const wrapper = path.join(scratch.dir, "bwrap-in-container");
    writeFileSync(wrapper, `#!/bin/sh\nexec /usr/bin/bwrap --dev-bind / / --seccomp 9 /usr/bin/bwrap "$@" 9<${filter}\n`, { mode: 0o755 });

    const refused = sandboxStatus({ allowUnsandboxed: false, bwrapPath: wrapper });

    expect(refused.mode).toBe("unavailable");
    expect(refused.bwrap).toMatch(/cannot create user namespaces here \(bwrap: No permissions to create new namespace/);
    expect(refused.bwrap).toMatch(/docker\/seccomp-aura\.json/);
    expect(refused.fix).toMatch(/^make bubblewrap work on this host/);
  });

  it("names Docker's profile when the app runs in a container", () => {
    const text = explainBwrapFailure("/usr/bin/bwrap", "bwrap: Creating new namespace failed: Operation not permitted");

    expect(text).toContain("cannot create user namespaces here");
    expect(text).toMatch(existsSync("/.dockerenv") ? /security_opt: seccomp=\.\/docker\/seccomp-aura\.json/ : /Allow unprivileged user namespaces/);
  });
});
