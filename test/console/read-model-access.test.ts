// Who sees a repository in the console and through MCP (src/console/access.ts): its directors, decided as the
// `/aura` commands decide (admin or maintain; or listed under `directors:` in .github/aura.yml with write), at
// each use; an installation the app was removed from shows nothing, and a GitHub error never widens the view.
import nock from "nock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { visibleRepositories } from "../../src/console/access.js";
import type { Services } from "../../src/services.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { clearPermissionCache } from "../../src/github/permissions.js";
import { GITHUB_API, resetGitHub, setUp } from "../helpers/harness.js";
import { insertRequirement, testServices } from "../helpers/services.js";

let database: TestDatabase | undefined;
let services: Services | undefined;
const svc = () => setUp(services, "services are created in beforeAll");

beforeAll(async () => {
  database = await createTestDatabase();
  services = testServices(database);
  await insertRequirement(database, { installationId: 1, repo: "octo-org/admin-repo", issueNumber: 1, tasks: [] });
  await insertRequirement(database, { installationId: 1, repo: "octo-org/maintain-repo", issueNumber: 1, tasks: [] });
  await insertRequirement(database, { installationId: 1, repo: "octo-org/listed-writer", issueNumber: 1, tasks: [] });
  await insertRequirement(database, { installationId: 1, repo: "octo-org/listed-reader", issueNumber: 1, tasks: [] });
  await insertRequirement(database, { installationId: 1, repo: "octo-org/writer-only", issueNumber: 1, tasks: [] });
  await insertRequirement(database, { installationId: 1, repo: "octo-org/broken", issueNumber: 1, tasks: [] });
  await insertRequirement(database, { installationId: 3, repo: "gone-org/admin-repo", issueNumber: 1, tasks: [] });
  await database.pool.query("UPDATE installations SET removed_at = now() WHERE id = 3");
});
afterAll(async () => {
  await database?.drop();
});

const ROLES: Record<string, string> = {
  "octo-org/admin-repo": "admin",
  "octo-org/maintain-repo": "maintain",
  "octo-org/listed-writer": "write",
  "octo-org/listed-reader": "read",
  "octo-org/writer-only": "write",
  "gone-org/admin-repo": "admin",
};
const LISTED = ["octo-org/listed-writer", "octo-org/listed-reader"];
let demoted = false;
/** The repositories whose .github/aura.yml was read, in order. */
const configReads: string[] = [];

beforeEach(() => {
  resetGitHub();
  nock(GITHUB_API)
    .persist()
    .get(/^\/repos\/([^/]+\/[^/]+)\/collaborators\/([^/]+)\/permission$/)
    .optionally()
    .reply((uri) => {
      const [, repo = "", user = ""] = /^\/repos\/([^/]+\/[^/]+)\/collaborators\/([^/]+)\//.exec(uri) ?? [];
      if (repo === "octo-org/broken") return [403, { message: "Resource not accessible by integration" }];
      const role = user === "octocat" && !(demoted && repo === "octo-org/admin-repo") ? ROLES[repo] : undefined;
      return role ? [200, { permission: role, role_name: role }] : [404, { message: "Not Found" }];
    })
    .get(/^\/repos\/([^/]+\/[^/]+)\/contents\//)
    .optionally()
    .reply((uri) => {
      const repo = /^\/repos\/([^/]+\/[^/]+)\//.exec(uri)?.[1] ?? "";
      configReads.push(repo);
      if (!LISTED.includes(repo)) return [404, { message: "Not Found" }];
      return [200, { type: "file", encoding: "base64", content: Buffer.from("directors: [OctoCat]\n").toString("base64") }];
    });
});

describe("visibleRepositories", () => {
  it("is the repositories the person directs, by permission or by the config's directors list with write", async () => {
    const visible = await visibleRepositories(svc(), "octocat");

    expect(visible).toEqual([
      { installationId: 1, repo: "octo-org/admin-repo" },
      { installationId: 1, repo: "octo-org/listed-writer" },
      { installationId: 1, repo: "octo-org/maintain-repo" },
    ]);
  });

  it("reads a repository's .github/aura.yml only where the permission alone does not decide (write)", async () => {
    clearPermissionCache();
    configReads.length = 0;

    await visibleRepositories(svc(), "octocat");

    expect(configReads.sort()).toEqual(["octo-org/listed-writer", "octo-org/writer-only"]);
  });

  it("is empty for a stranger (not a collaborator anywhere)", async () => {
    expect(await visibleRepositories(svc(), "hubot")).toEqual([]);
  });

  it("is decided at each use: a person who loses the role loses the view once GitHub's answer is no longer cached", async () => {
    const before = await visibleRepositories(svc(), "octocat");
    demoted = true;
    clearPermissionCache();

    const after = await visibleRepositories(svc(), "octocat");
    demoted = false;

    expect(before.map((entry) => entry.repo)).toContain("octo-org/admin-repo");
    expect(after.map((entry) => entry.repo)).not.toContain("octo-org/admin-repo");
  });
});
