// The Auditor's review body says how its own sandbox run ran: the real mode in the table, and a warning when
// the tests ran without resource limits.
import { describe, expect, it } from "vitest";
import type { AuditReport, RunSummary } from "../../src/auditor/evidence-store.js";
import { renderReview } from "../../src/auditor/review.js";
import type { Evaluation } from "../../src/governor/gate.js";
import { GitHubPull } from "../../src/github/pull.js";
import { pullObject } from "./gate-fixture.js";

const HEAD = "a".repeat(40);
const BASE = "b".repeat(40);

function summary(overrides: Partial<RunSummary>): RunSummary {
  return {
    command: "npm test",
    exitCode: 0,
    timedOut: false,
    sandbox: "bwrap",
    mode: "bwrap",
    counts: { passed: 3, failed: 0, skipped: 0, total: 3, runner: "node" },
    logSha256: "cd".repeat(32),
    durationMs: 900,
    problem: undefined,
    logTail: "",
    ...overrides,
  };
}

function review(head: RunSummary, base: RunSummary): string {
  const report: AuditReport = { headSha: HEAD, baseSha: BASE, head, base, claim: { kind: "none" }, flags: [], diff: { files: 1, additions: 3, deletions: 1 } };
  const pull = GitHubPull.parse(
    pullObject({ number: 12, headSha: HEAD, headRef: "aura/12-fix", baseSha: BASE, cloneUrl: "file:///remote.git", changedFiles: 1 }),
  );
  const evaluation: Evaluation = {
    ref: { installationId: 1, repo: "octo-org/widgets", pullNumber: 12 },
    pull,
    agent: true,
    governed: true,
    conclusion: "success",
    description: "HNSC passed",
    verdict: undefined,
    described: undefined,
    ctx: undefined,
    task: undefined,
    targetUrl: "",
  };
  return renderReview(report, evaluation, true);
}

describe("the sandbox in the Auditor's review", () => {
  it("shows the mode of each run, the limits that held, and warns naming the limits the head's tests ran without", () => {
    const incomplete = {
      mode: "bwrap (limits incomplete)" as const,
      limitsHeld: "uid 200003, seccomp",
      limitsMissing: "memory and process limits per run (no cgroup)",
    };
    const text = review(summary(incomplete), summary(incomplete));

    expect(text).toContain("| Sandbox | bwrap (limits incomplete) | bwrap (limits incomplete) | |");
    expect(text).toContain("Sandbox limits that held: uid 200003, seccomp.");
    expect(text).toContain(
      "⚠️ **Limits incomplete:** AURA_ALLOW_UNSANDBOXED=true and not every sandbox limit works here; the tests ran without: memory and process limits per run (no cgroup).",
    );
  });

  it("says the limits the head's tests ran without were accepted in AURA_SANDBOX_ACCEPT_MISSING, not AURA_ALLOW_UNSANDBOXED", () => {
    const missing = "memory and process limits per run (cgroupfs is read-only); a uid per run (the app does not run as root)";
    const accepted = { mode: "bwrap (limits incomplete)" as const, limitsHeld: "tmpfs 512 MiB, seccomp", limitsMissing: missing, limitsAccepted: missing };

    const text = review(summary(accepted), summary(accepted));

    expect(text).toContain(
      "⚠️ **Limits incomplete:** the operator accepted running without these in AURA_SANDBOX_ACCEPT_MISSING; the tests ran in bubblewrap without: memory and process limits per run (cgroupfs is read-only); a uid per run (the app does not run as root).",
    );
    expect(text).toContain("Sandbox limits that held: tmpfs 512 MiB, seccomp.");
    expect(text).not.toContain("AURA_ALLOW_UNSANDBOXED");
  });

  it("names apart a missing limit that was not accepted, which only AURA_ALLOW_UNSANDBOXED allows", () => {
    const mixed = {
      mode: "bwrap (limits incomplete)" as const,
      limitsMissing: "memory and process limits per run (no cgroup); seccomp filter (no syscall table for riscv64)",
      limitsAccepted: "memory and process limits per run (no cgroup)",
    };

    const text = review(summary(mixed), summary({}));

    expect(text).toContain("in AURA_SANDBOX_ACCEPT_MISSING; the tests ran in bubblewrap without: memory and process limits per run (no cgroup).");
    expect(text).toContain(
      "⚠️ **Limits incomplete:** AURA_ALLOW_UNSANDBOXED=true and not every sandbox limit works here; the tests ran without: seccomp filter (no syscall table for riscv64).",
    );
  });

  it("has no limits warning when limits applied, and reads reports stored before the mode was recorded", () => {
    const stored = summary({});
    delete stored.mode;
    const text = review(summary({}), stored);

    expect(text).toContain("| Sandbox | bwrap | bwrap | |");
    expect(text).not.toContain("No resource limits");
  });
});
