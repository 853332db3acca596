// A GitHub edge over a repository a test made, as the local-mode tests build it: owner `local`, the app as
// `aura[bot]`, issue #1 open.
import { createGitHubEdge, type GitHubEdge } from "../../src/local/github-edge.js";

export function edgeOn(repo: string, name = "widgets"): GitHubEdge {
  return createGitHubEdge({
    owner: "local",
    name,
    bare: repo,
    cloneUrl: `file://${repo}`,
    botLogin: "aura[bot]",
    permissions: {},
    issue: { number: 1, title: "t", body: "b", user: "pat" },
  });
}
