// Who may start a requirement: a read-only labeler gets one polite comment per issue, ever, and an audit event
// each time; a bot gets no comment at all (bots do not read replies, and two bots answering each other loop), only
// the audit event; other labels are ignored; an invalid `.github/aura.yml` gets a clear comment, except to a bot.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { clearPermissionCache } from "../../src/github/permissions.js";
import { startHarness, type Harness } from "../helpers/harness.js";
import { auditActions, issuesPayload, mockPermission, mockRepository, requirementOf, scriptedModels, waitForManager } from "./support.js";

const models = scriptedModels();
let harness: Harness;

beforeAll(async () => {
  harness = await startHarness({ env: { OPENAI_API_KEY: "sk-test" }, modelOverride: models.override });
});

afterAll(async () => {
  await harness.stop();
});

beforeEach(() => {
  clearPermissionCache();
});

describe("who may start a requirement", () => {
  it("refuses a read-only labeler once with a comment, and audits every attempt", async () => {
    const repo = "acme/r1";
    const github = mockRepository(repo);
    mockPermission(repo, "visitor", "read");
    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 3, sender: "visitor" }));
    await waitForManager(harness.db);
    clearPermissionCache();
    mockPermission(repo, "visitor", "read");

    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 3, sender: "visitor" }));
    await waitForManager(harness.db);

    expect(await requirementOf(harness.db, repo, 3)).toBeUndefined();
    expect(github.created).toHaveLength(1);
    expect(github.edited).toHaveLength(0);
    expect(github.created[0]?.body).toContain("@visitor");
    expect(github.created[0]?.body).toContain("triage, write, maintain or admin");
    expect(github.created[0]?.body).toContain("`read`");
    const refused = (await auditActions(harness.db, `${repo}#3`)).filter((event) => event.action === "requirement.refused");
    expect(refused.map((event) => event.payload.commented)).toEqual([true, false]);
    expect(models.calls).toHaveLength(0);
  });

  it("refuses a bot's label silently: no permission lookup, no comment, one audit event per attempt", async () => {
    const repo = "acme/r2";
    const github = mockRepository(repo);

    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 4, sender: "renovate[bot]", senderType: "Bot" }));
    await waitForManager(harness.db);
    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 4, sender: "renovate[bot]", senderType: "Bot" }));
    await waitForManager(harness.db);

    expect(await requirementOf(harness.db, repo, 4)).toBeUndefined();
    expect(github.created).toHaveLength(0);
    expect(github.edited).toHaveLength(0);
    const refused = await harness.db.pool.query<{ actor: string; payload: Record<string, unknown> }>(
      "SELECT actor, payload FROM audit.events WHERE subject = $1 AND action = 'requirement.refused' ORDER BY seq",
      [`${repo}#4`],
    );
    expect(refused.rows.map((event) => [event.actor, event.payload.reason, event.payload.commented])).toEqual([
      ["renovate[bot]", "bot", false],
      ["renovate[bot]", "bot", false],
    ]);
    const { rows } = await harness.db.pool.query<{ error: string }>("SELECT error FROM webhook_deliveries WHERE repository = $1 ORDER BY received_at", [repo]);
    expect(rows.map((row) => row.error)).toEqual(["refused: bot sender", "refused: bot sender"]);
  });

  it("does not explain an invalid .github/aura.yml to a bot either; the refusal is audited", async () => {
    const repo = "acme/r6";
    const github = mockRepository(repo, { config: "maxTask: 3\n" });

    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 8, sender: "dependabot[bot]", senderType: "Bot" }));
    await waitForManager(harness.db);

    expect(github.created).toHaveLength(0);
    const events = await auditActions(harness.db, `${repo}#8`);
    expect(events.map((event) => [event.action, event.payload.reason])).toEqual([["requirement.refused", "bot"]]);
  });

  it("ignores other labels, and uses the label named in the repository config", async () => {
    const repo = "acme/r3";
    const github = mockRepository(repo, { config: "requirementLabel: build-me\n" });

    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 5, label: "aura:requirement" }));
    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 5, label: "bug" }));
    await waitForManager(harness.db);

    expect(await requirementOf(harness.db, repo, 5)).toBeUndefined();
    expect(github.created).toHaveLength(0);
    expect(await auditActions(harness.db, `${repo}#5`)).toEqual([]);
  });

  it("explains an invalid .github/aura.yml on the issue, once per distinct error, and starts nothing", async () => {
    const repo = "acme/r4";
    const github = mockRepository(repo, { config: "maxTask: 3\n" });

    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 6 }));
    await waitForManager(harness.db);
    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 6 }));
    await waitForManager(harness.db);

    expect(await requirementOf(harness.db, repo, 6)).toBeUndefined();
    expect(github.created).toHaveLength(1);
    expect(github.created[0]?.body).toContain(".github/aura.yml");
    expect(github.created[0]?.body).toContain("maxTask");
    expect(github.created[0]?.body).toContain('did you mean "maxTasks"');
    expect(github.created[0]?.body).toContain("remove the `aura:requirement` label and add it again");
    const invalid = (await auditActions(harness.db, `${repo}#6`)).filter((event) => event.action === "repo_config.invalid");
    expect(invalid).toHaveLength(2);
  });

  it("does not comment about an invalid config when an unrelated label is added", async () => {
    const repo = "acme/r5";
    const github = mockRepository(repo, { config: "maxTask: 3\n" });

    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 7, label: "good first issue" }));
    await waitForManager(harness.db);

    expect(github.created).toHaveLength(0);
    const { rows } = await harness.db.pool.query<{ error: string }>("SELECT error FROM webhook_deliveries WHERE repository = $1 AND processed_at IS NOT NULL", [
      repo,
    ]);
    expect(rows.map((row) => row.error)).toEqual(["repository config invalid; label not recognisable"]);
  });
});
