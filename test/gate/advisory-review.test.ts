// The advisory LLM review (issue 5 item 6) end to end: after the Auditor's evidence review, the configured
// `auditor.reviewer` (another employee than the author) reads the diff through the real Gemini SDK (HTTP faked by
// nock) and one separate COMMENT review marked "Advisory — does not gate" is posted per head SHA, charged to the
// requirement's budget. A reviewer who is the author, or a model that only returns garbage, posts nothing and
// never fails the audit job or changes `aura/hnsc`. A review post GitHub applies but answers 502 is not posted again.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { runAdvisoryReview } from "../../src/auditor/advisory-review.js";
import { mockInstallationTokens, unthrottledGitHub } from "../helpers/harness.js";
import { testServices } from "../helpers/services.js";
import { geminiReply } from "../employees/provider-fixtures.js";
import { INSTALLATION_ID, mockRepoConfig, mockWrites, pullDelivery, REPO, useGateHarness } from "./gate-fixture.js";

const GEMINI = "https://gemini.gateway.test";
const GEMINI_PATH = "/v1beta/models/gemini-2.5-flash:generateContent";
const ADVISORY = "Advisory — does not gate";

const gate = useGateHarness({ harness: { env: { GEMINI_API_KEY: "gm-test", GEMINI_BASE_URL: GEMINI } }, tempPrefix: "aura-advisory-" });

/** An agent PR by `gpt-4.1-mini` (the seeded assignment) whose tests pass. */
async function agentPull(number: number, reviewer: string) {
  mockRepoConfig(`test: sh test.sh\nauditor:\n  reviewer: ${reviewer}\n`);
  const branch = `aura/${number}-advisory`;
  const files = { "src/app.js": `export const answer = ${number};\n` };
  const { headSha, pull, taskId, mockReads } = await gate.pushAgentPull({ number, branch, files, claim: { exitCode: 0, passed: 3, failed: 0, total: 3 } });
  mockReads();
  return { headSha, pull, taskId };
}

/** Scripted Gemini replies; records the prompt text of each call. */
function geminiReplies(texts: string[]): { prompts: string[] } {
  const prompts: string[] = [];
  const scope = nock(GEMINI).matchHeader("x-goog-api-key", "gm-test");
  for (const text of texts) {
    scope
      .post(GEMINI_PATH, (body: { contents: { parts: { text: string }[] }[] }) => {
        prompts.push(body.contents.flatMap((content) => content.parts.map((part) => part.text)).join("\n"));
        return true;
      })
      .reply(200, geminiReply(text));
  }
  return { prompts };
}

async function auditEvents(action: string, sha: string): Promise<Record<string, unknown>[]> {
  const { rows } = await gate.harness.db.pool.query<{ payload: Record<string, unknown> }>(
    "SELECT payload FROM audit.events WHERE action = $1 AND payload->>'headSha' = $2 ORDER BY seq",
    [action, sha],
  );
  return rows.map((row) => row.payload);
}

const reviewsOf = (sha: string) => gate.github.reviews.filter((review) => review.commit_id === sha);

describe("an advisory reviewer other than the author", () => {
  it("posts one separate COMMENT review marked advisory per head SHA, charged to the budget, never gating", async () => {
    const { headSha, pull } = await agentPull(31, "gemini-2.5-flash");
    const findings = {
      summary: "The change updates the constant; no tests cover the new value.",
      findings: [{ path: "src/app.js", line: 1, severity: "minor", message: "Add a test that pins the new answer." }],
    };
    const gemini = geminiReplies([JSON.stringify(findings)]);

    await gate.harness.deliver("pull_request", pullDelivery("opened", pull));
    await gate.harness.waitForIdle(90_000);
    await gate.harness.deliver("pull_request", pullDelivery("synchronize", pull));
    await gate.harness.waitForIdle(90_000);

    const reviews = reviewsOf(headSha);
    const advisory = reviews.filter((review) => review.body.includes(ADVISORY));
    expect(reviews).toHaveLength(2);
    expect(advisory).toHaveLength(1);
    expect(advisory[0]?.event).toBe("COMMENT");
    expect(advisory[0]?.body).toContain("`src/app.js:1` | Add a test that pins the new answer.");
    expect(advisory[0]?.body).toContain("`gpt-4.1-mini`");
    expect(gemini.prompts).toHaveLength(1);
    expect(gemini.prompts[0]).toContain("+export const answer = 31;");
    expect(gate.github.statuses.filter((status) => status.sha === headSha).at(-1)).toMatchObject({
      state: "success",
      description: "HNSC passed: 8 of 8 rules",
    });
    const spend = await gate.harness.db.pool.query<{ employee_id: string; state: string; usd: number }>(
      "SELECT employee_id, state, usd::float8 AS usd FROM model_spend WHERE purpose = 'advisory-review'",
    );
    expect(spend.rows).toEqual([{ employee_id: "gemini-2.5-flash", state: "settled", usd: expect.any(Number) as number }]);
    expect(spend.rows[0]?.usd).toBeGreaterThan(0);
    expect(await auditEvents("auditor.advisory.posted", headSha)).toHaveLength(1);
    expect(await auditEvents("auditor.advisory.failed", headSha)).toEqual([]);
    expect(await auditEvents("auditor.advisory.error", headSha)).toEqual([]);
  }, 180_000);
});

describe("the advisory review's reservation", () => {
  it("names the audit job's attempt that holds it, as the work loop's do, so a killed attempt's reservation is released on retry", async () => {
    const { headSha, pull } = await agentPull(35, "gemini-2.5-flash");
    geminiReplies([JSON.stringify({ summary: "Fine.", findings: [] })]);

    await gate.harness.deliver("pull_request", pullDelivery("opened", pull));
    await gate.harness.waitForIdle(90_000);

    expect(await auditEvents("auditor.advisory.posted", headSha)).toHaveLength(1);
    const spend = await gate.harness.db.pool.query<{ job_id: string | number | null; job_attempt: number | null }>(
      "SELECT job_id, job_attempt FROM model_spend WHERE purpose = 'advisory-review' AND task_id IN (SELECT id FROM tasks WHERE pr_number = 35)",
    );
    expect(spend.rows).toHaveLength(1);
    expect(String(spend.rows[0]?.job_id)).toMatch(/^[1-9]\d*$/);
    expect(spend.rows[0]?.job_attempt).toBe(1);
  }, 120_000);
});

describe("an advisory review that cannot be given", () => {
  it("is skipped when the reviewer is the PR's author: no model call, no review, an audit event", async () => {
    const { headSha, pull } = await agentPull(32, "gpt-4.1-mini");

    await gate.harness.deliver("pull_request", pullDelivery("opened", pull));
    await gate.harness.waitForIdle(90_000);

    expect(reviewsOf(headSha)).toHaveLength(1);
    expect(reviewsOf(headSha)[0]?.body).not.toContain(ADVISORY);
    const skipped = await auditEvents("auditor.advisory.skipped", headSha);
    expect(skipped).toHaveLength(1);
    expect(String(skipped[0]?.detail)).toContain("is the author of this pull request");
  }, 120_000);

  it("posts nothing when the model returns garbage after the re-asks, and the audit job and the gate are unaffected", async () => {
    const { headSha, pull } = await agentPull(33, "gemini-2.5-flash");
    const gemini = geminiReplies(["I think it looks fine!", '{"summary": 3}', "still not the schema"]);

    await gate.harness.deliver("pull_request", pullDelivery("opened", pull));
    await gate.harness.waitForIdle(90_000);

    expect(gemini.prompts).toHaveLength(3);
    expect(reviewsOf(headSha)).toHaveLength(1);
    expect(reviewsOf(headSha)[0]?.body).not.toContain(ADVISORY);
    expect(gate.github.statuses.filter((status) => status.sha === headSha).at(-1)?.state).toBe("success");
    const failed = await auditEvents("auditor.advisory.failed", headSha);
    expect(failed).toHaveLength(1);
    expect(String(failed[0]?.detail)).toContain("invalid_output");
  }, 120_000);
});

describe("two audit jobs of the same head at the same time", () => {
  it("pay the reviewer once and post one advisory review", async () => {
    const { headSha } = await agentPull(34, "gemini-2.5-flash");
    const services = testServices(gate.harness.db, { env: { GEMINI_API_KEY: "gm-test", GEMINI_BASE_URL: GEMINI } });
    const at = { installationId: INSTALLATION_ID, repo: REPO, pullNumber: 34, headSha };
    const reply = geminiReply(JSON.stringify({ summary: "Fine.", findings: [] }));
    // The first model call is held until the other job has either called the model too or given up, so
    // both jobs are inside the review at once whatever the scheduling.
    let open = (): void => undefined;
    const bothInside = new Promise<void>((resolve) => {
      open = resolve;
    });
    let calls = 0;
    const scope = nock(GEMINI).matchHeader("x-goog-api-key", "gm-test");
    scope.post(GEMINI_PATH).reply(200, async () => {
      calls += 1;
      await bothInside;
      return reply;
    });
    scope
      .post(GEMINI_PATH)
      .optionally()
      .reply(200, () => {
        calls += 1;
        open();
        return reply;
      });

    const outcomes = await Promise.all([runAdvisoryReview(services, at).finally(open), runAdvisoryReview(services, at).finally(open)]);

    expect(calls).toBe(1);
    expect(reviewsOf(headSha).filter((review) => review.body.includes(ADVISORY))).toHaveLength(1);
    expect(outcomes.map((outcome) => outcome.kind).sort()).toEqual(["none", "posted"]);
    const spend = await gate.harness.db.pool.query(
      "SELECT 1 FROM model_spend WHERE purpose = 'advisory-review' AND task_id IN (SELECT id FROM tasks WHERE pr_number = 34)",
    );
    expect(spend.rows).toHaveLength(1);
  }, 120_000);
});

describe("an advisory review post that GitHub applied but answered 502", () => {
  it("is found by its marker and not posted again; the review is settled as posted, the model paid once", async () => {
    nock.cleanAll();
    mockInstallationTokens();
    gate.github = mockWrites({ appliedThen502: { reviewOn: 36 } });
    const { headSha } = await agentPull(36, "gemini-2.5-flash");
    const gemini = geminiReplies([JSON.stringify({ summary: "Fine.", findings: [] })]);
    const services = { ...testServices(gate.harness.db, { env: { GEMINI_API_KEY: "gm-test", GEMINI_BASE_URL: GEMINI } }), github: unthrottledGitHub() };
    const at = { installationId: INSTALLATION_ID, repo: REPO, pullNumber: 36, headSha };

    const outcome = await runAdvisoryReview(services, at);

    expect(outcome).toMatchObject({ kind: "posted", reviewId: 7000, findings: 0 });
    const advisory = reviewsOf(headSha).filter((review) => review.body.includes(ADVISORY));
    expect(advisory).toHaveLength(1);
    expect(advisory[0]?.body).toContain(`<!-- aura:advisory sha=${headSha} -->`);
    expect(gemini.prompts).toHaveLength(1);
    const posted = await auditEvents("auditor.advisory.posted", headSha);
    expect(posted.map((event) => event.reviewId)).toEqual([7000]);
  }, 120_000);
});
