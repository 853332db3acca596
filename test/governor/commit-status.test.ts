// The strictest say over a commit (src/governor/commit-status.ts), as a table: what each open pull request at
// the commit says, whether an agent wrote it, and the one status that is posted.
import { describe, expect, it } from "vitest";
import { agentCommitDescription, EVALUATING_DESCRIPTION, strictestStatus } from "../../src/governor/commit-status.js";
import { MAX_DESCRIPTION_LENGTH } from "../../src/governor/describe-verdict.js";
import type { Conclusion } from "../../src/governor/verdict.js";
import type { CommitRecords, PullAtCommit } from "../../src/governor/verdict-store.js";

const SHA = "c".repeat(40);
const url = (pull: number) => `https://github.com/octo-org/widgets/pull/${pull}`;

let nextId = 1;
function pull(pullNumber: number, say: { state: Conclusion; description?: string; agent?: boolean; governed?: boolean } | "evaluating"): PullAtCommit {
  const agent = say !== "evaluating" && say.agent === true;
  if (say === "evaluating") return { pullNumber, agent: true, governed: true, htmlUrl: url(pullNumber), evaluating: true, verdict: undefined };
  return {
    pullNumber,
    agent,
    governed: say.governed ?? agent,
    htmlUrl: url(pullNumber),
    evaluating: false,
    verdict: {
      id: nextId++,
      installationId: 1,
      repo: "octo-org/widgets",
      pullNumber,
      headSha: SHA,
      packRevision: "rev",
      conclusion: say.state,
      description: say.description ?? `HNSC ${say.state}`,
      targetUrl: url(pullNumber),
      governed: say.governed ?? agent,
      agent,
      rules: [],
    },
  };
}

const records = (pulls: PullAtCommit[], agentCommit?: number | "unknown", merged: PullAtCommit[] = []): CommitRecords => ({
  pulls,
  merged,
  agentCommit: agentCommit === undefined ? undefined : { pullNumber: agentCommit === "unknown" ? undefined : agentCommit },
});

describe("the status of a commit", () => {
  it.each([
    ["error", "failure"],
    ["failure", "pending"],
    ["pending", "success"],
    ["error", "success"],
  ] as const)("is %s when one pull request there says %s and another says that", (stricter, weaker) => {
    const status = strictestStatus(records([pull(1, { state: weaker, governed: true }), pull(2, { state: stricter, governed: true })]), url);

    expect(status?.state).toBe(stricter);
    expect(status?.pullNumber).toBe(2);
  });

  it("is the agent PR's failure over a fork's 'not governed' success, naming the agent PR", () => {
    const status = strictestStatus(
      records(
        [
          pull(60, { state: "failure", description: "HNSC failed: protected-paths", agent: true }),
          pull(61, { state: "success", description: "not governed by Aura" }),
        ],
        60,
      ),
      url,
    );

    expect(status).toEqual({ state: "failure", description: "HNSC failed: protected-paths (#60)", targetUrl: url(60), pullNumber: 60, pulls: [60, 61] });
  });

  it("is pending while the agent PR there is being evaluated, whatever another pull request says", () => {
    const status = strictestStatus(records([pull(71, { state: "success", description: "not governed by Aura" }), pull(70, "evaluating")], 70), url);

    expect(status).toMatchObject({ state: "pending", description: `${EVALUATING_DESCRIPTION} (#70)`, pullNumber: 70 });
  });

  it("is failure for an agent's commit that no open agent PR has as its head, never 'not governed' success", () => {
    const known = strictestStatus(records([pull(71, { state: "success", description: "not governed by Aura" })], 70), url);
    const unknown = strictestStatus(records([pull(71, { state: "success", description: "not governed by Aura" })], "unknown"), url);

    expect(known).toEqual({ state: "failure", description: agentCommitDescription(70), targetUrl: url(70), pullNumber: 70, pulls: [71] });
    expect(unknown).toMatchObject({ state: "failure", description: agentCommitDescription(undefined), pullNumber: undefined });
    expect(agentCommitDescription(2_147_483_647).length).toBeLessThanOrEqual(MAX_DESCRIPTION_LENGTH);
  });

  it("is the agent PR's own success when it passes, and a governed PR's failure there still wins", () => {
    const alone = strictestStatus(
      records(
        [pull(80, { state: "success", description: "HNSC passed", agent: true }), pull(81, { state: "success", description: "not governed by Aura" })],
        80,
      ),
      url,
    );
    const governed = strictestStatus(
      records(
        [
          pull(80, { state: "success", description: "HNSC passed", agent: true }),
          pull(82, { state: "failure", description: "HNSC failed: secrets", governed: true }),
        ],
        80,
      ),
      url,
    );

    expect(alone).toMatchObject({ state: "success", description: "HNSC passed (#80)", pullNumber: 80 });
    expect(governed).toMatchObject({ state: "failure", description: "HNSC failed: secrets (#82)", pullNumber: 82 });
  });

  it("among equal states prefers the most recent verdict of the same kind", () => {
    const older = pull(90, { state: "failure", description: "older", governed: true });
    const newer = pull(91, { state: "failure", description: "newer", governed: true });

    expect(strictestStatus(records([newer, older]), url)?.pullNumber).toBe(91);
  });

  it("keeps a single pull request's description as it is and clips a long one to leave room for the number", () => {
    const single = strictestStatus(records([pull(5, { state: "failure", description: "HNSC failed: scope", agent: true })]), url);
    const long = strictestStatus(records([pull(6, { state: "failure", description: "x".repeat(200), agent: true }), pull(7, { state: "success" })]), url);

    expect(single?.description).toBe("HNSC failed: scope");
    expect(long?.description.length).toBe(MAX_DESCRIPTION_LENGTH);
    expect(long?.description.endsWith("… (#6)")).toBe(true);
  });

  it("is nothing when no pull request there has a say and no agent wrote the commit", () => {
    expect(strictestStatus(records([]), url)).toBeUndefined();
    expect(
      strictestStatus(records([{ pullNumber: 3, agent: false, governed: false, htmlUrl: undefined, evaluating: false, verdict: undefined }]), url),
    ).toBeUndefined();
  });

  it("sets aside an ungoverned pull request's error at an agent's commit, and never ends greener than the agent's say", () => {
    const agentPasses = pull(100, { state: "success", description: "HNSC passed", agent: true });
    const agentFails = pull(100, { state: "failure", description: "HNSC failed: scope", agent: true });
    const forkError = pull(101, { state: "error", description: "HNSC could not evaluate: .github/aura.yml on the base branch is invalid" });
    const forkEvaluating: PullAtCommit = { pullNumber: 102, agent: false, governed: false, htmlUrl: url(102), evaluating: true, verdict: undefined };

    const passing = strictestStatus(records([agentPasses, forkError, forkEvaluating], 100), url);
    const failing = strictestStatus(records([agentFails, forkError], 100), url);
    const closedAgent = strictestStatus(records([forkError], 100), url);
    const notAnAgentsCommit = strictestStatus(records([forkError]), url);

    expect(passing).toMatchObject({ state: "success", description: "HNSC passed (#100)", pullNumber: 100, pulls: [100, 101, 102] });
    expect(failing).toMatchObject({ state: "failure", description: "HNSC failed: scope (#100)", pullNumber: 100 });
    expect(closedAgent).toMatchObject({ state: "failure", description: agentCommitDescription(100), pullNumber: 100 });
    expect(notAnAgentsCommit).toMatchObject({ state: "error", pullNumber: 101 });
  });

  it("keeps a governed pull request's error at an agent's commit", () => {
    const status = strictestStatus(
      records(
        [
          pull(110, { state: "success", description: "HNSC passed", agent: true }),
          pull(111, { state: "error", description: "HNSC could not evaluate: the policy is invalid", governed: true }),
        ],
        110,
      ),
      url,
    );

    expect(status).toMatchObject({ state: "error", pullNumber: 111 });
  });

  it("is a merged agent PR's final say when no open agent PR is left at its commit", () => {
    const merged = pull(120, { state: "success", description: "HNSC passed", agent: true });

    const alone = strictestStatus(records([], 120, [merged]), url);
    const withFork = strictestStatus(records([pull(121, { state: "error", description: "HNSC could not evaluate: Error" })], 120, [merged]), url);

    expect(alone).toMatchObject({ state: "success", description: "HNSC passed", pullNumber: 120, pulls: [] });
    expect(withFork).toMatchObject({ state: "success", description: "HNSC passed (#120)", pullNumber: 120, pulls: [121] });
  });
});
