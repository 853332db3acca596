// A labelled issue becomes a plan, a status comment and routed tasks, end to end through Probot, the job queue
// and the real OpenAI SDK (HTTP faked by nock); redelivery, a second label, unlabelling, closing and reopening.
import nock from "nock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { clearPermissionCache } from "../../src/github/permissions.js";
import type { TaskPlan } from "../../src/manager/plan.js";
import { startHarness, type Harness } from "../helpers/harness.js";
import { openAIReply } from "../employees/provider-fixtures.js";
import { auditActions, issuesPayload, mockPermission, mockRepoView, mockRepository, requirementOf, task, waitForManager } from "./support.js";

const OPENAI = "https://llm.test";

const ChatRequest = z.object({
  model: z.string(),
  messages: z.array(z.object({ role: z.string(), content: z.string() })),
  response_format: z.object({ type: z.string(), json_schema: z.object({ name: z.string(), strict: z.boolean() }).loose() }),
});

const plan: TaskPlan = {
  summary: "Add a CSV export to reports, then document it.",
  tasks: [
    task("csv-export", { scope: ["src/report.ts", "test/report.test.ts"], title: "Export reports as CSV" }),
    task("csv-docs", { taskClass: "docs", scope: ["docs/**"], dependsOn: ["csv-export"], title: "Document the CSV export" }),
  ],
};

/** The OpenAI chat completion endpoint, answering with `reply` once and recording the request. */
function mockOpenAI(reply: unknown) {
  const requests: z.infer<typeof ChatRequest>[] = [];
  nock(OPENAI)
    .post("/v1/chat/completions", (body: unknown) => {
      requests.push(ChatRequest.parse(body));
      return true;
    })
    .reply(200, openAIReply(JSON.stringify(reply)), { "content-type": "application/json" });
  return requests;
}

let harness: Harness;

beforeAll(async () => {
  // The Employees' `task.work` jobs stay queued, never run: these tests see exactly what the Manager did.
  harness = await startHarness({ env: { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${OPENAI}/v1` }, exceptTasks: ["task.work"] });
});

afterAll(async () => {
  await harness.stop();
});

beforeEach(() => {
  clearPermissionCache();
});

async function tasksOf(requirementId: number) {
  const { rows } = await harness.db.pool.query<{ id: number; task_key: string; state: string; plan_revision: number; employee_id: string | null }>(
    `SELECT t.id, t.task_key, t.state, t.plan_revision, a.employee_id FROM tasks t LEFT JOIN assignments a ON a.task_id = t.id AND a.active
     WHERE t.requirement_id = $1 ORDER BY t.id`,
    [requirementId],
  );
  return rows;
}

async function workJobs(): Promise<string[]> {
  const { rows } = await harness.db.pool.query<{ key: string }>("SELECT key FROM graphile_worker.jobs WHERE task_identifier = 'task.work' ORDER BY key");
  return rows.map((row) => row.key);
}

describe("intake of a labelled issue", () => {
  it("plans with the manager model, posts one status comment and routes the tasks that can start", async () => {
    const repo = "acme/widgets";
    const github = mockRepository(repo);
    const permission = mockPermission(repo, "maintainer", "write");
    const view = mockRepoView(repo);
    const requests = mockOpenAI(plan);

    const response = await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 7, title: "Add a CSV export" }));
    await waitForManager(harness.db);

    expect(response.status).toBe(200);
    expect(permission.isDone()).toBe(true);
    expect(view.isDone()).toBe(true);
    expect(requests).toHaveLength(1);
    expect(requests[0]?.model).toBe("gpt-4.1-mini");
    expect(requests[0]?.response_format).toMatchObject({ type: "json_schema", json_schema: { name: "TaskPlan", strict: true } });
    expect(requests[0]?.messages.map((m) => m.role)).toEqual(["system", "user"]);
    expect(requests[0]?.messages[1]?.content).toContain("Title: Add a CSV export");
    expect(requests[0]?.messages[1]?.content).toContain("src/report.ts");

    const requirement = await requirementOf(harness.db, repo, 7);
    expect(requirement?.state).toBe("in_progress");
    const tasks = await tasksOf(requirement?.id ?? 0);
    expect(tasks.map((t) => [t.task_key, t.state, t.employee_id])).toEqual([
      ["csv-export", "assigned", "gpt-4.1-mini"],
      ["csv-docs", "queued", null],
    ]);
    expect(await workJobs()).toEqual([`task:${tasks[0]?.id}`]);

    expect(github.created).toHaveLength(1);
    const finalBody = github.edited.at(-1)?.body ?? "";
    expect(github.created[0]?.body).toContain("Planning");
    expect(finalBody).toContain("In progress");
    expect(finalBody).toContain("`csv-export`");
    expect(finalBody).toContain("`gpt-4.1-mini`");
    expect(finalBody).toContain("(after `csv-export`)");

    const actions = (await auditActions(harness.db, `${repo}#7`)).map((event) => event.action);
    expect(actions).toEqual(expect.arrayContaining(["requirement.received", "requirement.transitioned", "plan.drafted"]));
  });

  it("gives one plan and one comment when the delivery is redelivered and the issue labelled again", async () => {
    const repo = "acme/gadgets";
    const github = mockRepository(repo);
    mockPermission(repo, "maintainer", "admin");
    mockRepoView(repo);
    const requests = mockOpenAI(plan);
    const payload = issuesPayload("labeled", { repo, issue: 8 });
    const first = await harness.deliver("issues", payload);
    await waitForManager(harness.db);

    await harness.deliver("issues", payload, { id: first.id });
    await harness.deliver("issues", payload);
    await waitForManager(harness.db);

    const requirement = await requirementOf(harness.db, repo, 8);
    expect(requests).toHaveLength(1);
    expect(requirement?.plan_revision).toBe(1);
    expect(await tasksOf(requirement?.id ?? 0)).toHaveLength(2);
    expect(github.created).toHaveLength(1);
    const received = (await auditActions(harness.db, `${repo}#8`)).filter((event) => event.action === "requirement.received");
    expect(received).toHaveLength(1);
  });

  it("cancels the requirement, its tasks and its queued work when the label is removed", async () => {
    const repo = "acme/sprockets";
    const github = mockRepository(repo);
    mockPermission(repo, "maintainer", "maintain");
    mockRepoView(repo);
    mockOpenAI(plan);
    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 9 }));
    await waitForManager(harness.db);
    const requirement = await requirementOf(harness.db, repo, 9);
    const [first] = await tasksOf(requirement?.id ?? 0);

    await harness.deliver("issues", issuesPayload("unlabeled", { repo, issue: 9 }));
    await waitForManager(harness.db);

    expect((await requirementOf(harness.db, repo, 9))?.state).toBe("cancelled");
    expect((await tasksOf(requirement?.id ?? 0)).map((t) => t.state)).toEqual(["cancelled", "cancelled"]);
    expect(await workJobs()).not.toContain(`task:${first?.id}`);
    expect(github.edited.at(-1)?.body).toContain("Cancelled");
    expect(github.edited.at(-1)?.body).toContain("label was removed by @maintainer");
  });

  it("cancels on close and plans again, as a new revision, when the issue is reopened", async () => {
    const repo = "acme/cogs";
    mockRepository(repo);
    mockPermission(repo, "maintainer", "write");
    mockRepoView(repo);
    mockOpenAI(plan);
    await harness.deliver("issues", issuesPayload("labeled", { repo, issue: 10 }));
    await waitForManager(harness.db);
    await harness.deliver("issues", issuesPayload("closed", { repo, issue: 10 }));
    await waitForManager(harness.db);
    const closed = await requirementOf(harness.db, repo, 10);
    mockRepoView(repo);
    mockOpenAI({ summary: "Export as CSV.", tasks: [task("csv-export", { scope: ["src/report.ts"] })] });

    await harness.deliver("issues", issuesPayload("reopened", { repo, issue: 10 }));
    await waitForManager(harness.db);

    const reopened = await requirementOf(harness.db, repo, 10);
    expect(closed?.state).toBe("cancelled");
    expect(reopened?.state).toBe("in_progress");
    expect(reopened?.plan_revision).toBe(2);
    const tasks = await tasksOf(reopened?.id ?? 0);
    expect(tasks.map((t) => [t.task_key, t.plan_revision, t.state])).toEqual([
      ["csv-export", 1, "cancelled"],
      ["csv-docs", 1, "cancelled"],
      ["csv-export", 2, "assigned"],
    ]);
  });
});
