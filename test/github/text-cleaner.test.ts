// Invisible and bidirectional control characters never reach GitHub: the characters themselves (a table of
// hostile and legitimate text), and the request hook seen from "GitHub"'s side through the real Octokit with nock.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { stripInvisibleCharacters } from "../../src/github/invisible-characters.js";
import { mockInstallationTokens, unthrottledGitHub } from "../helpers/harness.js";

const api = "https://api.github.com";
const github = () => unthrottledGitHub().forInstallation(31);

// Bidi embeddings, overrides, isolates and marks; zero-width space and non-joiner; word joiner and invisible
// operators; BOM; tag characters; the Mongolian vowel separator; C0/C1 controls. (U+200D is kept inside emoji.)
// eslint-disable-next-line no-control-regex
const HOSTILE = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069\u200B\u200C\u2060-\u2064\uFEFF\u180E\u{E0000}-\u{E007F}\u0000-\u0008\u001B\u007F\u0080-\u009F]/u;

describe("stripInvisibleCharacters", () => {
  it.each([
    ["Trojan Source: a right-to-left override", "access = \u202Eresu\u202C admin", "access = resu admin", 2],
    ["isolates and marks", "\u2066if\u2069 \u2067x\u2069 \u200E\u200F\u061C", "if x ", 7],
    ["zero-width space inside a word", "pass\u200Bword", "password", 1],
    ["joiners between Latin letters", "ad\u200Dmin ro\u200Cot", "admin root", 2],
    ["word joiner, invisible operators, BOM", "\uFEFFa\u2060b\u2061c\u2062d\u2063e\u2064f", "abcdef", 6],
    ["tag characters (ASCII smuggling)", "ok\u{E0001}\u{E0069}\u{E0067}\u{E006E}\u{E007F}", "ok", 5],
    ["control characters and an ANSI escape", "a\u0000b\u001B[31mc\u007F\u0085d", "ab[31mcd", 4],
    ["stacked variation selectors hiding data", "😀\uFE0F\uFE01\u{E0100}\u{E0101}", "😀\uFE0F", 3],
    ["a variation selector with nothing before it", "\uFE0Fx", "x", 1],
    ["a joiner between an emoji and a letter", "😀\u200Da", "😀a", 1],
  ])("removes %s", (_name, input, expected, removed) => {
    const result = stripInvisibleCharacters(input);

    expect(result.text).toBe(expected);
    expect(result.removed).toBe(removed);
  });

  it.each([
    ["an emoji ZWJ sequence", "👩‍💻 and 👨‍👩‍👧"],
    ["a ZWJ sequence with VS16", "🏳️‍🌈 ❤️‍🔥"],
    ["a ZWJ sequence with a skin tone", "👩🏽‍💻"],
    ["a keycap and text-style presentation", "#️⃣ ☺︎"],
    ["Persian with ZWNJ", "می\u200Cخواهم"],
    ["Sinhala with ZWJ", "ශ්\u200Dරී"],
    ["Devanagari with ZWNJ", "क्\u200Cष"],
    ["an Arabic number sign (drawn)", "\u0600١٢"],
    ["tabs, newlines and CRLF", "a\tb\r\nc\n"],
    ["plain ASCII and accents", "Résumé: naïve café, 100% done."],
  ])("keeps %s", (_name, input) => {
    const result = stripInvisibleCharacters(input);

    expect(result.text).toBe(input);
    expect(result.removed).toBe(0);
  });
});

describe("the request hook on every installation client", () => {
  it("cleans a comment body before it leaves the app", async () => {
    mockInstallationTokens();
    let received: { body?: string } = {};
    const scope = nock(api)
      .post("/repos/o/r/issues/1/comments")
      .reply(201, (_uri, body) => {
        received = body as { body: string };
        return { id: 1 };
      });

    await github().request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner: "o",
      repo: "r",
      issue_number: 1,
      body: "if (isAdmin\u202E \u2066// check later\u2069\u2066) {\u200B👩‍💻\u{E0041}",
    });

    scope.done();
    expect(received.body).toBe("if (isAdmin // check later) {👩‍💻");
    expect(received.body).not.toMatch(HOSTILE);
  });

  it("cleans a pull request's title and body, and a review's inline comments, and leaves identifiers alone", async () => {
    mockInstallationTokens();
    const received: Record<string, unknown>[] = [];
    const scope = nock(api)
      .post("/repos/o/r/pulls")
      .reply(201, (_uri, body) => {
        received.push(body as Record<string, unknown>);
        return { number: 5 };
      })
      .post("/repos/o/r/pulls/5/reviews")
      .reply(200, (_uri, body) => {
        received.push(body as Record<string, unknown>);
        return { id: 9, html_url: "https://github.com/o/r/pull/5#pullrequestreview-9" };
      });
    const octokit = github();

    await octokit.request("POST /repos/{owner}/{repo}/pulls", {
      owner: "o",
      repo: "r",
      title: "Fix\u202E gnissim \u202Clogin",
      head: "aura/1-fix",
      base: "main",
      body: "Summary\u200F\u2060 here",
    });
    const comments = [{ path: "src/a\u200B.ts", line: 3, side: "RIGHT", body: "risky\u2067 here" }];
    await octokit.request("POST /repos/{owner}/{repo}/pulls/{pull_number}/reviews", {
      owner: "o",
      repo: "r",
      pull_number: 5,
      event: "COMMENT",
      body: "review\u200D",
      comments,
    });

    scope.done();
    expect(JSON.stringify([received[0]?.title, received[0]?.body, received[1]?.body])).not.toMatch(HOSTILE);
    expect(received[0]).toMatchObject({ title: "Fix gnissim login", body: "Summary here", head: "aura/1-fix", base: "main" });
    expect(received[1]).toMatchObject({ body: "review", comments: [{ path: "src/a\u200B.ts", line: 3, body: "risky here" }] });
    expect(comments[0]?.body).toBe("risky\u2067 here");
  });

  it("cleans a commit status description", async () => {
    mockInstallationTokens();
    let received: Record<string, unknown> = {};
    const sha = "a".repeat(40);
    const scope = nock(api)
      .post(`/repos/o/r/statuses/${sha}`)
      .reply(201, (_uri, body) => {
        received = body as Record<string, unknown>;
        return { id: 1 };
      });

    await github().request("POST /repos/{owner}/{repo}/statuses/{sha}", {
      owner: "o",
      repo: "r",
      sha,
      state: "failure",
      context: "aura/hnsc",
      description: "blocked\u202E: tests",
    });

    scope.done();
    expect(received).toMatchObject({ state: "failure", context: "aura/hnsc", description: "blocked: tests" });
  });
});
