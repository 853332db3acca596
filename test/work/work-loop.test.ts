// The task.work job end to end: a real git remote (a local bare repository), the real bubblewrap sandbox,
// GitHub behind nock, and scripted employees.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { requestRevision } from "../../src/employees/revise.js";
import { runTaskWork } from "../../src/employees/work-loop.js";
import type { Employee } from "../../src/config/policy-files.js";
import type { ModelClient } from "../../src/models/model-client.js";
import { inTransaction } from "../../src/core/transitions.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { TreeLockLost } from "../../src/employees/tree-lock.js";
import { endLockSessions } from "../helpers/database.js";
import { sh } from "../workspace/git-fixture.js";
import {
  BUGGY_PROJECT,
  createTaskFixture,
  edits,
  fakeGitHub,
  FIX_ADD,
  replace,
  scriptedEmployees,
  write,
  type TaskFixture,
  useWorkLoop,
} from "./work-fixtures.js";

const probe = probeBwrap();
const work = useWorkLoop("aura-work-");
const setup = (override: (employee: Employee) => ModelClient) => work.setup({ override });

async function taskRow(taskId: number) {
  return (await work.db.pool.query("SELECT state, pr_number, branch, cost_usd, revision_rounds FROM tasks WHERE id = $1", [taskId])).rows[0];
}

function branchOf(fixture: TaskFixture): string {
  return `aura/${fixture.issueNumber}-fix-add`;
}

describe.skipIf(!probe.ok)(`the work loop${probe.ok ? "" : ` (skipped: ${probe.ok ? "" : probe.error})`}`, () => {
  it("turns an assignment into a commit of exactly the model's edits and a draft PR carrying the real test counts", async () => {
    const script = scriptedEmployees([edits("Use + in add().", FIX_ADD)]);
    const { services, dir } = setup(script.override);
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });
    const mainBefore = fixture.remote.refs()["refs/heads/main"];

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open" });
    const branch = branchOf(fixture);
    const refs = fixture.remote.refs();
    expect(Object.keys(refs).sort()).toEqual([`refs/heads/${branch}`, "refs/heads/main"]);
    expect(refs["refs/heads/main"]).toBe(mainBefore);
    expect(sh(fixture.remote.bare, "diff", "--name-only", "main", branch).trim()).toBe("src/math.js");
    expect(sh(fixture.remote.bare, "show", `${branch}:src/math.js`)).toBe(BUGGY_PROJECT["src/math.js"]?.replace("a - b", "a + b"));
    const message = sh(fixture.remote.bare, "log", "-1", "--format=%an <%ae>%n%B", branch);
    expect(message).toContain(services.config.botIdentity.name);
    expect(message).toMatch(/Aura-Task: \d+ fix-add/);
    const snapshotId = /Aura-Snapshot: ([0-9a-f]{16})/.exec(message)?.[1];
    const snapshot = await work.db.pool.query("SELECT snapshot FROM execution_snapshots WHERE id = $1", [snapshotId]);
    expect(snapshot.rows[0].snapshot).toMatchObject({ employee: { id: fixture.employeeId }, sandbox: "bwrap", tools: { node: process.version } });
    const tip = refs[`refs/heads/${branch}`];
    const recorded = await work.db.pool.query("SELECT sha, kind FROM task_commits WHERE task_id = $1", [fixture.taskId]);
    expect(recorded.rows).toEqual([{ sha: tip, kind: "work" }]);
    const created = github.requests.filter((r) => r.method === "POST" && /\/pulls$/.test(r.path));
    expect(created).toHaveLength(1);
    expect(created[0]?.body).toMatchObject({ draft: true, head: branch, base: "main", title: "Fix add()" });
    const body = String(created[0]?.body?.body);
    expect(body).toContain(`<!-- aura:task id=${fixture.taskId} -->`);
    expect(body).toContain(`Closes #${fixture.issueNumber}`);
    expect(body).toContain("2 passed, 0 failed, 0 skipped");
    expect(body).toContain("exit code 0");
    expect(body).not.toContain("aura:evidence");
    const claims = await work.db.pool.query("SELECT head_sha, claim FROM task_run_claims WHERE task_id = $1", [fixture.taskId]);
    expect(claims.rows).toEqual([{ head_sha: tip, claim: { exitCode: 0, passed: 2, failed: 0, skipped: 0, total: 2, headSha: tip } }]);
    expect(await taskRow(fixture.taskId)).toMatchObject({ state: "pr_open", pr_number: 100, branch });
  });

  it("sends failing test output back to the employee and opens the PR once the fix round passes", async () => {
    const wrong = replace("src/math.js", "exports.add = (a, b) => a - b;", "exports.add = (a, b) => a * b;");
    const right = replace("src/math.js", "exports.add = (a, b) => a * b;", "exports.add = (a, b) => a + b;");
    const script = scriptedEmployees([edits("Try *.", wrong), edits("Use +.", right)]);
    const { services, dir } = setup(script.override);
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open" });
    expect(script.calls).toHaveLength(2);
    const feedback = script.calls[1]?.messages.at(-1)?.content ?? "";
    expect(feedback).toContain("Fix round 1 of 2");
    expect(feedback).toMatch(/not ok|fail/i);
    expect(sh(fixture.remote.bare, "show", `${branchOf(fixture)}:src/math.js`)).toContain("a + b");
    const body = String(github.pulls.get(100)?.body);
    expect(body).toContain("Fix rounds used: 1");
    expect(body).toContain("2 passed, 0 failed");
  });

  it("refuses an edit outside the task's scope before writing anything and re-asks with the reason", async () => {
    const script = scriptedEmployees([edits("Also tweak the README.", FIX_ADD, write("README.md", "# hacked\n")), edits("Only the fix.", FIX_ADD)]);
    const { services, dir } = setup(script.override);
    fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open" });
    expect(script.calls[1]?.messages.at(-1)?.content).toContain("README.md is outside the task's scope");
    expect(sh(fixture.remote.bare, "diff", "--name-only", "main", branchOf(fixture)).trim()).toBe("src/math.js");
    const refused = await work.db.pool.query("SELECT payload FROM audit.events WHERE action = 'task.edits_refused' AND payload->>'taskId' = $1", [
      String(fixture.taskId),
    ]);
    expect(refused.rowCount).toBe(1);
  });

  it("refuses a file over the size limit before writing anything, tells the employee, and commits only the accepted edits", async () => {
    const script = scriptedEmployees([edits("Add fixtures.", FIX_ADD, write("src/fixtures.json", "x".repeat(6144))), edits("Only the fix.", FIX_ADD)]);
    const { services, dir } = work.setup({ override: script.override, env: { AURA_EDIT_MAX_FILE_BYTES: "4096" } });
    fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open" });
    expect(script.calls[1]?.messages.at(-1)?.content).toContain(
      "src/fixtures.json: the new content is 6 KiB, over the 4 KiB one file may have (AURA_EDIT_MAX_FILE_BYTES)",
    );
    expect(sh(fixture.remote.bare, "diff", "--name-only", "main", branchOf(fixture)).trim()).toBe("src/math.js");
  });

  it("stops with a reason people can read when the employee keeps sending a change over the per-change limit, writing and pushing nothing", async () => {
    const oversized = edits("Two data files.", write("src/a.txt", "a".repeat(1500)), write("src/b.txt", "b".repeat(1500)));
    const script = scriptedEmployees([oversized, oversized, oversized]);
    const { services, dir } = work.setup({ override: script.override, env: { AURA_EDIT_MAX_FILE_BYTES: "2048", AURA_EDIT_MAX_CHANGE_BYTES: "2500" } });
    fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });
    const refsBefore = fixture.remote.refs();

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "needs_director", pullNumber: null });
    expect(script.calls).toHaveLength(3);
    expect(fixture.remote.refs()).toEqual(refsBefore);
    const notice = (await work.db.pool.query("SELECT body FROM requirement_notices WHERE requirement_id = $1 AND kind = 'incident'", [fixture.requirementId]))
      .rows[0];
    expect(notice?.body).toContain(
      "(the whole change): together the edits add 2.9 KiB, over the 2.4 KiB one task's change may add (AURA_EDIT_MAX_CHANGE_BYTES)",
    );
    expect((await taskRow(fixture.taskId)).state).toBe("needs_director");
  });

  it("keeps failing work as a draft PR with the failing evidence and hands the task to a director; the sandbox has no network", async () => {
    const server = (await import("node:net")).createServer((socket) => {
      connections++;
      socket.end();
    });
    let connections = 0;
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const netTest = `const test = require('node:test');\nconst net = require('node:net');\ntest('reaches the host', (t, done) => { net.connect(${port}, '127.0.0.1').on('connect', () => done()).on('error', (e) => done(e)); });\n`;
    const script = scriptedEmployees([
      edits("Add a network test.", FIX_ADD, write("test/net.test.js", netTest)),
      edits("Try again.", write("test/net.test.js", netTest)),
    ]);
    const { services, dir } = setup(script.override);
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});
    server.close();

    expect(outcome).toMatchObject({ kind: "needs_director" });
    expect(connections).toBe(0);
    expect(script.calls).toHaveLength(3);
    const pull = github.pulls.get(100);
    expect(pull?.draft).toBe(true);
    expect(pull?.body).toContain("2 passed, 1 failed");
    expect(pull?.body).toContain("the tests still fail");
    expect(sh(fixture.remote.bare, "ls-tree", "--name-only", "-r", branchOf(fixture))).toContain("test/net.test.js");
    expect(await taskRow(fixture.taskId)).toMatchObject({ state: "needs_director", pr_number: 100 });
    const requirement = await work.db.pool.query("SELECT state FROM requirements WHERE id = $1", [fixture.requirementId]);
    expect(requirement.rows[0].state).toBe("needs_director");
  });

  it("runs the tests with no token or key in the sandbox's environment", async () => {
    process.env.GITHUB_TOKEN = "ghs_hostsecrettoken";
    process.env.OPENAI_API_KEY = "sk-hostsecretkey";
    const envTest = [
      "const test = require('node:test');",
      "const assert = require('node:assert');",
      "test('no secrets', () => {",
      "  const text = JSON.stringify(process.env);",
      "  for (const needle of ['ghs_', 'sk-', 'TOKEN', 'KEY', 'SECRET', 'PRIVATE']) assert.ok(!text.includes(needle), needle);",
      "});",
      "",
    ].join("\n");
    const script = scriptedEmployees([edits("Fix and check the environment.", FIX_ADD, write("test/env.test.js", envTest))]);
    const { services, dir } = setup(script.override);
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});
    delete process.env.GITHUB_TOKEN;
    delete process.env.OPENAI_API_KEY;

    expect(outcome).toMatchObject({ kind: "pr_open" });
    expect(github.pulls.get(100)?.body).toContain("3 passed, 0 failed");
  });

  it("a retried job finds the PR it opened and updates it instead of opening a second one", async () => {
    const fixed = BUGGY_PROJECT["src/math.js"]?.replace("a - b", "a + b") ?? "";
    const script = scriptedEmployees([edits("Use +.", write("src/math.js", fixed))]);
    const { services, dir } = setup(script.override);
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });
    await runTaskWork(services, { taskId: fixture.taskId }, {});
    // As if the worker died after GitHub created the PR but before the task row recorded it.
    await work.db.pool.query("UPDATE tasks SET state = 'working', pr_number = NULL WHERE id = $1", [fixture.taskId]);

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open", pullNumber: 100 });
    expect(github.count("POST", /\/pulls$/)).toBe(1);
    expect(github.count("PATCH", /\/pulls\/100$/)).toBe(1);
    expect(github.pulls.size).toBe(1);
  });

  it("a revision adds commits to the same branch and keeps a person's commit", async () => {
    const script = scriptedEmployees([edits("Use +.", FIX_ADD), edits("Triple too.", write("src/triple.js", "exports.triple = (a) => a * 3;\n"))]);
    const { services, dir } = setup(script.override);
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });
    await runTaskWork(services, { taskId: fixture.taskId }, {});
    const branch = branchOf(fixture);
    const clone = fixture.remote.personClone("pat");
    sh(clone, "checkout", "--quiet", branch);
    writeFileSync(path.join(clone, "src", "notes.js"), "// a person's note\n");
    sh(clone, "add", "--all");
    sh(clone, "commit", "--quiet", "-m", "A person's commit");
    sh(clone, "push", "--quiet", "origin", branch);
    const personSha = sh(clone, "rev-parse", "HEAD").trim();

    const revision = await inTransaction(work.db.pool, (client) =>
      requestRevision(services, client, { taskId: fixture.taskId, instructions: "Add triple().", by: "director-dana", sourceKey: "comment:1" }),
    );
    const outcome = await runTaskWork(services, { taskId: fixture.taskId, revisionId: revision.revisionId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open", pullNumber: 100 });
    const tip = fixture.remote.refs()[`refs/heads/${branch}`] as string;
    expect(sh(fixture.remote.bare, "merge-base", "--is-ancestor", personSha, tip)).toBe("");
    expect(sh(fixture.remote.bare, "show", `${tip}:src/triple.js`)).toContain("a * 3");
    expect(script.calls[1]?.messages.map((m) => m.content).join("\n")).toContain("Add triple().");
    expect(await taskRow(fixture.taskId)).toMatchObject({ state: "pr_open", revision_rounds: 1 });
    expect(github.count("POST", /\/pulls$/)).toBe(1);
    const recorded = (await work.db.pool.query("SELECT sha FROM task_commits WHERE task_id = $1", [fixture.taskId])).rows.map((r) => r.sha);
    expect(recorded).toContain(tip);
    expect(recorded).not.toContain(personSha);
  });
});

describe("fail closed", () => {
  it("without a working sandbox the task goes to a director before any model call", async () => {
    const script = scriptedEmployees([edits("Use +.", FIX_ADD)]);
    const { services, dir } = setup(script.override);
    const noSandbox = { ...services, sandbox: { allowUnsandboxed: false, bwrapPath: "/nonexistent/bwrap" } };
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });

    const outcome = await runTaskWork(noSandbox, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "needs_director", reason: "sandbox unavailable" });
    expect(script.calls).toHaveLength(0);
    expect(github.count("POST", /\/pulls$/)).toBe(0);
    const comment = [...github.comments.values()][0]?.body;
    expect(comment).toContain("No working bubblewrap sandbox (/nonexistent/bwrap is not installed)");
    expect(comment).toContain("AURA_ALLOW_UNSANDBOXED=true");
  });

  it.skipIf(!probe.ok)("with bubblewrap but no working resource limits the director is told it is the limits, not bubblewrap", async () => {
    const script = scriptedEmployees([edits("Use +.", FIX_ADD)]);
    const { services, dir } = setup(script.override);
    const limits = {
      cgroup: { kind: "none" as const, reason: "no cgroup here" },
      prlimit: undefined,
      workspace: { ok: true as const },
      uids: { ok: true as const, pool: { base: 200_000, count: 64 } },
    };
    const noLimits = { ...services, sandbox: { allowUnsandboxed: false, limits } };
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });

    const outcome = await runTaskWork(noLimits, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "needs_director", reason: "sandbox unavailable" });
    expect(script.calls).toHaveLength(0);
    const comment = [...github.comments.values()][0]?.body;
    expect(comment).toContain(
      "Not every sandbox limit can be applied here; refusing to run repository commands. Missing: memory and process limits per run (no cgroup here)",
    );
    expect(comment).toContain("AURA_ALLOW_UNSANDBOXED=true");
    expect(comment).not.toContain("bubblewrap sandbox");
  });
});

describe("the lock on the task's tree", () => {
  it("lost while the employee works stops the job before anything is pushed, so it runs again", async () => {
    const script = scriptedEmployees([edits("Use + in add().", FIX_ADD)]);
    const ended: number[] = [];
    const { services, dir } = setup((employee) => {
      const client = script.override(employee);
      const generate = client.generate.bind(client);
      return {
        ...client,
        generate: (async (request) => {
          if (ended.length === 0) ended.push(await endLockSessions(work.db, "aura:task-tree"));
          return generate(request);
        }) as typeof client.generate,
      };
    });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir });

    const run = runTaskWork({ ...services, sandbox: { allowUnsandboxed: true } }, { taskId: fixture.taskId }, {});

    await expect(run).rejects.toThrow(TreeLockLost);
    await expect(run).rejects.toThrow(/lock on its work tree was lost .* nothing was pushed and the job will run again/);
    expect(ended).toEqual([1]);
    expect(script.calls).toHaveLength(1);
    expect(Object.keys(fixture.remote.refs())).toEqual(["refs/heads/main"]);
    expect(await taskRow(fixture.taskId)).toMatchObject({ state: "working", pr_number: null });
    expect(github.count("POST", /\/pulls$/)).toBe(0);
  });
});
