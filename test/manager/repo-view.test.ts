// The planner's view of a repository is read with its independent reads side by side (each is a round trip to
// GitHub): the tree with the README, then the manifests the tree lists with each other. Each reply here waits
// until its sibling request has arrived, so reads made one after another never finish (the test fails on its
// own deadline, naming what did not arrive); 404s stay absences.
import nock from "nock";
import { ProbotOctokit } from "probot";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readRepoView } from "../../src/manager/repo-view.js";

const API = "https://api.github.com";
const REPO = "/repos/octo/widgets";

function arrival() {
  let arrived!: () => void;
  const promise = new Promise<void>((resolve) => (arrived = resolve));
  return { promise, arrived };
}

const file = (text: string) => ({ type: "file", encoding: "base64", size: text.length, content: Buffer.from(text).toString("base64") });

beforeEach(() => nock.disableNetConnect());
afterEach(() => nock.cleanAll());

describe("readRepoView", () => {
  it("reads the tree with the README, and the manifests with each other", async () => {
    const [tree, readme, pkg, cargo] = [arrival(), arrival(), arrival(), arrival()];
    const both = (a: Promise<void>, b: Promise<void>, what: string) =>
      Promise.race([Promise.all([a, b]), new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} were not read side by side`)), 3000))]);
    const scope = nock(API)
      .get(`${REPO}/git/trees/main`)
      .query({ recursive: "1" })
      .reply(async () => {
        tree.arrived();
        await both(tree.promise, readme.promise, "the tree and the README");
        const paths = ["README.md", "package.json", "Cargo.toml", "src/lib.rs"];
        return [200, { sha: "a".repeat(40), truncated: false, tree: paths.map((path) => ({ path, type: "blob", size: 30 })) }];
      })
      .get(`${REPO}/readme`)
      .query({ ref: "main" })
      .reply(async () => {
        readme.arrived();
        await both(tree.promise, readme.promise, "the tree and the README");
        return [200, file("# Widgets\n")];
      })
      .get(`${REPO}/contents/package.json`)
      .query({ ref: "main" })
      .reply(async () => {
        pkg.arrived();
        await both(pkg.promise, cargo.promise, "the manifests");
        return [200, file('{"name":"widgets"}')];
      })
      .get(`${REPO}/contents/Cargo.toml`)
      .query({ ref: "main" })
      .reply(async () => {
        cargo.arrived();
        await both(pkg.promise, cargo.promise, "the manifests");
        return [404, { message: "Not Found" }];
      });
    const octokit = new ProbotOctokit({ auth: { token: "ghs_test" }, throttle: { enabled: false }, retry: { enabled: false } });

    const view = await readRepoView(octokit, { owner: "octo", repo: "widgets", ref: "main" });

    expect(view).toEqual({
      fileTree: ["Cargo.toml", "README.md", "package.json", "src/lib.rs"],
      readme: "# Widgets\n",
      manifests: [{ path: "package.json", content: '{"name":"widgets"}' }],
      treeTruncated: false,
    });
    expect(scope.isDone()).toBe(true);
  });
});
