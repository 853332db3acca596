// Builds PullContexts for governor tests from the real git diffs in test/fixtures/diffs and the default pack.
import { readFileSync } from "node:fs";
import { loadProtectedPaths } from "../../src/config/policy-files.js";
import { changedFilesFromUnifiedDiff } from "../../src/github/local-diff.js";
import { loadPolicyPack, type PolicyPack } from "../../src/governor/policy-pack.js";
import type { ChangedFile, PullCommit, PullContext, TaskRecord } from "../../src/governor/pull-context.js";

export const HEAD_SHA = "c0ffee0000000000000000000000000000000001";
export const OLD_HEAD_SHA = "c0ffee0000000000000000000000000000000000";
export const BASE_SHA = "ba5e000000000000000000000000000000000000";
export const RECORDED_SHA = "a11ce00000000000000000000000000000000001";
export const DIRECTOR = "octo-director";

const root = new URL("../../", import.meta.url);

export function defaultPackText(): string {
  return readFileSync(new URL("policies/policy-pack.yml", root), "utf8");
}

/** The app's pack as the governor loads it: its protected-paths rule filled from policies/protected-paths.yml. */
export function defaultPack(): PolicyPack {
  return loadPolicyPack(defaultPackText(), "policies/policy-pack.yml", { protectedPaths: loadProtectedPaths() });
}

/** The changed files of one fixture, in the shape GitHub's REST API returns them. */
export function fixtureFiles(name: string): ChangedFile[] {
  return changedFilesFromUnifiedDiff(readFileSync(new URL(`test/fixtures/diffs/${name}.diff`, root), "utf8"));
}

export function commit(sha: string, authorLogin: string | undefined, extra: Partial<PullCommit> = {}): PullCommit {
  return {
    sha,
    authorLogin,
    authorEmail: authorLogin ? `${authorLogin}@users.noreply.github.com` : "someone@example.com",
    committerLogin: authorLogin,
    message: "change\n\nAura-Task: T-1",
    trailers: { "Aura-Task": "T-1" },
    ...extra,
  };
}

export function task(extra: Partial<TaskRecord> = {}): TaskRecord {
  return {
    taskId: "T-1",
    taskClass: "feature",
    scopeGlobs: ["src/**", "test/**", "tests/**", "go/**"],
    assignedEmployee: "gpt-4.1",
    branch: "aura/12-t1",
    recordedCommitShas: [RECORDED_SHA],
    ...extra,
  };
}

/** An agent PR whose task, commits and evidence are all in order; tests change one thing at a time. */
export function agentContext(files: readonly ChangedFile[], extra: Partial<PullContext> = {}): PullContext {
  return {
    pullNumber: 42,
    headSha: HEAD_SHA,
    baseSha: BASE_SHA,
    headRef: "aura/12-t1",
    author: "aura-orchestra[bot]",
    isAgentPr: true,
    labels: [],
    files,
    totalChangedFiles: files.length,
    diffSource: "api",
    commits: [commit(RECORDED_SHA, "aura-orchestra[bot]")],
    totalCommits: 1,
    task: task(),
    evidence: { headSha: HEAD_SHA, state: "passed", counts: { passed: 12, failed: 0, skipped: 0 } },
    directors: [DIRECTOR],
    overrides: [],
    ...extra,
  };
}
