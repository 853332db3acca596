// What a director reads when an agent stops: the notice in the status comment quotes the model's words
// (a path it asked for, its summary) inertly, never as a mention or a link; and a submission without an edit is
// not "no change" but a stop that quotes what the agent said, so the director can judge it.
import { describe, expect, it } from "vitest";
import { runTaskWork } from "../../src/employees/work-loop.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { call, openAIAgent, submit, toolSteps, turn, workRuns } from "./agent-fixtures.js";
import { createTaskFixture, fakeGitHub, MATH_TESTS, useWorkLoop } from "./work-fixtures.js";

const probe = probeBwrap();
const work = useWorkLoop("aura-agent-notices-");

const PROJECT: Record<string, string> = {
  "src/math.js": "exports.add = (a, b) => a + b;\n",
  "test/math.test.js": MATH_TESTS,
};
const ONLY_OPENAI = { employees: ["gpt-4.1-mini"] };

async function notices(requirementId: number): Promise<string[]> {
  const { rows } = await work.db.pool.query<{ body: string }>("SELECT body FROM requirement_notices WHERE requirement_id = $1 ORDER BY id", [requirementId]);
  return rows.map((row) => row.body);
}

describe.skipIf(!probe.ok)("what a director reads when an agent stops", () => {
  it("quotes a refused path in the notice inertly: a mention in it notifies nobody, a link in it is no link", async () => {
    openAIAgent([
      turn(call("request_scope", { paths: [".github/workflows/@octo-org/admins.yml"], reason: "see https://evil.test/x" })),
      submit("never reached"),
    ]);
    const { services, dir } = work.setup({ employeeTools: "native" });
    fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, files: PROJECT, config: ONLY_OPENAI });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "needs_director", pullNumber: null });
    const [notice = ""] = await notices(fixture.requirementId);
    expect(notice).toContain("stopped before any change was made: The agent stopped because the agent asked to edit outside its scope and was refused:");
    expect(notice).toContain(
      ".github/workflows/`@octo-org/admins.yml` (.github/workflows/`@octo-org/admins.yml` is a protected path (.github/workflows/\\*\\*:",
    );
    expect(notice).not.toMatch(/(^|[^`])@octo-org/);
  });

  it("stops a submission without an edit for a director, quoting the agent's summary, instead of reporting no change", async () => {
    openAIAgent([turn(call("read_file", { path: "src/math.js" })), submit("add already adds; nothing to fix. cc @octo-org/admins")]);
    const { services, dir } = work.setup({ employeeTools: "native" });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, files: PROJECT, config: ONLY_OPENAI });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toEqual({
      kind: "needs_director",
      pullNumber: null,
      reason: 'The agent submitted without changing any file. Its summary: "add already adds; nothing to fix. cc @octo-org/admins"',
    });
    expect(github.count("POST", /\/pulls$/)).toBe(0);
    expect(await notices(fixture.requirementId)).toEqual([
      `Task \`${"fix-add"}\` stopped before any change was made: The agent submitted without changing any file. Its summary: "add already adds; nothing to fix. cc \`@octo-org/admins\`"`,
    ]);
    expect(await workRuns(work.db.pool, fixture.taskId)).toEqual([expect.objectContaining({ end_reason: "submitted" })]);
  });

  it("keeps going when a command prints NUL bytes and the model writes one: the record shows U+FFFD instead of failing the run", async () => {
    openAIAgent([turn(call("run_command", { command: "printf 'a\\000b'" }), call("bogus\u0000tool", {})), submit("nothing to change\u0000really")]);
    const { services, dir } = work.setup({ employeeTools: "native" });
    fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, files: PROJECT, config: ONLY_OPENAI });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({
      kind: "needs_director",
      reason: 'The agent submitted without changing any file. Its summary: "nothing to change\uFFFDreally"',
    });
    const [run] = await workRuns(work.db.pool, fixture.taskId);
    expect(run).toMatchObject({ end_reason: "submitted", ended: true, submission: { summary: "nothing to change\uFFFDreally" } });
    const steps = await toolSteps(work.db.pool, run?.id ?? "");
    expect(steps[0]?.observation).toContain("Output (stdout and stderr):\na\uFFFDb");
    expect(steps[1]?.tool).toBe("bogus\uFFFDtool");
  });
});
