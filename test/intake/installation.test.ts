// Installing the app creates the requirement label in each repository (an existing label is fine) and records
// the installation; uninstalling marks it removed, stops its queued jobs, and later deliveries start nothing.
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GITHUB_API, startHarness, type Harness } from "../helpers/harness.js";
import { examplePayload } from "../helpers/webhooks.js";
import { issuesPayload, INSTALLATION_ID, mockRepository, waitForManager } from "./support.js";

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness();
});

afterAll(async () => {
  await harness.stop();
});

function installationPayload(action: "created" | "deleted", repositories: string[]): Record<string, unknown> {
  const base = examplePayload("installation", action);
  const installation = base.installation as Record<string, unknown>;
  return {
    ...base,
    installation: { ...installation, id: INSTALLATION_ID, account: { ...(installation.account as object), login: "acme" } },
    repositories: repositories.map((full_name, index) => ({ id: 500 + index, full_name, name: full_name.split("/")[1], private: false })),
  };
}

describe("installation events", () => {
  it("creates the requirement label in each repository, accepting one that already exists", async () => {
    mockRepository("acme/one");
    mockRepository("acme/two", { config: "requirementLabel: build-me\n" });
    const labels: { repo: string; name: string }[] = [];
    nock(GITHUB_API)
      .post("/repos/acme/one/labels", (body: { name: string }) => Boolean(labels.push({ repo: "acme/one", name: body.name })))
      .reply(201, { id: 1, name: "aura:requirement" })
      .post("/repos/acme/two/labels", (body: { name: string }) => Boolean(labels.push({ repo: "acme/two", name: body.name })))
      .reply(422, { message: "Validation Failed", errors: [{ resource: "Label", code: "already_exists", field: "name" }] });

    await harness.deliver("installation", installationPayload("created", ["acme/one", "acme/two"]));
    await waitForManager(harness.db);

    expect(labels).toEqual([
      { repo: "acme/one", name: "aura:requirement" },
      { repo: "acme/two", name: "build-me" },
    ]);
    const { rows } = await harness.db.pool.query<{ account: string; removed: boolean }>(
      "SELECT account, removed_at IS NOT NULL AS removed FROM installations WHERE id = $1",
      [INSTALLATION_ID],
    );
    expect(rows).toEqual([{ account: "acme", removed: false }]);
  });

  it("marks the installation removed, stops its queued jobs, and ignores its later deliveries", async () => {
    await harness.db.pool.query("SELECT graphile_worker.add_job('requirement.intake', $1::json, job_key => 'requirement:acme/one#99', run_at => now() + interval '1 hour')", [
      JSON.stringify({ installationId: INSTALLATION_ID, repo: "acme/one", issueNumber: 99 }),
    ]);

    await harness.deliver("installation", installationPayload("deleted", []));
    await waitForManager(harness.db);
    await harness.deliver("issues", issuesPayload("labeled", { repo: "acme/one", issue: 5 }));
    await waitForManager(harness.db);

    const installation = await harness.db.pool.query<{ removed: boolean }>("SELECT removed_at IS NOT NULL AS removed FROM installations WHERE id = $1", [INSTALLATION_ID]);
    expect(installation.rows[0]?.removed).toBe(true);
    const jobs = await harness.db.pool.query("SELECT 1 FROM graphile_worker._private_jobs WHERE key = 'requirement:acme/one#99'");
    expect(jobs.rowCount).toBe(0);
    const delivery = await harness.db.pool.query<{ error: string }>("SELECT error FROM webhook_deliveries WHERE event = 'issues' AND repository = 'acme/one'");
    expect(delivery.rows.map((row) => row.error)).toEqual(["the installation was removed"]);
  });
});
