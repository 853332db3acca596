// Authority that matches scope, and tenancy: brakes (`halt`, `suspend`) may be used by a director of any one
// repository of the installation; releases that widen work across it (`resume`, `reinstate`) need a director of
// every repository with Aura work. One installation's outcomes never reach another's scoreboard or routing.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { loadPosteriors } from "../../src/accountant/posteriors.js";
import { isHalted } from "../../src/queue/halt.js";
import { buildScoreboardInput } from "../../src/director/scoreboard-comment.js";
import { GITHUB_API } from "../helpers/harness.js";
import { auditActions, closedPayload, commentPayload, DIRECTOR, INSTALLATION, OWNER, seedAgentTask, testServices, useDirectorHarness } from "./fixtures.js";

const OTHER_REPO = `${OWNER}/gadgets`;
const THIRD_REPO = `${OWNER}/sprockets`;

const e2e = useDirectorHarness({ permissions: { [DIRECTOR]: "maintain" }, statusComments: true, replies: true });

const OTHER_STATUS_COMMENT_ID = 9002;

/** The other repository's config (absent), the director's permission there, and its status comments. */
function mockOtherRepo(repo: string, permission: string, options: { reachable?: boolean } = {}): void {
  const reachable = options.reachable ?? true;
  nock(GITHUB_API)
    .persist()
    .get(`/repos/${repo}`)
    .optionally()
    .reply(reachable ? 200 : 404, reachable ? { full_name: repo } : { message: "Not Found" });
  nock(GITHUB_API).persist().patch(`/repos/${repo}/issues/comments/${OTHER_STATUS_COMMENT_ID}`).optionally().reply(200, { id: OTHER_STATUS_COMMENT_ID });
  nock(GITHUB_API)
    .persist()
    .get(`/repos/${repo}/contents/${encodeURIComponent(".github/aura.yml")}`)
    .optionally()
    .reply(404, { message: "Not Found" });
  nock(GITHUB_API)
    .persist()
    .get(`/repos/${repo}/collaborators/${DIRECTOR}/permission`)
    .optionally()
    .reply(200, { permission: permission === "maintain" ? "write" : permission, role_name: permission, user: { login: DIRECTOR } });
}

async function requirementIn(installationId: number, repo: string, issueNumber: number, state = "in_progress"): Promise<number> {
  const { rows } = await e2e.harness.db.pool.query<{ id: string }>(
    `INSERT INTO requirements (installation_id, repo, issue_number, title, state, plan_revision, status_comment_id)
     VALUES ($1, $2, $3, 'Other work', $4, 1, $5) RETURNING id`,
    [installationId, repo, issueNumber, state, OTHER_STATUS_COMMENT_ID],
  );
  return Number(rows[0]?.id);
}

async function command(body: string, issueNumber: number, installationId: number) {
  const comment = commentPayload({ body, login: DIRECTOR, issueNumber, installationId });
  await e2e.harness.deliver("issue_comment", comment.payload);
  await e2e.harness.waitForIdle();
  return comment.commentId;
}

async function status(installationId: number, employeeId: string): Promise<string> {
  const { rows } = await e2e.harness.db.pool.query<{ status: string }>("SELECT status FROM employee_states WHERE installation_id = $1 AND employee_id = $2", [
    installationId,
    employeeId,
  ]);
  return rows[0]?.status ?? "probation";
}

describe("a director of one repository of a multi-repository installation", () => {
  it("may halt every repository, but may not resume while not a director of another repository with Aura work", async () => {
    const installationId = 71;
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", installationId });
    const other = await requirementIn(installationId, OTHER_REPO, 5);
    await requirementIn(installationId, THIRD_REPO, 6, "done");
    mockOtherRepo(OTHER_REPO, "write");

    await command("/aura halt Checking a bad merge.", task.issueNumber, installationId);
    const halted = await isHalted(e2e.harness.db.pool, installationId);
    const otherState = (await e2e.harness.db.pool.query("SELECT state FROM requirements WHERE id = $1", [other])).rows[0]?.state;
    const refusedId = await command("/aura resume", task.issueNumber, installationId);

    expect(halted).toBe(true);
    expect(otherState).toBe("halted");
    expect(await isHalted(e2e.harness.db.pool, installationId)).toBe(true);
    expect(e2e.github.reactions).toContainEqual({ commentId: refusedId, content: "-1" });
    const refusal = e2e.github.replies.at(-1)?.body ?? "";
    expect(refusal).toContain("You are not a director of 1 repository: `octo-org/gadgets`.");
    expect(refusal).not.toContain("sprockets");
    const refused = (await auditActions(e2e.harness.db.pool, "director.command_refused")).filter((event) => event.payload.commentId === refusedId);
    expect(refused).toEqual([expect.objectContaining({ actor: DIRECTOR, payload: expect.objectContaining({ verb: "resume", notDirectorOf: [OTHER_REPO] }) })]);
  });

  it("resumes once a director of every repository with Aura work", async () => {
    const installationId = 72;
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", installationId });
    await requirementIn(installationId, OTHER_REPO, 5);
    mockOtherRepo(OTHER_REPO, "admin");

    await command("/aura halt", task.issueNumber, installationId);
    await command("/aura resume", task.issueNumber, installationId);

    expect(await isHalted(e2e.harness.db.pool, installationId)).toBe(false);
    expect(e2e.github.replies.at(-1)?.body).toContain("Resumed by @dana-director");
  });

  it("resumes when the only other repository with Aura work can no longer be reached, and records that", async () => {
    const installationId = 74;
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", installationId });
    await requirementIn(installationId, OTHER_REPO, 7);
    mockOtherRepo(OTHER_REPO, "none", { reachable: false });

    await command("/aura halt", task.issueNumber, installationId);
    const resumedId = await command("/aura resume", task.issueNumber, installationId);

    expect(await isHalted(e2e.harness.db.pool, installationId)).toBe(false);
    const done = (await auditActions(e2e.harness.db.pool, "director.resume")).filter((event) => event.payload.commentId === resumedId);
    expect(done).toEqual([expect.objectContaining({ payload: expect.objectContaining({ verb: "resume", unreachableRepos: [OTHER_REPO] }) })]);
  });

  it("may suspend an employee for the installation, but not reinstate it without authority over the other repository", async () => {
    const installationId = 73;
    const task = await seedAgentTask(e2e.harness, { employeeId: "gemini-2.5-flash", installationId });
    await requirementIn(installationId, OTHER_REPO, 9);
    mockOtherRepo(OTHER_REPO, "read");

    await command("/aura suspend gemini-2.5-flash Broke the build twice.", task.issueNumber, installationId);
    const suspended = await status(installationId, "gemini-2.5-flash");
    await command("/aura reinstate gemini-2.5-flash", task.issueNumber, installationId);

    expect(suspended).toBe("suspended");
    expect(await status(installationId, "gemini-2.5-flash")).toBe("suspended");
    expect(e2e.github.replies.at(-1)?.body).toContain("`/aura reinstate` lets the employee work in every repository of this installation");
  });
});

describe("tenancy", () => {
  it("keeps one installation's outcomes out of another's scoreboard and routing", async () => {
    const [first, second] = [81, 82];
    const merged = await seedAgentTask(e2e.harness, { employeeId: "gemini-2.5-flash", taskClass: "docs", costUsd: 0.3, installationId: first });
    await e2e.harness.deliver("pull_request", closedPayload(merged, { merged: true, by: DIRECTOR, installationId: first }));
    await e2e.harness.waitForIdle();
    const services = testServices(e2e.harness);

    const routedElsewhere = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", taskClass: "docs", installationId: second });
    const decision = await e2e.harness.db.pool.query<{ decision: { candidates: { employeeId: string; posterior: unknown; outcomes: number }[] } }>(
      "SELECT decision FROM routing_decisions WHERE task_id = $1",
      [routedElsewhere.taskId],
    );
    const boardFirst = await buildScoreboardInput(e2e.harness.db.pool, services, first);
    const boardSecond = await buildScoreboardInput(e2e.harness.db.pool, services, second);

    expect((await loadPosteriors(e2e.harness.db.pool, first, "docs")).get("gemini-2.5-flash")).toEqual({ alpha: 2, beta: 1, outcomes: 1 });
    expect(await loadPosteriors(e2e.harness.db.pool, second, "docs")).toEqual(new Map());
    expect(decision.rows[0]?.decision.candidates.find((c) => c.employeeId === "gemini-2.5-flash")).toMatchObject({
      posterior: { alpha: 1, beta: 1 },
      outcomes: 0,
    });
    expect(boardFirst.employees.find((e) => e.employee === "gemini-2.5-flash")?.outcomes).toHaveLength(1);
    expect(boardSecond.employees.every((e) => e.outcomes.length === 0)).toBe(true);
    expect(await loadPosteriors(e2e.harness.db.pool, INSTALLATION, "docs")).toEqual(new Map());
  });
});
