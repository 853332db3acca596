// The pure parts of the wiring: which jobs a delivery starts, the recorded evidence claim and its comparison
// with the Auditor's runs, and commit trailers.
import { describe, expect, it } from "vitest";
import { compareEvidence, parseEvidenceClaim, type ObservedRun } from "../../src/auditor/claims.js";
import { parseTrailers } from "../../src/github/pull.js";
import { dispatchGovernor } from "../../src/governor/role.js";
import type { DeliverySummary } from "../../src/queue/dispatch.js";
import { pullDelivery, pullObject, REPO } from "./gate-fixture.js";

const HEAD = "a".repeat(40);

function delivery(event: string, action: string | undefined, payload: Record<string, unknown>): DeliverySummary {
  return { deliveryId: "d1", event, action, installationId: 7, repository: REPO, payload };
}

function pull(headRef: string, forkOf?: string) {
  return pullObject({ number: 5, headSha: HEAD, headRef, baseSha: "b".repeat(40), cloneUrl: "x", changedFiles: 1, ...(forkOf ? { forkOf } : {}) });
}

describe("dispatchGovernor", () => {
  it("starts an evaluation and an audit for an agent PR, keyed per PR and per head SHA", () => {
    const jobs = dispatchGovernor(delivery("pull_request", "synchronize", pullDelivery("synchronize", pull("aura/5-fix"))));

    expect(jobs).toEqual([
      { task: "pull.evaluate", key: `pull:${REPO}#5`, payload: { installationId: 7, repo: REPO, pullNumber: 5 } },
      { task: "pull.audit", key: `audit:${REPO}#5@${HEAD}`, payload: { installationId: 7, repo: REPO, pullNumber: 5, headSha: HEAD } },
    ]);
  });

  it.each([
    ["a human branch", pull("feature/x")],
    ["an aura/ branch from a fork", pull("aura/5-fix", "mallory/widgets")],
  ])("starts only the evaluation for %s", (_name, pr) => {
    const jobs = dispatchGovernor(delivery("pull_request", "opened", pullDelivery("opened", pr)));

    expect(jobs.map((job) => job.task)).toEqual(["pull.evaluate"]);
  });

  it("re-evaluates an edit only when the base branch changed", () => {
    const titleEdit = { ...pullDelivery("edited", pull("feature/x")), changes: { title: { from: "a" } } };
    const baseEdit = { ...pullDelivery("edited", pull("feature/x")), changes: { base: { ref: { from: "dev" } } } };

    expect(dispatchGovernor(delivery("pull_request", "edited", titleEdit))).toEqual([]);
    expect(dispatchGovernor(delivery("pull_request", "edited", baseEdit)).map((job) => job.task)).toEqual(["pull.evaluate"]);
  });

  it("starts a forgery check only for aura/hnsc statuses", () => {
    expect(dispatchGovernor(delivery("status", undefined, { context: "aura/hnsc" }))).toEqual([
      { task: "pull.forgery", payload: { installationId: 7, repo: REPO } },
    ]);
    expect(dispatchGovernor(delivery("status", undefined, { context: "ci/tests" }))).toEqual([]);
  });
});

const ran = (exitCode: number | null, passed: number, failed: number, total = passed + failed): ObservedRun => ({
  exitCode,
  timedOut: false,
  counts: { passed, failed, skipped: 0, total },
});

describe("claims versus evidence", () => {
  it("reads the recorded claim", () => {
    const read = parseEvidenceClaim({ exitCode: 0, passed: 12, failed: 0 });

    expect(read).toEqual({ kind: "claim", claim: { exitCode: 0, passed: 12, failed: 0 } });
  });

  it("reports an unreadable record instead of ignoring it, and no record as none", () => {
    expect(parseEvidenceClaim({ passed: 1 }).kind).toBe("invalid");
    expect(parseEvidenceClaim({ exitCode: 0, headSha: "not-a-sha" }).kind).toBe("invalid");
    expect(parseEvidenceClaim(undefined)).toEqual({ kind: "none" });
  });

  it.each([
    ["agreeing claim", { exitCode: 0, passed: 3, failed: 0 }, ran(0, 3, 0), []],
    ["wrong exit status", { exitCode: 0 }, ran(1, 2, 1), ["Claimed exit status 0, but the Auditor's run exited with 1."]],
    ["inflated counts", { exitCode: 0, passed: 5 }, ran(0, 3, 0), ["Claimed 5 passed, but the Auditor counted 3."]],
  ])("%s", (_name, claim, head, flags) => {
    const result = compareEvidence({ claim: { kind: "claim", claim }, head, base: undefined, headSha: HEAD });

    expect(result).toEqual(flags);
  });

  it("flags a head that runs fewer tests than the base", () => {
    const result = compareEvidence({ claim: { kind: "claim", claim: { exitCode: 0 } }, head: ran(0, 8, 0), base: ran(0, 10, 0), headSha: HEAD });

    expect(result).toEqual([
      "The head runs 8 tests, 2 fewer than the base commit (10).",
      "8 tests pass on the head, fewer than the 10 that pass on the base commit.",
    ]);
  });

  it("flags a PR without a recorded claim", () => {
    expect(compareEvidence({ claim: { kind: "none" }, head: ran(0, 1, 0), base: undefined, headSha: HEAD })).toHaveLength(1);
  });
});

describe("parseTrailers", () => {
  it("reads the trailer block and nothing else", () => {
    expect(parseTrailers("Fix it\n\nBody: not a trailer line\nmore text\n\nAura-Task: 12\nAura-Snapshot: abc")).toEqual({
      "Aura-Task": "12",
      "Aura-Snapshot": "abc",
    });
    expect(parseTrailers("Subject only: no trailers")).toEqual({});
  });
});
