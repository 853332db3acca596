// The work loop hands the agent's run to the PR body: a real agent run (the OpenAI SDK answered by nock, real
// git, bubblewrap and PostgreSQL) opens a PR whose body summarises that run's trajectory.
import { describe, expect, it } from "vitest";
import { runTaskWork } from "../../src/employees/work-loop.js";
import { probeBwrap } from "../../src/workspace/sandbox.js";
import { call, openAIAgent, submit, turn } from "./agent-fixtures.js";
import { createTaskFixture, fakeGitHub, MATH_TESTS, useWorkLoop } from "./work-fixtures.js";

const probe = probeBwrap();
const work = useWorkLoop("aura-agent-pr-");

const PROJECT: Record<string, string> = {
  "AGENTS.md": "Run the tests with `node --test test/*.test.js`.\n",
  "src/math.js": "const { combine } = require('../lib/ops.js');\n\nexports.add = (a, b) => combine(a, b);\n\nexports.double = (a) => a * 2;\n",
  "lib/ops.js": "exports.combine = (a, b) => a - b;\n",
  "test/math.test.js": MATH_TESTS,
};

describe.skipIf(!probe.ok)("an agent's pull request", () => {
  it("summarises the run that made it: steps, commands, test runs, files, guidance and the granted scope", async () => {
    openAIAgent([
      turn(call("run_command", { command: "grep -rn combine lib" })),
      turn(call("read_file", { path: "lib/ops.js" })),
      turn(call("request_scope", { paths: ["lib/ops.js"], reason: "add() delegates to combine(), which subtracts" })),
      turn(call("edit_file", { path: "lib/ops.js", search: "a - b", replace: "a + b" })),
      turn(call("run_tests")),
      submit("combine() adds."),
    ]);
    const { services, dir } = work.setup({ employeeTools: "native" });
    const github = fakeGitHub();
    const fixture = await createTaskFixture(work.db, services, { parent: dir, files: PROJECT, config: { employees: ["gpt-4.1-mini"] } });

    const outcome = await runTaskWork(services, { taskId: fixture.taskId }, {});

    expect(outcome).toMatchObject({ kind: "pr_open" });
    const body = String(github.pulls.get(100)?.body);
    expect(body).toContain("- Steps: 6 model turns of at most 50, 6 tool calls; ended: the agent submitted its work");
    expect(body).toContain("- Commands run: `grep -rn combine lib`");
    expect(body).toContain("- Test runs by the agent: 1 (exit 0)");
    expect(body).toContain("- Files read: `lib/ops.js`");
    expect(body).toContain("- Files changed: `lib/ops.js`");
    expect(body).toContain("- Repository guidance read: `AGENTS.md`");
    expect(body).toContain("- Scope granted beyond the plan: `lib/ops.js`");
  });
});
