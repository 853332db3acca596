// Installing the app creates the requirement label in each repository (an existing label is fine) and records
// the installation; uninstalling marks it removed, stops its queued jobs, and later deliveries start nothing.
// A deleted or renamed requirement label is created again.
import nock from "nock";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enqueue } from "../../src/queue/enqueue.js";
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

function labelPayload(action: "deleted" | "edited", repo: string, name: string, from?: string): Record<string, unknown> {
  const base = examplePayload("label", action);
  return {
    ...base,
    label: { ...(base.label as object), name },
    changes: from === undefined ? {} : { name: { from } },
    repository: { ...(base.repository as object), full_name: repo, name: repo.split("/")[1], owner: { login: repo.split("/")[0] } },
    installation: { id: INSTALLATION_ID, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg==" },
    sender: { ...(base.sender as object), login: "someone" },
  };
}

describe("label events", () => {
  it("creates the requirement label again when someone deletes it, and records who did", async () => {
    mockRepository("acme/labels");
    const created: string[] = [];
    nock(GITHUB_API)
      .post("/repos/acme/labels/labels", (body: { name: string }) => Boolean(created.push(body.name)))
      .reply(201, { id: 2, name: "aura:requirement" });

    await harness.deliver("label", labelPayload("deleted", "acme/labels", "aura:requirement"));
    await waitForManager(harness.db);

    expect(created).toEqual(["aura:requirement"]);
    const audit = await harness.db.pool.query<{ payload: { label: string; removedBy: string } }>(
      "SELECT payload FROM audit.events WHERE action = 'requirement_label.recreated' AND subject = 'acme/labels'",
    );
    expect(audit.rows.map((row) => [row.payload.label, row.payload.removedBy])).toEqual([["aura:requirement", "someone"]]);
  });

  it("creates it again after a rename, and leaves other labels alone", async () => {
    mockRepository("acme/renamed", { config: "requirementLabel: build-me\n" });
    const created: string[] = [];
    nock(GITHUB_API)
      .post("/repos/acme/renamed/labels", (body: { name: string }) => Boolean(created.push(body.name)))
      .reply(201, { id: 3, name: "build-me" });

    await harness.deliver("label", labelPayload("deleted", "acme/renamed", "bug"));
    await waitForManager(harness.db);
    await harness.deliver("label", labelPayload("edited", "acme/renamed", "build-later", "Build-Me"));
    await waitForManager(harness.db);

    expect(created).toEqual(["build-me"]);
    const pending = await harness.db.pool.query("SELECT 1 FROM webhook_deliveries WHERE event = 'label' AND processed_at IS NULL");
    expect(pending.rowCount).toBe(0);
  });
});

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

  it("cancels the unfinished requirements of a repository removed from the installation", async () => {
    const { rows } = await harness.db.pool.query<{ id: number }>(
      `INSERT INTO requirements (installation_id, repo, issue_number, title, state, plan_revision)
       VALUES ($1, 'acme/gone', 12, 'Left behind', 'in_progress', 1), ($1, 'acme/stays', 13, 'Still here', 'in_progress', 1) RETURNING id`,
      [INSTALLATION_ID],
    );
    const base = examplePayload("installation_repositories", "removed");

    await harness.deliver("installation_repositories", {
      ...base,
      installation: { ...(base.installation as object), id: INSTALLATION_ID },
      repositories_removed: [{ id: 900, full_name: "acme/gone", name: "gone", private: false }],
    });
    await waitForManager(harness.db);

    const states = await harness.db.pool.query<{ repo: string; state: string }>(
      "SELECT repo, state FROM requirements WHERE id = ANY($1::bigint[]) ORDER BY repo",
      [rows.map((row) => row.id)],
    );
    expect(states.rows).toEqual([
      { repo: "acme/gone", state: "cancelled" },
      { repo: "acme/stays", state: "in_progress" },
    ]);
    const audit = await harness.db.pool.query<{ payload: { repositories: string[] } }>(
      "SELECT payload FROM audit.events WHERE action = 'installation.repositories_removed'",
    );
    expect(audit.rows.map((row) => row.payload.repositories)).toEqual([["acme/gone"]]);
  });

  it("marks the installation removed, stops its queued jobs, and ignores its later deliveries", async () => {
    await enqueue(
      harness.db.pool,
      "requirement.intake",
      { installationId: INSTALLATION_ID, repo: "acme/one", issueNumber: 99 },
      { runAt: new Date(Date.now() + 3_600_000) },
    );

    await harness.deliver("installation", installationPayload("deleted", []));
    await waitForManager(harness.db);
    await harness.deliver("issues", issuesPayload("labeled", { repo: "acme/one", issue: 5 }));
    await waitForManager(harness.db);

    const installation = await harness.db.pool.query<{ removed: boolean }>("SELECT removed_at IS NOT NULL AS removed FROM installations WHERE id = $1", [
      INSTALLATION_ID,
    ]);
    expect(installation.rows[0]?.removed).toBe(true);
    const jobs = await harness.db.pool.query("SELECT 1 FROM graphile_worker.jobs WHERE key = 'requirement:acme/one#99'");
    expect(jobs.rowCount).toBe(0);
    const delivery = await harness.db.pool.query<{ error: string }>("SELECT error FROM webhook_deliveries WHERE event = 'issues' AND repository = 'acme/one'");
    expect(delivery.rows.map((row) => row.error)).toEqual(["the installation was removed"]);
  });
});
