// Local mode's GitHub edge server, as a session serves it: each repository's requests go to that repository's
// edge, a repository it no longer serves is answered 404 as GitHub answers one that is gone, and a route that
// fails (its repository deleted under it) is answered 500 instead of taking the process down.
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { serveGitHubEdges, type EdgeServer } from "../../src/local/edge-server.js";
import { sh, useTempDir } from "../workspace/git-fixture.js";
import { edgeOn } from "./edge-fixture.js";

const temp = useTempDir("aura-edge-server-");
let server: EdgeServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function edgeOf(name: string) {
  const repo = path.join(temp.dir, name);
  sh(temp.dir, "init", "--quiet", "--initial-branch=main", repo);
  writeFileSync(path.join(repo, "README.md"), `# ${name}\n`);
  sh(repo, "add", "-A");
  sh(repo, "commit", "--quiet", "-m", "start");
  const edge = edgeOn(repo, name);
  return { repo, edge };
}

describe("serveGitHubEdges", () => {
  it("routes by repository, answers 404 for one it does not serve and 500 for a route that fails", async () => {
    const one = edgeOf("one");
    const two = edgeOf("two");
    const edges = new Map([
      ["local/one", one.edge],
      ["local/two", two.edge],
    ]);
    server = await serveGitHubEdges((fullName) => (fullName === undefined ? two.edge : edges.get(fullName)));
    const get = async (pathname: string) => {
      const response = await fetch(`http://${server?.host}/api/v3${pathname}`);
      return { status: response.status, json: (await response.json()) as { content?: string; message?: string } };
    };
    const readme = (answer: { json: { content?: string } }) => Buffer.from(answer.json.content ?? "", "base64").toString("utf8");

    expect(readme(await get("/repos/local/one/contents/README.md?ref=main"))).toBe("# one\n");
    expect(readme(await get("/repos/local/two/contents/README.md?ref=main"))).toBe("# two\n");
    expect((await get("/repos/local/three/contents/README.md?ref=main")).status).toBe(404);
    expect(one.edge.requests).toHaveLength(1);
    expect(two.edge.requests).toHaveLength(1);

    // A pull request whose repository is then deleted: reading it fails in git.
    sh(one.repo, "branch", "aura/1-fix");
    const opened = one.edge.respond("POST", new URL("http://edge/repos/local/one/pulls"), { title: "Fix", head: "aura/1-fix", base: "main" });
    rmSync(one.repo, { recursive: true, force: true });
    const failed = await get(`/repos/local/one/pulls/${(opened.json as { number: number }).number}`);
    expect(failed.status).toBe(500);
    expect(failed.json.message).toMatch(/^the local GitHub edge failed: /);
    expect(readme(await get("/repos/local/two/contents/README.md?ref=main"))).toBe("# two\n");
  });
});
