import nock from "nock";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { forbiddenReason, guardRefusals, resetGuardRefusals } from "../../src/github/guard.js";
import { createGitHubAccess } from "../../src/github/octokit.js";
import { mockInstallationTokens } from "../helpers/harness.js";
import { testPrivateKey } from "../helpers/webhooks.js";

describe("the no-merge guard", () => {
  afterEach(() => {
    // These tests make the guard fire on purpose; the suite-level check must not count them.
    resetGuardRefusals();
  });

  it.each([
    [{ method: "PUT", url: "/repos/{owner}/{repo}/pulls/{pull_number}/merge" }, "merging a pull request"],
    [{ method: "POST", url: "/repos/{owner}/{repo}/merges" }, "merging branches"],
    [{ method: "POST", url: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", event: "APPROVE" }, "submitting a review with event APPROVE"],
    [
      { method: "POST", url: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews/{review_id}/events", event: "REQUEST_CHANGES" },
      "submitting a review with event REQUEST_CHANGES",
    ],
    [{ method: "PATCH", url: "/repos/{owner}/{repo}/git/refs/{ref}", ref: "heads/main" }, "moving ref heads/main"],
    [{ method: "POST", url: "/repos/{owner}/{repo}/git/refs", ref: "refs/heads/release" }, "moving ref refs/heads/release"],
    [
      { method: "POST", url: "/graphql", query: "mutation { enablePullRequestAutoMerge(input: {}) { clientMutationId } }" },
      "GraphQL mutation enablePullRequestAutoMerge",
    ],
    [
      { method: "POST", url: "/graphql", query: "mutation($id: ID!) { mergePullRequest(input: {pullRequestId: $id}) { clientMutationId } }" },
      "GraphQL mutation mergePullRequest",
    ],
    [{ method: "POST", url: "/graphql", query: "mutation { createCommitOnBranch(input: {}) { commit { oid } } }" }, "GraphQL mutation createCommitOnBranch"],
    [{ method: "POST", url: "/repos/{owner}/{repo}/merge-upstream", branch: "main" }, "syncing a branch with its upstream"],
    [{ method: "PUT", url: "/repos/{owner}/{repo}/pulls/{pull_number}/update-branch" }, "updating a pull request's branch"],
    [{ method: "PUT", url: "/repos/{owner}/{repo}/contents/{path}", branch: "main" }, "committing through the contents API to main"],
    [{ method: "DELETE", url: "/repos/{owner}/{repo}/contents/{path}" }, "committing through the contents API to the default branch"],
  ])("refuses %j", (request, reason) => {
    expect(forbiddenReason(request)).toBe(reason);
  });

  it.each([
    { method: "POST", url: "/repos/{owner}/{repo}/pulls/{pull_number}/reviews", event: "COMMENT" },
    { method: "POST", url: "/repos/{owner}/{repo}/pulls" },
    { method: "POST", url: "/repos/{owner}/{repo}/statuses/{sha}" },
    { method: "PATCH", url: "/repos/{owner}/{repo}/git/refs/{ref}", ref: "heads/aura/12-fix-login" },
    { method: "GET", url: "/repos/{owner}/{repo}/contents/{path}" },
    { method: "POST", url: "/graphql", query: "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { clientMutationId } }" },
  ])("lets %j through", (request) => {
    expect(forbiddenReason(request)).toBeUndefined();
  });

  it("stops a merge request before it leaves the process and records the refusal", async () => {
    mockInstallationTokens();
    const octokit = createGitHubAccess({
      appId: 123,
      privateKey: testPrivateKey,
      baseUrl: "https://api.github.com",
      log: pino({ level: "silent" }),
    }).forInstallation(1);
    const merge = nock("https://api.github.com").put("/repos/octo-org/widgets/pulls/3/merge").reply(200, { merged: true });

    const attempt = octokit.request("PUT /repos/{owner}/{repo}/pulls/{pull_number}/merge", { owner: "octo-org", repo: "widgets", pull_number: 3 });

    await expect(attempt).rejects.toThrow("Aura never does this: merging a pull request");
    expect(merge.isDone()).toBe(false);
    expect(guardRefusals()).toHaveLength(1);
    nock.cleanAll();
  });
});
