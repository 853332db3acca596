// The Auditor's job run again after an attempt that failed part-way (the soak's stuck requirements, issue 17): the
// review was posted and the gate's `success` verdict stored, but GitHub answered 502 to a later write until the
// retries ran out (a SIGKILL there leaves the same records). The next attempt of the job must still publish the
// verdict: a success status on the head, the draft made ready, the verdict audited, and no second review.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { auditPull } from "../../src/auditor/audit-pull.js";
import { GITHUB_API, mockInstallationTokens, unthrottledGitHub } from "../helpers/harness.js";
import { testServices } from "../helpers/services.js";
import { INSTALLATION_ID, mockRepoConfig, mockWrites, OWNER, NAME, REPO, useGateHarness } from "./gate-fixture.js";

const CONFIG = "test: sh test.sh\n";
/** One try and the retry plugin's three retries. */
const TRIES = 4;

const gate = useGateHarness({ tempPrefix: "aura-audit-retry-", repoConfig: CONFIG });

function services() {
  return { ...testServices(gate.harness.db, { env: { AURA_DATA_DIR: gate.harness.dataDir } }), github: unthrottledGitHub() };
}

async function auditActions(sha: string): Promise<string[]> {
  const { rows } = await gate.harness.db.pool.query<{ action: string }>("SELECT action FROM audit.events WHERE payload->>'headSha' = $1 ORDER BY seq", [sha]);
  return rows.map((row) => row.action);
}

/** GitHub with every try of one write answered 502 (registered before the recording mocks, so it answers first). */
function refuseWrite(path: string | RegExp, matches: (body: Record<string, unknown>) => boolean): { refused: () => number } {
  nock.cleanAll();
  mockInstallationTokens();
  let refused = 0;
  nock(GITHUB_API)
    .persist()
    .post(path, (body: Record<string, unknown>) => matches(body) && refused < TRIES)
    .reply(502, () => {
      refused += 1;
      return { message: "Server Error" };
    });
  gate.github = mockWrites();
  mockRepoConfig(CONFIG);
  return { refused: () => refused };
}

async function draftAgentPull(number: number) {
  const { headSha, mockReads } = await gate.pushAgentPull({
    number,
    branch: `aura/${number}-retry`,
    files: { "src/app.js": `export const answer = ${number};\n` },
    claim: { exitCode: 0, passed: 3, failed: 0, total: 3 },
    draft: true,
  });
  mockReads();
  return { headSha, job: { installationId: INSTALLATION_ID, repo: REPO, pullNumber: number, headSha } };
}

describe("an audit job whose next attempt follows one that stopped after the review was posted", () => {
  it("publishes the verdict when GitHub refused the success status: success on the head, ready, audited, one review", async () => {
    const github = refuseWrite(new RegExp(`^/repos/${OWNER}/${NAME}/statuses/[0-9a-f]{40}$`), (body) => body.state === "success");
    const { headSha, job } = await draftAgentPull(21);

    await expect(auditPull(services(), job)).rejects.toThrow();
    const afterFirst = gate.github.statuses.filter((status) => status.sha === headSha).map((status) => status.state);
    await auditPull(services(), job);

    expect(github.refused()).toBe(TRIES);
    expect(afterFirst.at(-1)).toBe("error");
    const statuses = gate.github.statuses.filter((status) => status.sha === headSha);
    expect(statuses.at(-1)).toMatchObject({ state: "success", description: "HNSC passed: 8 of 8 rules" });
    expect(statuses.at(-1)?.target_url).toContain("#pullrequestreview-");
    expect(gate.github.graphql.map((call) => call.variables)).toEqual([{ id: "PR_node21" }]);
    expect(gate.github.reviews.filter((review) => review.commit_id === headSha)).toHaveLength(1);
    const actions = await auditActions(headSha);
    expect(actions.filter((action) => action === "auditor.run")).toHaveLength(1);
    expect(actions.filter((action) => action === "governor.verdict")).toHaveLength(1);
    expect(actions.at(-1)).toBe("pull.ready-for-review");
  }, 120_000);

  it("makes the draft ready when GitHub refused markPullRequestReadyForReview after the success status", async () => {
    const github = refuseWrite("/graphql", (body) => String(body.query).includes("markPullRequestReadyForReview"));
    const { headSha, job } = await draftAgentPull(22);

    await expect(auditPull(services(), job)).rejects.toThrow();
    await auditPull(services(), job);

    expect(github.refused()).toBe(TRIES);
    expect(gate.github.statuses.filter((status) => status.sha === headSha).at(-1)).toMatchObject({ state: "success" });
    expect(gate.github.graphql.map((call) => call.variables)).toEqual([{ id: "PR_node22" }]);
    expect(gate.github.reviews.filter((review) => review.commit_id === headSha)).toHaveLength(1);
    expect((await auditActions(headSha)).at(-1)).toBe("pull.ready-for-review");
  }, 120_000);
});

describe("a review post that GitHub applied but answered 502", () => {
  it("is found on GitHub and not posted again, and the gate still passes", async () => {
    nock.cleanAll();
    mockInstallationTokens();
    gate.github = mockWrites({ appliedThen502: { reviewOn: 23 } });
    mockRepoConfig(CONFIG);
    const { headSha, job } = await draftAgentPull(23);

    await auditPull(services(), job);

    expect(gate.github.reviews.filter((review) => review.commit_id === headSha)).toHaveLength(1);
    const status = gate.github.statuses.filter((candidate) => candidate.sha === headSha).at(-1);
    expect(status).toMatchObject({ state: "success", target_url: `https://github.com/${REPO}/pull/23#pullrequestreview-7000` });
    expect(await auditActions(headSha)).toContain("auditor.review.posted");
  }, 120_000);
});
