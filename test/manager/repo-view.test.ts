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

type Arrival = { promise: Promise<void>; arrived: () => void };

function arrival(): Arrival {
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
    // A reply that first marks its request arrived, then waits for its sibling's (or fails naming the pair).
    const heldReply = (self: Arrival, sibling: Arrival, what: string, answer: [number, unknown]) => async () => {
      self.arrived();
      await Promise.race([
        Promise.all([self.promise, sibling.promise]),
        new Promise((_, reject) => setTimeout(() => reject(new Error(`${what} were not read side by side`)), 3000)),
      ]);
      return answer;
    };
    const paths = ["README.md", "package.json", "Cargo.toml", "src/lib.rs"];
    const listing = { sha: "a".repeat(40), truncated: false, tree: paths.map((path) => ({ path, type: "blob", size: 30 })) };
    const scope = nock(API)
      .get(`${REPO}/git/trees/main`)
      .query({ recursive: "1" })
      .reply(heldReply(tree, readme, "the tree and the README", [200, listing]))
      .get(`${REPO}/readme`)
      .query({ ref: "main" })
      .reply(heldReply(readme, tree, "the tree and the README", [200, file("# Widgets\n")]))
      .get(`${REPO}/contents/package.json`)
      .query({ ref: "main" })
      .reply(heldReply(pkg, cargo, "the manifests", [200, file('{"name":"widgets"}')]))
      .get(`${REPO}/contents/Cargo.toml`)
      .query({ ref: "main" })
      .reply(heldReply(cargo, pkg, "the manifests", [404, { message: "Not Found" }]));
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
