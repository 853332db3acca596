// Comments the app creates once (src/github/create-once.ts): GitHub can answer 502 after it has applied a POST,
// so a create is never repeated blind by the retry plugin; the marker is looked for before posting again.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { upsertStickyComment } from "../../src/github/sticky-comment.js";
import { mockInstallationTokens, unthrottledGitHub } from "../helpers/harness.js";

const api = "https://api.github.com";
const MARKER = "<!-- aura:status requirement=1 -->";
const target = { owner: "o", repo: "r", issueNumber: 1, marker: MARKER, body: `${MARKER}\nWorking on it.` };
const bot = { login: "aura-orchestra[bot]", type: "Bot" };

describe("a sticky comment whose post GitHub answers 502", () => {
  it("is found by its marker when the post was applied, and not posted again", async () => {
    mockInstallationTokens();
    const scope = nock(api)
      .get("/repos/o/r/issues/1/comments")
      .query(true)
      .reply(200, [])
      .post("/repos/o/r/issues/1/comments")
      .reply(502, { message: "Server Error" })
      .get("/repos/o/r/issues/1/comments")
      .query(true)
      .reply(200, [{ id: 41, body: target.body, user: bot }]);

    const result = await upsertStickyComment(unthrottledGitHub().forInstallation(7), target);

    expect(result).toEqual({ commentId: 41, created: true });
    scope.done();
  });

  it("is posted again when the lookup finds it was not applied", async () => {
    mockInstallationTokens();
    const scope = nock(api)
      .get("/repos/o/r/issues/1/comments")
      .query(true)
      .twice()
      .reply(200, [])
      .post("/repos/o/r/issues/1/comments")
      .reply(502, { message: "Server Error" })
      .post("/repos/o/r/issues/1/comments")
      .reply(201, { id: 42 });

    const result = await upsertStickyComment(unthrottledGitHub().forInstallation(7), target);

    expect(result).toEqual({ commentId: 42, created: true });
    scope.done();
  });

  it("gives up with GitHub's error after three tries, never silently", async () => {
    mockInstallationTokens();
    const scope = nock(api)
      .get("/repos/o/r/issues/1/comments")
      .query(true)
      .times(3)
      .reply(200, [])
      .post("/repos/o/r/issues/1/comments")
      .times(3)
      .reply(502, { message: "Server Error" });

    await expect(upsertStickyComment(unthrottledGitHub().forInstallation(7), target)).rejects.toMatchObject({ status: 502 });
    scope.done();
  });
});
