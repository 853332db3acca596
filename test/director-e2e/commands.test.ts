// `/aura` commands end to end: who may run them, how they are refused (a reaction, and one reply per user per
// issue per hour), the help text, bots and edits ignored, and what each director verb changes.
import { describe, expect, it } from "vitest";
import { isHalted } from "../../src/queue/halt.js";
import {
  auditActions,
  changesRequestedPayload,
  commentPayload,
  DIRECTOR,
  INSTALLATION,
  OUTSIDER,
  seedAgentTask,
  WRITER,
  useDirectorHarness,
} from "./fixtures.js";

const e2e = useDirectorHarness({
  // No employee works in these tests: the `task.work` jobs that reassign and revise enqueue stay queued, so the
  // Employees' work loop never races the assertions.
  harness: { env: { AURA_APP_SLUG: "aura-test" }, exceptTasks: ["task.work"] },
  permissions: { [DIRECTOR]: "maintain", [OUTSIDER]: "read", [WRITER]: "write" },
  statusComments: true,
  replies: true,
});

async function command(body: string, login: string, issueNumber: number, options: { isPull?: boolean; installationId?: number } = {}) {
  const comment = commentPayload({ body, login, issueNumber, ...options });
  await e2e.harness.deliver("issue_comment", comment.payload);
  await e2e.harness.waitForIdle();
  return comment.commentId;
}

async function employeeStatus(employeeId: string, installationId = INSTALLATION): Promise<string> {
  const { rows } = await e2e.harness.db.pool.query<{ status: string }>("SELECT status FROM employee_states WHERE installation_id = $1 AND employee_id = $2", [
    installationId,
    employeeId,
  ]);
  return rows[0]?.status ?? "probation";
}

describe("someone who is not a director", () => {
  it("is refused every director verb: a reaction each time, one reply per issue per hour, nothing changed", async () => {
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini" });
    const verbs = [
      "/aura approve",
      "/aura revise Please rename the function.",
      "/aura override protected-paths We need it.",
      `/aura reassign ${task.taskKey} gemini-2.5-flash`,
      "/aura suspend gpt-4.1-mini Too slow.",
      "/aura reinstate gpt-4.1-mini",
      `/aura budget ${task.taskKey} +5`,
      "/aura halt",
      "/aura resume",
      "/aura scoreboard",
    ];

    const commentIds: number[] = [];
    for (const body of verbs) commentIds.push(await command(body, OUTSIDER, task.issueNumber));

    expect(e2e.github.reactions).toEqual(commentIds.map((commentId) => ({ commentId, content: "-1" })));
    expect(e2e.github.replies).toHaveLength(1);
    expect(e2e.github.replies[0]?.body).toContain(`@${OUTSIDER}, only a director of this repository can run Aura commands`);
    expect(await isHalted(e2e.harness.db.pool, INSTALLATION)).toBe(false);
    expect(await employeeStatus("gpt-4.1-mini")).toBe("probation");
    const decisions = await e2e.harness.db.pool.query("SELECT kind FROM routing_decisions WHERE task_id = $1", [task.taskId]);
    expect(decisions.rowCount).toBe(1);
    expect(await auditActions(e2e.harness.db.pool, "director.command_refused")).toHaveLength(verbs.length);
  });

  it("with write access but not listed as a director is refused too", async () => {
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini" });

    await command("/aura halt", WRITER, task.issueNumber);

    expect(e2e.github.reactions).toEqual([expect.objectContaining({ content: "-1" })]);
    expect(await isHalted(e2e.harness.db.pool, INSTALLATION)).toBe(false);
  });
});

describe("comments that are not commands for the Director", () => {
  it("gets the help text for an unknown verb", async () => {
    await command("/aura dance", DIRECTOR, 3);

    expect(e2e.github.replies).toHaveLength(1);
    expect(e2e.github.replies[0]?.body).toContain("I don't know the command `dance`");
    expect(e2e.github.replies[0]?.body).toContain("/aura reassign <task> <employee>");
  });

  it("ignores bots, the app itself, and edited comments", async () => {
    const bot = commentPayload({ body: "/aura halt", login: "other-app[bot]", issueNumber: 4, userType: "Bot" });
    const self = commentPayload({ body: "/aura halt", login: "aura-test[bot]", issueNumber: 4 });
    const edited = commentPayload({ body: "/aura halt", login: DIRECTOR, issueNumber: 4, action: "edited" });

    for (const delivery of [bot, self, edited]) await e2e.harness.deliver("issue_comment", delivery.payload);
    await e2e.harness.waitForIdle();

    expect(e2e.github.replies).toEqual([]);
    expect(e2e.github.reactions).toEqual([]);
    expect(await isHalted(e2e.harness.db.pool, INSTALLATION)).toBe(false);
  });
});

describe("a director", () => {
  it("suspends an employee, and only a director reinstates it, back on probation", async () => {
    const task = await seedAgentTask(e2e.harness, { employeeId: "gemini-2.5-flash" });

    await command("/aura suspend gemini-2.5-flash Keeps editing files outside its task.", DIRECTOR, task.issueNumber);
    const suspended = await employeeStatus("gemini-2.5-flash");
    await command("/aura reinstate gemini-2.5-flash", DIRECTOR, task.issueNumber);

    expect(suspended).toBe("suspended");
    expect(await employeeStatus("gemini-2.5-flash")).toBe("probation");
    const reinstated = await e2e.harness.db.pool.query(
      "SELECT reinstated_at FROM employee_states WHERE installation_id = $1 AND employee_id = 'gemini-2.5-flash'",
      [INSTALLATION],
    );
    expect(reinstated.rows[0]?.reinstated_at).toBeInstanceOf(Date);
    expect(e2e.github.replies.map((reply) => reply.body)).toEqual([
      expect.stringContaining("suspended `gemini-2.5-flash`: Keeps editing files outside its task. It gets no new work"),
      expect.stringContaining("reinstated `gemini-2.5-flash`"),
    ]);
    expect((await auditActions(e2e.harness.db.pool, "employee.reinstated")).map((event) => event.actor)).toEqual([DIRECTOR]);
  });

  it("is told when reinstating an employee that is not suspended", async () => {
    await command("/aura reinstate qwen2.5-coder-7b", DIRECTOR, 5);

    expect(e2e.github.replies[0]?.body).toContain("is not suspended");
    expect(e2e.github.reactions).toEqual([expect.objectContaining({ content: "confused" })]);
  });

  it("reassigns a task through the router as a director-override decision", async () => {
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini" });

    await command(`/aura reassign ${task.taskKey} qwen2.5-coder-7b`, DIRECTOR, task.issueNumber);

    const decision = await e2e.harness.db.pool.query<{ kind: string; winner: string }>(
      "SELECT kind, winner FROM routing_decisions WHERE task_id = $1 ORDER BY id DESC LIMIT 1",
      [task.taskId],
    );
    expect(decision.rows[0]).toEqual({ kind: "director-override", winner: "qwen2.5-coder-7b" });
    const assignment = await e2e.harness.db.pool.query("SELECT employee_id FROM assignments WHERE task_id = $1 AND active", [task.taskId]);
    expect(assignment.rows).toEqual([{ employee_id: "qwen2.5-coder-7b" }]);
    expect(e2e.github.replies[0]?.body).toContain(`Task \`${task.taskKey}\` reassigned to \`qwen2.5-coder-7b\``);
  });

  it("raises a task's budget, capped at the app's daily limit", async () => {
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini" });

    await command(`/aura budget ${task.taskKey} +2.50`, DIRECTOR, task.issueNumber);
    await command(`/aura budget ${task.taskKey} +999`, DIRECTOR, task.issueNumber);

    const raises = await e2e.harness.db.pool.query<{ amount: number }>(
      "SELECT amount_usd::float8 AS amount FROM budget_raises WHERE scope = 'task' AND subject_id = $1 ORDER BY id",
      [task.taskId],
    );
    // perTask $2.00 + $2.50, then up to perDayPerInstallation $50.00 only: $45.50 more, not $999.
    expect(raises.rows.map((row) => row.amount)).toEqual([2.5, 45.5]);
    expect(e2e.github.replies[1]?.body).toContain("capped by the app's daily limit");
  });

  it("sends an agent PR back for revision with a changes-requested review", async () => {
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini" });
    const review = changesRequestedPayload(task, { reviewId: 31337, body: "Use the existing helper.", login: DIRECTOR });

    await e2e.harness.deliver("pull_request_review", review);
    await e2e.harness.waitForIdle();

    const row = await e2e.harness.db.pool.query("SELECT state, revision_rounds FROM tasks WHERE id = $1", [task.taskId]);
    expect(row.rows[0]).toEqual({ state: "working", revision_rounds: 1 });
    const requests = await e2e.harness.db.pool.query("SELECT instructions, requested_by FROM revision_requests WHERE task_id = $1", [task.taskId]);
    expect(requests.rows).toEqual([{ instructions: "Use the existing helper.", requested_by: DIRECTOR }]);
  });

  it("halts the installation and resumes it: requirements go back to the state they held", async () => {
    const installationId = 31;
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", installationId });

    await command("/aura halt Investigating a bad merge.", DIRECTOR, task.issueNumber, { installationId });
    const haltedState = await e2e.harness.db.pool.query("SELECT state, pre_halt_state FROM requirements WHERE id = $1", [task.requirementId]);
    const halted = await isHalted(e2e.harness.db.pool, installationId);
    const otherInstallation = await isHalted(e2e.harness.db.pool, INSTALLATION);
    await command("/aura resume", DIRECTOR, task.issueNumber, { installationId });

    expect(halted).toBe(true);
    expect(otherInstallation).toBe(false);
    expect(haltedState.rows[0]).toEqual({ state: "halted", pre_halt_state: "in_progress" });
    expect(await isHalted(e2e.harness.db.pool, installationId)).toBe(false);
    const resumed = await e2e.harness.db.pool.query("SELECT state FROM requirements WHERE id = $1", [task.requirementId]);
    expect(resumed.rows[0]?.state).toBe("in_progress");
    expect(e2e.github.replies.map((reply) => reply.body)).toEqual([
      expect.stringContaining("Halted by @dana-director"),
      expect.stringContaining("Resumed by @dana-director"),
    ]);
  });

  it("acts once on a redelivered command", async () => {
    const installationId = 32;
    const task = await seedAgentTask(e2e.harness, { employeeId: "gpt-4.1-mini", installationId });
    const comment = commentPayload({ body: "/aura suspend gpt-4.1-mini Testing idempotence.", login: DIRECTOR, issueNumber: task.issueNumber, installationId });

    await e2e.harness.deliver("issue_comment", comment.payload);
    await e2e.harness.waitForIdle();
    await e2e.harness.deliver("issue_comment", comment.payload);
    await e2e.harness.waitForIdle();
    await command("/aura reinstate gpt-4.1-mini", DIRECTOR, task.issueNumber, { installationId });

    expect(e2e.github.replies).toHaveLength(2);
    const suspends = (await auditActions(e2e.harness.db.pool, "director.suspend")).filter((event) => event.payload.commentId === comment.commentId);
    expect(suspends).toHaveLength(1);
  });
});
