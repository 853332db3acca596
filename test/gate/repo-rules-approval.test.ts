// Repo rules that relax the policy (issue 5 item 1) end to end: without a director's approval the gate is `error`
// and says exactly what to write; `/aura override repo-rules <reason>` from a director (a real issue comment
// through Probot) approves those exact rules and the PR is judged again under them, showing who approved; a
// later change to the rules lapses the approval. Also the `[WIP] ` title of a non-draft agent PR (issue 7 item 16).
import nock from "nock";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clearPermissionCache } from "../../src/github/permissions.js";
import { mockInstallationTokens, GITHUB_API } from "../helpers/harness.js";
import { commentPayload } from "../director-e2e/fixtures.js";
import { DIRECTOR, mockPermission, mockRepoConfig, mockWrites, OWNER, NAME, pullDelivery, type GitHubRecorder, useGateHarness } from "./gate-fixture.js";

const RELAXING = 'test: sh test.sh\nrules:\n  - id: scope\n    params:\n      allow: ["docs/**"]\n';
const RELAXING_MORE = 'test: sh test.sh\nrules:\n  - id: scope\n    params:\n      allow: ["docs/**", "notes/**"]\n';
const COMMAND = "/aura override repo-rules <reason>";

const gate = useGateHarness({ tempPrefix: "aura-repo-rules-", mockEachTest: false });
let github: GitHubRecorder = { statuses: [], reviews: [], reviewEdits: [], comments: [], graphql: [] };
let config = RELAXING;

/** Every mock a test here may need; the recorded writes survive from one test to the next. */
function mockGitHub(reads: () => void, first?: () => void): void {
  nock.cleanAll();
  // Interceptors that must win over the general ones below (nock tries them in the order they were made).
  first?.();
  mockInstallationTokens();
  clearPermissionCache();
  const fresh = mockWrites();
  Object.assign(fresh, github);
  github = fresh;
  mockRepoConfig(config);
  mockPermission(DIRECTOR, "admin");
  nock(GITHUB_API)
    .persist()
    .post(/\/issues\/comments\/\d+\/reactions$/)
    .optionally()
    .reply(201, { id: 1, content: "+1" });
  reads();
}

async function agentPull(number: number, branch: string, files: Record<string, string>, options: { draft: boolean; title?: string }) {
  const { headSha, pull, mockReads } = await gate.pushAgentPull({
    number,
    branch,
    files,
    claim: { exitCode: 0, passed: 3, failed: 0, total: 3 },
    draft: options.draft,
  });
  if (options.title) pull.title = options.title;
  return { headSha, pull, reads: mockReads };
}

const statusesOf = (sha: string) => github.statuses.filter((status) => status.sha === sha);

describe("repo rules that relax the policy", () => {
  let pr: Awaited<ReturnType<typeof agentPull>>;

  beforeAll(async () => {
    pr = await agentPull(21, "aura/21-docs", { "src/app.js": "export const answer = 42;\n", "docs/notes.md": "Notes\n" }, { draft: true });
  }, 60_000);

  beforeEach(() => {
    mockGitHub(pr.reads);
  });

  it("without a director's approval give `error` telling the director exactly what to write", async () => {
    await gate.harness.deliver("pull_request", pullDelivery("opened", pr.pull));
    await gate.harness.waitForIdle(90_000);

    const last = statusesOf(pr.headSha).at(-1);
    expect(last?.state).toBe("error");
    expect(last?.description).toContain(COMMAND);
    expect(last?.description.length).toBeLessThan(140);
    const review = github.reviews.find((candidate) => candidate.commit_id === pr.headSha);
    expect(review?.body).toContain("`scope`: allow now also allows docs/**");
    expect(review?.body).toContain(`a director writes \`${COMMAND}\``);
  }, 120_000);

  it("are approved by `/aura override repo-rules` from a director; the PR is judged under them, showing who approved", async () => {
    nock(GITHUB_API)
      .get(`/repos/${OWNER}/${NAME}/pulls`)
      .query(true)
      .reply(200, [{ number: 21 }]);
    // Written on an issue, not the pull request: the approval is for the repository's rules.
    const comment = commentPayload({ body: "/aura override repo-rules Docs may be touched by every task here.", login: DIRECTOR, issueNumber: 3 });

    await gate.harness.deliver("issue_comment", comment.payload);
    await gate.harness.waitForIdle(90_000);

    expect(github.comments.find((reply) => reply.issue === 3)?.body).toContain(
      "Repo rules approved by @octo-director: Docs may be touched by every task here.",
    );
    const last = statusesOf(pr.headSha).at(-1);
    expect(last?.state).toBe("success");
    expect(last?.description).toContain("approved by @octo-director");
    expect(github.reviewEdits.at(-1)?.body).toContain(
      "repo rules relax `scope` (allow now also allows docs/**): approved by @octo-director: Docs may be touched by every task here.",
    );
    const { rows } = await gate.harness.db.pool.query<{ action: string; actor: string }>(
      "SELECT action, actor FROM audit.events WHERE action = 'governor.repo-rules.approved'",
    );
    expect(rows).toEqual([{ action: "governor.repo-rules.approved", actor: DIRECTOR }]);
  }, 120_000);

  it("lapse when the rules change: the next evaluation is `error` again", async () => {
    config = RELAXING_MORE;
    mockGitHub(pr.reads);

    await gate.harness.deliver("pull_request", pullDelivery("synchronize", pr.pull));
    await gate.harness.waitForIdle(90_000);

    const last = statusesOf(pr.headSha).at(-1);
    expect(last?.state).toBe("error");
    expect(last?.description).toContain(COMMAND);
    config = RELAXING;
  }, 120_000);
});

describe("a repo-rules approval written on a pull request", () => {
  let pr: Awaited<ReturnType<typeof agentPull>>;

  beforeAll(async () => {
    pr = await agentPull(31, "aura/31-docs", { "src/app.js": "export const answer = 43;\n", "docs/more.md": "More\n" }, { draft: true });
  }, 60_000);

  it("approves the rules on that pull request's base, which the gate reads, even when the default branch has moved on", async () => {
    // This pull request's base relaxes `scope` one way; the default branch has since changed its rules.
    config = 'test: sh test.sh\nrules:\n  - id: scope\n    params:\n      allow: ["docs/**", "base-only/**"]\n';
    mockGitHub(pr.reads, () => {
      const defaultBranchRules = 'test: sh test.sh\nrules:\n  - id: scope\n    params:\n      allow: ["docs/**", "elsewhere/**"]\n';
      nock(GITHUB_API)
        .persist()
        .get(new RegExp(`^/repos/${OWNER}/${NAME}/contents/\\.github(%2F|/)aura\\.yml$`))
        .reply(200, { type: "file", encoding: "base64", path: ".github/aura.yml", content: Buffer.from(defaultBranchRules).toString("base64") });
    });
    nock(GITHUB_API)
      .get(`/repos/${OWNER}/${NAME}/pulls`)
      .query(true)
      .reply(200, [{ number: 31 }]);
    await gate.harness.deliver("pull_request", pullDelivery("opened", pr.pull));
    await gate.harness.waitForIdle(90_000);
    const before = statusesOf(pr.headSha).at(-1)?.state;
    const comment = commentPayload({ body: "/aura override repo-rules Docs are fair game.", login: DIRECTOR, issueNumber: 31, isPull: true });

    await gate.harness.deliver("issue_comment", comment.payload);
    await gate.harness.waitForIdle(90_000);

    expect(before).toBe("error");
    const baseSha = (pr.pull.base as { sha: string }).sha;
    expect(github.comments.find((reply) => reply.issue === 31)?.body).toContain(`as on this pull request's base (\`main\` at ${baseSha.slice(0, 7)})`);
    expect(statusesOf(pr.headSha).at(-1)?.state).toBe("success");
    config = RELAXING;
  }, 120_000);
});

describe("a non-draft agent PR titled [WIP]", () => {
  it("loses the prefix once when its tests pass and the gate is green", async () => {
    const pr = await agentPull(22, "aura/22-wip", { "src/app.js": "export const answer = 42;\n" }, { draft: false, title: "[WIP] Answer the question" });
    config = "test: sh test.sh\n";
    mockGitHub(pr.reads);
    const titles: string[] = [];
    nock(GITHUB_API)
      .patch(`/repos/${OWNER}/${NAME}/pulls/22`)
      .reply(200, (_uri, body) => {
        titles.push((body as { title: string }).title);
        return { number: 22 };
      });

    const graphqlBefore = github.graphql.length;
    await gate.harness.deliver("pull_request", pullDelivery("opened", pr.pull));
    await gate.harness.waitForIdle(90_000);
    pr.pull.title = "Answer the question"; // what GitHub now reports
    await gate.harness.deliver("pull_request", pullDelivery("synchronize", pr.pull));
    await gate.harness.waitForIdle(90_000);

    expect(statusesOf(pr.headSha).at(-1)?.state).toBe("success");
    expect(titles).toEqual(["Answer the question"]);
    expect(github.graphql.length).toBe(graphqlBefore);
  }, 180_000);
});
