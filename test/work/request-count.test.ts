// Issue 4 item 11: the whole requirement of one task, from the `issues.labeled` delivery to the draft PR,
// makes at most 15 GitHub API requests. A count, not a time, so a redundant read fails CI wherever it runs.
import nock from "nock";
import { beforeEach, expect, it } from "vitest";
import { clearPermissionCache } from "../../src/github/permissions.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { scriptedCompany } from "../e2e/pipeline-fixture.js";
import { useHarness } from "../helpers/harness.js";
import { useTempDir } from "../workspace/git-fixture.js";
import { runLabelToPull, summarise } from "./label-to-pull.js";

const MAX_REQUESTS = 15;

const company = scriptedCompany();
const temp = useTempDir("aura-request-count-");
const started = useHarness({
  // Without bubblewrap the run is unsandboxed (and says so): the count is the same either way.
  env: { OPENAI_API_KEY: "sk-test-not-used", AURA_ALLOW_UNSANDBOXED: probeBwrap().ok ? "false" : "true" },
  modelOverride: company.override,
});

beforeEach(() => {
  // The flow answers installation tokens itself (and counts them).
  nock.cleanAll();
  clearPermissionCache();
});

it(`takes a labelled one-task requirement to its draft PR in at most ${MAX_REQUESTS} GitHub requests`, async () => {
  const run = await runLabelToPull(started.harness.aura, started.harness.db.pool, { parent: temp.dir, name: "widgets", installationId: 7301 });

  // It did get there: one draft PR for the task's branch, and the status comment shows it.
  expect(run.github.count("POST", /\/pulls$/)).toBe(1);
  expect([...run.github.pulls.values()]).toMatchObject([{ draft: true, head: "aura/42-fix-add", base: "main", state: "open" }]);
  expect(run.github.unhandled).toEqual([]);
  expect(run.requests.length, summarise(run.requests).join("\n")).toBeLessThanOrEqual(MAX_REQUESTS);
  // Nothing is read twice: the same file, issue, tree or permission is fetched once per requirement.
  const reads = run.requests.filter((request) => request.method === "GET").map((request) => request.route);
  expect(reads.filter((route, index) => reads.indexOf(route) !== index)).toEqual([]);
}, 60_000);
