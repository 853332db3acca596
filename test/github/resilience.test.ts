import nock from "nock";
import { describe, expect, it } from "vitest";
import { mockInstallationTokens, unthrottledGitHub } from "../helpers/harness.js";

const api = "https://api.github.com";
const github = () => unthrottledGitHub().forInstallation(7);

describe("GitHub failures", () => {
  it("retries a 502 and succeeds", async () => {
    mockInstallationTokens();
    const scope = nock(api).get("/repos/o/r/issues/1").reply(502, { message: "Bad Gateway" }).get("/repos/o/r/issues/1").reply(200, { number: 1 });

    const { data } = await github().request("GET /repos/{owner}/{repo}/issues/{issue_number}", { owner: "o", repo: "r", issue_number: 1 });

    expect(data.number).toBe(1);
    scope.done();
  });

  it("waits out a secondary rate limit with Retry-After, then posts once", async () => {
    mockInstallationTokens();
    const scope = nock(api)
      .post("/repos/o/r/issues/1/comments")
      .reply(403, { message: "You have exceeded a secondary rate limit" }, { "retry-after": "1" })
      .post("/repos/o/r/issues/1/comments")
      .reply(201, { id: 9 });

    const { data } = await github().request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner: "o",
      repo: "r",
      issue_number: 1,
      body: "hi",
    });

    expect(data.id).toBe(9);
    scope.done();
  });

  it("gives up with the error after the primary rate limit persists, never silently", async () => {
    mockInstallationTokens();
    const reset = String(Math.floor(Date.now() / 1000));
    const headers = { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset };
    const scope = nock(api).get("/repos/o/r").times(3).reply(403, { message: "API rate limit exceeded" }, headers);

    const attempt = github().request("GET /repos/{owner}/{repo}", { owner: "o", repo: "r" });

    await expect(attempt).rejects.toMatchObject({ status: 403 });
    scope.done();
  });

  it("does not retry a 404", async () => {
    mockInstallationTokens();
    const scope = nock(api).get("/repos/o/missing").once().reply(404, { message: "Not Found" });

    await expect(github().request("GET /repos/{owner}/{repo}", { owner: "o", repo: "missing" })).rejects.toMatchObject({ status: 404 });
    scope.done();
  });
});
