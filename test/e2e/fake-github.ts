// The product's GitHub edge (src/local/github-edge.ts) behind nock at api.github.com, for tests that run the app
// against GitHub's public API URL: one copy of the fake, served here by nock and in local mode by a real server.
// Installation tokens are left to the harness's own mock (mockInstallationTokens).
import nock from "nock";
import { createGitHubEdge, type GitHubEdge, type GitHubEdgeOptions } from "../../src/local/github-edge.js";
import { GITHUB_API } from "../helpers/harness.js";

export type { RecordedRequest } from "../../src/local/github-edge.js";
export type FakeGitHubOptions = GitHubEdgeOptions;
export type FakeGitHub = GitHubEdge;

export function fakeGitHub(options: FakeGitHubOptions): FakeGitHub {
  const edge = createGitHubEdge(options);
  const scope = nock(GITHUB_API).persist();
  for (const method of ["GET", "POST", "PATCH", "PUT", "DELETE"] as const) {
    scope
      .intercept((uri) => !/^\/app\/installations\/\d+\/access_tokens$/.test(uri), method)
      .optionally()
      .reply((uri, raw) => {
        const url = new URL(uri, GITHUB_API);
        const parsed = typeof raw === "string" && raw !== "" ? (JSON.parse(raw) as unknown) : raw;
        const body = parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
        const { status, json } = edge.respond(method, url, body);
        return [status, JSON.stringify(json), { "content-type": "application/json; charset=utf-8", "x-github-media-type": "github.v3; format=json" }];
      });
  }
  return edge;
}
