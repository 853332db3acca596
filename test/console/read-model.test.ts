// The console's read model on a real database: each read returns the visible repositories' records and
// nothing of any other repository or installation, even when asked for it by id.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRequirement, getTask, listRequirements, listTasks } from "../../src/console/read-model.js";
import { auditStatus, listAuditEvents } from "../../src/console/read-model-audit.js";
import { getScoreboards } from "../../src/console/read-model-scoreboard.js";
import type { Visibility } from "../../src/console/visible.js";
import { recordOutcome } from "../../src/accountant/ledger.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { setUp } from "../helpers/harness.js";
import { testPolicies } from "../helpers/services.js";
import { HEAD, seedCompany, type Company } from "./read-model-fixture.js";

const WIDGETS: Visibility = [{ installationId: 1, repo: "octo-org/widgets" }];

let database: TestDatabase | undefined;
let seeded: Company | undefined;
const db = () => setUp(database, "database is created in beforeAll");
const company = () => setUp(seeded, "company is seeded in beforeAll");

beforeAll(async () => {
  database = await createTestDatabase();
  seeded = await seedCompany(database);
});
afterAll(async () => {
  await database?.drop();
});

describe("requirements and tasks", () => {
  it("lists only the visible repositories' requirements, with task count and cost", async () => {
    const rows = await listRequirements(db().pool, WIDGETS);

    expect(rows.map((row) => [row.repo, row.issueNumber])).toEqual([["octo-org/widgets", 7]]);
    expect(rows[0]).toMatchObject({ installationId: 1, tasks: 1, costUsd: 0.125, state: "in_progress" });
  });

  it("lists the visible tasks with their employee, pull request and cost, and filters by state and repository", async () => {
    const tasks = await listTasks(db().pool, WIDGETS);
    const none = await listTasks(db().pool, WIDGETS, { state: "merged" });
    const otherRepo = await listTasks(db().pool, WIDGETS, { repo: "other-org/secret" });

    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ id: company().widgets.taskId, employee: "gpt-worker", prNumber: 41, state: "pr_open", costUsd: 0.125, key: "fix-parser" });
    expect(none).toEqual([]);
    expect(otherRepo).toEqual([]);
  });

  it("sees nothing with an empty list, and a repository of the same name under another installation is not the visible one", async () => {
    const sameNameOtherInstallation: Visibility = [{ installationId: 2, repo: "octo-org/widgets" }];

    expect(await listRequirements(db().pool, [])).toEqual([]);
    expect(await listTasks(db().pool, sameNameOtherInstallation)).toEqual([]);
    expect(await getTask(db().pool, sameNameOtherInstallation, company().widgets.taskId)).toBeUndefined();
  });

  it("compares repository names without case, as GitHub does", async () => {
    const rows = await listTasks(db().pool, [{ installationId: 1, repo: "Octo-Org/Widgets" }]);

    expect(rows.map((row) => row.id)).toEqual([company().widgets.taskId]);
  });

  it("answers another repository's or installation's ids as not found", async () => {
    expect(await getTask(db().pool, WIDGETS, company().secret.taskId)).toBeUndefined();
    expect(await getTask(db().pool, WIDGETS, company().lab.taskId)).toBeUndefined();
    expect(await getRequirement(db().pool, WIDGETS, company().secret.requirementId)).toBeUndefined();
    expect(await listTasks(db().pool, WIDGETS, { requirementId: company().secret.requirementId })).toEqual([]);
    expect((await getRequirement(db().pool, WIDGETS, company().widgets.requirementId))?.repo).toBe("octo-org/widgets");
  });
});

describe("one task", () => {
  it("has the routing decision, the trajectory with its steps, the verdict rule by rule, the Auditor's evidence, diff stats and cost", async () => {
    const task = await getTask(db().pool, WIDGETS, company().widgets.taskId);

    expect(task?.routing.map((record) => [record.winner, record.decision.reason])).toEqual([["gpt-worker", "gpt-worker had the best sampled value"]]);
    expect(task?.trajectory).toHaveLength(1);
    expect(task?.trajectory[0]).toMatchObject({ employeeId: "gpt-worker", endReason: "submitted", steps: 2, filesChanged: ["src/parser.ts"] });
    expect(task?.trajectory[0]?.stepRecords?.map((step) => step.tool ?? step.kind)).toEqual(["turn", "run_tests"]);
    expect(task?.headSha).toBe(HEAD);
    expect(task?.pullUrl).toBe("https://github.com/octo-org/widgets/pull/41");
    expect(task?.verdict?.conclusion).toBe("failure");
    expect(task?.verdict?.rules.map((rule) => [rule.ruleId, rule.state])).toEqual([
      ["scope", "pass"],
      ["evidence", "fail"],
    ]);
    expect(task?.evidence).toMatchObject({ state: "failed", report: { head: { counts: { passed: 4, failed: 1 } } } });
    expect(task?.diff).toEqual({ files: 2, additions: 30, deletions: 4 });
    expect(task?.costUsd).toBe(0.125);
  });

  it("leaves the steps out when asked", async () => {
    const task = await getTask(db().pool, WIDGETS, company().widgets.taskId, { steps: false });

    expect(task?.trajectory[0]?.stepRecords).toBeUndefined();
    expect(task?.trajectory[0]?.steps).toBe(2);
  });

  it("has no verdict, evidence or diff before a pull request exists", async () => {
    const task = await getTask(db().pool, [{ installationId: 1, repo: "octo-org/private-lab" }], company().lab.taskId);

    expect(task).toMatchObject({ headSha: null, verdict: null, evidence: null, diff: null, routing: [], trajectory: [], employee: null });
  });
});

describe("audit events", () => {
  it("shows the visible repositories' events in every subject form, their tasks' and their installation's, and nothing else", async () => {
    const page = await listAuditEvents(db().pool, WIDGETS);
    const subjects = page.events.map((event) => event.subject);

    expect(subjects).toContain("octo-org/widgets#7");
    expect(subjects).toContain("octo-org/widgets#7/fix-parser");
    expect(subjects).toContain("octo-org/widgets#41");
    expect(subjects).toContain(`task:${company().widgets.taskId}`);
    expect(subjects).toContain("installation:1/employee:gpt-worker");
    expect(
      subjects.some((subject) => subject.startsWith("other-org/") || subject.startsWith("octo-org/private-lab") || subject.startsWith("installation:2")),
    ).toBe(false);
    expect(subjects).not.toContain(`task:${company().secret.taskId}`);
    expect(page.events.map((event) => event.seq)).toEqual([...page.events.map((event) => event.seq)].sort((a, b) => b - a));
  });

  it("filters by subject and action, and pages by seq both ways", async () => {
    const bySubject = await listAuditEvents(db().pool, WIDGETS, { subject: "octo-org/widgets#7/fix-parser" });
    const byAction = await listAuditEvents(db().pool, WIDGETS, { action: "verdict.given" });
    const hiddenSubject = await listAuditEvents(db().pool, WIDGETS, { subject: "other-org/secret#9" });
    const first = await listAuditEvents(db().pool, WIDGETS, { limit: 2 });
    const second = await listAuditEvents(db().pool, WIDGETS, { limit: 2, beforeSeq: first.next ?? 0 });
    const forward = await listAuditEvents(db().pool, WIDGETS, { afterSeq: 0, limit: 2 });

    expect(bySubject.events.map((event) => event.action)).toEqual(["task.assigned", "task.trajectory"]);
    expect(byAction.events.map((event) => event.subject)).toEqual(["octo-org/widgets#41"]);
    expect(hiddenSubject.events).toEqual([]);
    expect(first.events).toHaveLength(2);
    expect(first.next).toBe(first.events[1]?.seq);
    expect(second.events.every((event) => event.seq < (first.next ?? 0))).toBe(true);
    expect(forward.events[0]?.seq).toBeLessThan(forward.events[1]?.seq ?? 0);
  });

  it("filters by time range", async () => {
    const future = await listAuditEvents(db().pool, WIDGETS, { since: new Date("2999-01-01T00:00:00Z") });
    const past = await listAuditEvents(db().pool, WIDGETS, { until: new Date("2000-01-01T00:00:00Z") });
    const all = await listAuditEvents(db().pool, WIDGETS, { since: new Date("2000-01-01T00:00:00Z"), until: new Date("2999-01-01T00:00:00Z") });

    expect(future.events).toEqual([]);
    expect(past.events).toEqual([]);
    expect(all.events.length).toBeGreaterThanOrEqual(5);
  });

  it("reports the chain's verification to a reader who sees a repository, and nothing to one who sees none", async () => {
    const status = await auditStatus(db().pool, WIDGETS, () => new Date("2026-02-01T00:00:00Z"));

    expect(status).toMatchObject({ ok: true, firstBad: null, checkedAt: new Date("2026-02-01T00:00:00Z") });
    expect(status?.count).toBeGreaterThanOrEqual(9);
    expect(await auditStatus(db().pool, [])).toBeUndefined();
  });
});

describe("scoreboard", () => {
  it("ranks the visible installations' employees as /aura scoreboard does, with the posterior interval and dated outcomes", async () => {
    await recordOutcome(db().pool, {
      installationId: 1,
      repo: "octo-org/widgets",
      taskId: company().widgets.taskId,
      requirementId: company().widgets.requirementId,
      prNumber: 41,
      employeeId: "gpt-worker",
      taskClass: "bugfix",
      result: "merged",
      revisionRounds: 0,
      costUsd: 0.5,
      latencyMs: null,
      assignedAt: new Date("2026-01-10T00:00:00Z"),
      prOpenedAt: new Date("2026-01-11T00:00:00Z"),
      closedAt: new Date("2026-01-12T00:00:00Z"),
      closedBy: "octocat",
      eventKey: "merged-41",
    });
    const deps = { pool: db().pool, policies: testPolicies(undefined), now: () => new Date("2026-02-01T00:00:00Z") };

    const boards = await getScoreboards(deps, WIDGETS);
    const other = await getScoreboards(deps, WIDGETS, 2);

    expect(boards.map((board) => [board.installationId, board.scope])).toEqual([[1, "octo-org"]]);
    const worker = boards[0]?.rows.find((row) => row.stats.employee === "gpt-worker");
    expect(worker?.stats.merged).toBe(1);
    expect(worker?.stats.score.lower).toBeLessThan(worker?.stats.score.upper ?? 0);
    expect(worker?.outcomes).toEqual([{ result: "merged", taskClass: "bugfix", costUsd: 0.5, revisionRounds: 0, closedAt: new Date("2026-01-12T00:00:00Z") }]);
    expect(other).toEqual([]);
  });
});
