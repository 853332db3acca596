// The evidence section of an agent PR's body says how the app's sandbox run actually ran: the real sandbox
// mode, a warning when it had no resource limits (or no sandbox), and where setup could reach.
import { describe, expect, it } from "vitest";
import { renderPullBody, type PullBodyInput } from "../../src/employees/pull-request.js";
import type { SandboxResult } from "../../src/workspace/index.js";

function run(overrides: Partial<SandboxResult>): SandboxResult {
  return {
    command: "npm test",
    phase: "test",
    exitCode: 0,
    signal: null,
    timedOut: false,
    memoryExceeded: false,
    durationMs: 1200,
    sandbox: "bwrap",
    mode: "bwrap",
    network: false,
    egress: { kind: "none" },
    logSha256: "ab".repeat(32),
    log: "",
    logBytes: 0,
    logTruncated: false,
    testCounts: undefined,
    limits: {
      timeoutMs: 600_000,
      memoryMb: 4096,
      maxProcesses: 256,
      maxOutputBytes: 1_048_576,
      uid: 200_003,
      held: ["bwrap", "cgroup v1 memory 4 GiB + pids 256", "seccomp"],
      missing: [],
      accepted: [],
    },
    ...overrides,
  };
}

function body(setup: SandboxResult | undefined, test: SandboxResult | undefined): string {
  const input: PullBodyInput = {
    taskId: 7,
    task: { key: "fix-add", title: "Fix add()", instructions: "Make add() add.", taskClass: "bugfix", scope: ["src/**"] },
    issueNumber: 42,
    onlyTask: true,
    employee: { id: "gpt-4.1-mini", provider: "openai", model: "gpt-4.1-mini" },
    summary: undefined,
    evidence: { setup, test, headSha: "c".repeat(40), passed: true, fixRounds: 0 },
    cost: { usd: 0.01, tokens: 1000 },
    snapshotId: "0123456789abcdef",
    outcome: { kind: "passed" },
    revisionRounds: 0,
  };
  return renderPullBody(input);
}

describe("the sandbox evidence in a PR body", () => {
  it("names the run's sandbox mode and warns about nothing when limits applied", () => {
    const text = body(run({ phase: "setup", command: "npm ci" }), run({}));

    expect(text).toContain("- Sandbox: `bwrap` (bubblewrap:");
    expect(text).not.toContain("[!WARNING]");
  });

  it("says which limits held, and warns visibly naming the ones that did not", () => {
    const limits = {
      timeoutMs: 600_000,
      memoryMb: null,
      maxProcesses: null,
      maxOutputBytes: 1_048_576,
      uid: 200_003,
      held: ["uid 200003", "seccomp"],
      missing: ["memory and process limits per run (no cgroup)"],
      accepted: [],
    };
    const text = body(undefined, run({ mode: "bwrap (limits incomplete)", limits }));

    expect(text).toContain("- Sandbox: `bwrap (limits incomplete)`");
    expect(text).toContain("- Limits that held: uid 200003, seccomp");
    expect(text).toContain(
      "> [!WARNING]\n> **LIMITS INCOMPLETE.** Not every sandbox limit works on the app's host and the operator set `AURA_ALLOW_UNSANDBOXED=true`: the commands below ran without memory and process limits per run (no cgroup).",
    );
    expect(text).not.toContain("UNSANDBOXED RUN");
  });

  it("says which missing limits the operator accepted in AURA_SANDBOX_ACCEPT_MISSING, not AURA_ALLOW_UNSANDBOXED", () => {
    const missing = ["memory and process limits per run (cgroupfs is read-only)", "a uid per run (the app does not run as root)"];
    const limits = {
      timeoutMs: 600_000,
      memoryMb: null,
      maxProcesses: null,
      maxOutputBytes: 1_048_576,
      uid: null,
      held: ["tmpfs 512 MiB", "seccomp"],
      missing,
      accepted: missing,
    };

    const text = body(undefined, run({ mode: "bwrap (limits incomplete)", limits }));

    expect(text).toContain(
      "> [!WARNING]\n> **LIMITS INCOMPLETE.** Not every sandbox limit works on the app's host and the operator accepted running without these in `AURA_SANDBOX_ACCEPT_MISSING`: the commands below ran in bubblewrap without memory and process limits per run (cgroupfs is read-only); a uid per run (the app does not run as root).",
    );
    expect(text).toContain("- Limits that held: tmpfs 512 MiB, seccomp");
    expect(text).not.toContain("AURA_ALLOW_UNSANDBOXED");
  });

  it("names separately a missing limit that only AURA_ALLOW_UNSANDBOXED let the run go without", () => {
    const limits = {
      timeoutMs: 600_000,
      memoryMb: null,
      maxProcesses: null,
      maxOutputBytes: 1_048_576,
      uid: null,
      held: ["tmpfs 512 MiB"],
      missing: ["memory and process limits per run (no cgroup)", "seccomp filter (no syscall table for riscv64)"],
      accepted: ["memory and process limits per run (no cgroup)"],
    };

    const text = body(undefined, run({ mode: "bwrap (limits incomplete)", limits }));

    expect(text).toContain("in `AURA_SANDBOX_ACCEPT_MISSING`: the commands below ran in bubblewrap without memory and process limits per run (no cgroup).");
    expect(text).toContain("the operator set `AURA_ALLOW_UNSANDBOXED=true`: the commands below ran without seccomp filter (no syscall table for riscv64).");
  });

  it("says which hosts setup could reach through the proxy and which it was refused", () => {
    const proxied = run({
      phase: "setup",
      command: "npm ci",
      network: true,
      egress: { kind: "registry-proxy", allowed: ["registry.npmjs.org:443"], refused: ["evil.example:443"] },
    });
    const clean = run({
      phase: "setup",
      command: "npm ci",
      network: true,
      egress: { kind: "registry-proxy", allowed: ["registry.npmjs.org:443"], refused: [] },
    });

    expect(body(proxied, run({}))).toContain("Setup could reach only: `registry.npmjs.org:443`; refused: `evil.example:443`.");
    expect(body(clean, run({}))).toContain("Setup could reach only: `registry.npmjs.org:443`; refused: none.");
  });

  it("explains AURA_SETUP_NETWORK when setup failed without network", () => {
    const failed = run({ phase: "setup", command: "npm ci", exitCode: 1 });

    expect(body(failed, undefined)).toContain(
      "`AURA_SETUP_NETWORK=true`, which lets setup reach the registry hosts in `AURA_SETUP_REGISTRY_HOSTS` through the allow-list proxy",
    );
  });
});
