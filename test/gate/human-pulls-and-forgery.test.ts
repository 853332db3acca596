// The gate end to end for pull requests people open, configuration read from the base branch, a PR with the
// 3,000 files GitHub's API lists (30 pages), and forged `aura/hnsc` statuses (also when GitHub answers 502 to the
// warning comment it applied).
import nock from "nock";
import { describe, expect, it } from "vitest";
import { handleStatusEvent } from "../../src/governor/forgery.js";
import { GITHUB_API, mockInstallationTokens, unthrottledGitHub } from "../helpers/harness.js";
import { testServices } from "../helpers/services.js";
import {
  BOT,
  commitObject,
  INSTALLATION_ID,
  mockPullReads,
  mockRepoConfig,
  mockWrites,
  NAME,
  OWNER,
  pullDelivery,
  pullObject,
  REPO,
  useGateHarness,
  forgedStatus,
} from "./gate-fixture.js";

const BASE_SHA = "ba5e000000000000000000000000000000000001";
const sha = (n: number) => n.toString(16).padStart(40, "c");

const gate = useGateHarness();

function humanPull(number: number, changedFiles = 1) {
  return pullObject({
    number,
    headSha: sha(number),
    headRef: `feature/change-${number}`,
    baseSha: BASE_SHA,
    cloneUrl: "https://github.com/octo-org/widgets.git",
    author: "pat-person",
    changedFiles,
  });
}

const oneFile = [{ filename: "src/app.js", status: "modified", additions: 1, deletions: 1, changes: 2, patch: "@@ -1 +1 @@\n-a\n+b" }];

describe("pull requests opened by people", () => {
  it("are not governed by Aura unless the repo asks", async () => {
    mockRepoConfig(undefined);
    const pull = humanPull(31);
    mockPullReads(pull, oneFile, [commitObject(sha(31), "pat-person")]);

    await gate.harness.deliver("pull_request", pullDelivery("opened", pull));
    await gate.harness.waitForIdle();

    expect(gate.github.statuses).toEqual([
      expect.objectContaining({ sha: sha(31), state: "success", context: "aura/hnsc", description: "not governed by Aura" }),
    ]);
    expect(gate.github.reviews).toEqual([]);
  });

  it("get status error when .github/aura.yml on the base branch is invalid", async () => {
    mockRepoConfig("governAllPullRequests: maybe\nsurpriseKey: 1\n");
    const pull = humanPull(32);
    mockPullReads(pull, oneFile, [commitObject(sha(32), "pat-person")]);

    await gate.harness.deliver("pull_request", pullDelivery("opened", pull));
    await gate.harness.waitForIdle();

    expect(gate.github.statuses.map((status) => status.state)).toEqual(["error"]);
    expect(gate.github.statuses[0]?.description).toBe("HNSC could not evaluate: .github/aura.yml on the base branch is invalid");
    const { rows } = await gate.harness.db.pool.query<{ conclusion: string }>("SELECT conclusion FROM governor_verdicts WHERE pull_number = 32");
    expect(rows.map((row) => row.conclusion)).toEqual(["error"]);
  });

  it("reads all 3,000 files of a governed PR, 30 pages of 100, and judges the last page too", async () => {
    mockRepoConfig("governAllPullRequests: true\n");
    const pull = humanPull(30, 3000);
    const pages: number[] = [];
    nock(GITHUB_API).persist().get(`/repos/${OWNER}/${NAME}/pulls/30`).reply(200, pull);
    nock(GITHUB_API)
      .get(`/repos/${OWNER}/${NAME}/pulls/30/commits`)
      .query(true)
      .reply(200, [commitObject(sha(30), "pat-person")]);
    nock(GITHUB_API)
      .get(`/repos/${OWNER}/${NAME}/pulls/30/files`)
      .query(true)
      .times(30)
      .reply((uri) => {
        const page = Number(new URL(uri, GITHUB_API).searchParams.get("page") ?? "1");
        pages.push(page);
        const files = Array.from({ length: 100 }, (_, index) => {
          const n = (page - 1) * 100 + index;
          const filename = n === 2999 ? ".github/workflows/deploy.yml" : `src/module-${n}.js`;
          return { filename, status: "modified", additions: 1, deletions: 1, changes: 2, patch: `@@ -1 +1 @@\n-old ${n}\n+new ${n}` };
        });
        const link = page < 30 ? { link: `<${GITHUB_API}/repos/${OWNER}/${NAME}/pulls/30/files?per_page=100&page=${page + 1}>; rel="next"` } : {};
        return [200, files, link];
      });

    await gate.harness.deliver("pull_request", pullDelivery("opened", pull));
    await gate.harness.waitForIdle();

    expect(pages).toEqual(Array.from({ length: 30 }, (_, index) => index + 1));
    expect(gate.github.statuses.map((status) => status.state)).toEqual(["pending", "failure"]);
    expect(gate.github.statuses[1]?.description).toBe("HNSC failed: protected-paths");
    const { rows } = await gate.harness.db.pool.query<{ rules: { ruleId: string; state: string }[] }>(
      "SELECT rules FROM governor_verdicts WHERE pull_number = 30",
    );
    const states = Object.fromEntries((rows[0]?.rules ?? []).map((rule) => [rule.ruleId, rule.state]));
    expect(states).toMatchObject({ "protected-paths": "fail", secrets: "pass", "test-tampering": "pass", scope: "skip", assignment: "skip", evidence: "skip" });
  });
});

describe("a forged aura/hnsc status", () => {
  it("is answered with the stored verdict, an audit event and one comment to the directors per SHA", async () => {
    mockRepoConfig("directors: [octo-director]\n");
    const headSha = sha(33);
    await gate.harness.db.pool.query(
      `INSERT INTO governor_verdicts (installation_id, repo, pull_number, head_sha, pack_revision, conclusion, description, target_url, governed)
       VALUES ($1, $2, 33, $3, 'rev', 'failure', 'HNSC failed: protected-paths', 'https://github.com/octo-org/widgets/pull/33', true)`,
      [INSTALLATION_ID, REPO, headSha],
    );

    await gate.harness.deliver("status", forgedStatus(headSha, "mallory"));
    await gate.harness.deliver("status", forgedStatus(headSha, "mallory"));
    await gate.harness.deliver("status", forgedStatus(headSha, BOT, "failure"));
    await gate.harness.waitForIdle();

    expect(gate.github.statuses).toEqual([
      expect.objectContaining({ sha: headSha, state: "failure", description: "HNSC failed: protected-paths" }),
      expect.objectContaining({ sha: headSha, state: "failure", description: "HNSC failed: protected-paths" }),
    ]);
    expect(gate.github.comments).toHaveLength(1);
    expect(gate.github.comments[0]).toMatchObject({ issue: 33 });
    expect(gate.github.comments[0]?.body).toContain("@octo-director");
    expect(gate.github.comments[0]?.body).toContain("@mallory");
    const { rows } = await gate.harness.db.pool.query<{ actor: string }>("SELECT actor FROM audit.events WHERE action = 'governor.status.forged'");
    expect(rows.map((row) => row.actor)).toEqual(["mallory", "mallory"]);
  });

  it("with no stored verdict, evaluates the PR again and posts the true status", async () => {
    mockRepoConfig(undefined);
    const pull = humanPull(34);
    mockPullReads(pull, oneFile, [commitObject(sha(34), "pat-person")]);
    nock(GITHUB_API)
      .get(`/repos/${OWNER}/${NAME}/commits/${sha(34)}/pulls`)
      .reply(200, [{ number: 34, state: "open", head: { sha: sha(34) } }]);

    await gate.harness.deliver("status", forgedStatus(sha(34), "mallory", "failure"));
    await gate.harness.waitForIdle();

    expect(gate.github.statuses).toEqual([expect.objectContaining({ sha: sha(34), state: "success", description: "not governed by Aura" })]);
    expect(gate.github.comments).toHaveLength(1);
  });
});

describe("a forgery warning that GitHub applied but answered 502", () => {
  it("is found by its marker and not posted again; the status is corrected and the comment recorded", async () => {
    nock.cleanAll();
    mockInstallationTokens();
    gate.github = mockWrites({ appliedThen502: { commentOn: 35 } });
    mockRepoConfig("directors: [octo-director]\n");
    const headSha = sha(35);
    await gate.harness.db.pool.query(
      `INSERT INTO governor_verdicts (installation_id, repo, pull_number, head_sha, pack_revision, conclusion, description, target_url, governed)
       VALUES ($1, $2, 35, $3, 'rev', 'failure', 'HNSC failed: protected-paths', 'https://github.com/octo-org/widgets/pull/35', true)`,
      [INSTALLATION_ID, REPO, headSha],
    );
    const services = { ...testServices(gate.harness.db), github: unthrottledGitHub() };

    const outcome = await handleStatusEvent(services, forgedStatus(headSha, "mallory"));

    expect(outcome).toBe("corrected");
    expect(gate.github.statuses).toEqual([expect.objectContaining({ sha: headSha, state: "failure", description: "HNSC failed: protected-paths" })]);
    expect(gate.github.comments).toHaveLength(1);
    expect(gate.github.comments[0]?.body).toContain(`<!-- aura:forgery sha=${headSha} -->`);
    expect(gate.github.comments[0]?.body).toContain("@mallory");
    const { rows } = await gate.harness.db.pool.query<{ comment_id: number | null }>("SELECT comment_id FROM governor_forgeries WHERE head_sha = $1", [
      headSha,
    ]);
    // The comment GitHub applied, as it lists it (mockWrites numbers comments from 500).
    expect(rows).toEqual([{ comment_id: 500 }]);
  });
});
