// Strikes at close are read from the closed agent PR's own verdict (issue 12, point 1): another pull request at
// the same commit, judged later as "not governed" (an outsider's fork), must not wipe out the rules it failed.
import { describe, expect, it } from "vitest";
import { closedPayload, DIRECTOR, mockStatusComments, REPO, seedAgentTask, useDirectorHarness } from "./fixtures.js";

const e2e = useDirectorHarness({ permissions: { [DIRECTOR]: "admin" } });

describe("an agent PR rejected while a fork's PR has the same head", () => {
  it("still strikes the rules the agent PR's own verdict failed", async () => {
    mockStatusComments();
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", installationId: 778 });
    const headSha = "d".repeat(40);
    const rules = [
      { ruleId: "protected-paths", kind: "protected-paths", severity: "major", state: "fail", summary: "edited .github/workflows", findings: [], notes: [] },
    ];
    await e2e.harness.db.pool.query(
      `INSERT INTO governor_verdicts (installation_id, repo, pull_number, head_sha, pack_revision, conclusion, description, governed, agent, rules)
       VALUES (778, $1, $2, $3, 'rev', 'failure', 'HNSC failed: protected-paths', true, true, $4)`,
      [REPO, task.prNumber, headSha, JSON.stringify(rules)],
    );
    // The outsider's PR at the same commit, judged afterwards: the most recent verdict for that SHA.
    await e2e.harness.db.pool.query(
      `INSERT INTO governor_verdicts (installation_id, repo, pull_number, head_sha, pack_revision, conclusion, description, governed, rules)
       VALUES (778, $1, $2, $3, 'not-governed', 'success', 'not governed by Aura', false, '[]')`,
      [REPO, task.prNumber + 1, headSha],
    );

    await e2e.harness.deliver(
      "pull_request",
      closedPayload(task, { merged: false, by: DIRECTOR, headSha, installationId: 778, closedAt: new Date().toISOString() }),
    );
    await e2e.harness.waitForIdle();

    const strikes = await e2e.harness.db.pool.query("SELECT employee_id, rule_id, pull_request FROM strike_ledger WHERE installation_id = 778");
    expect(strikes.rows).toEqual([{ employee_id: "gpt-4.1-mini", rule_id: "protected-paths", pull_request: `${REPO}#${task.prNumber}` }]);
  });
});
