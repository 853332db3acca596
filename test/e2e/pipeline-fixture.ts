// The pieces of the whole-company test: a tiny npm project in a local bare repository (the clone source), a
// scripted model that plays both the manager (a TaskPlan) and the employee (an EditSet) through the providers'
// real structured-output loop, and webhook deliveries built from @octokit/webhooks-examples and the fake
// GitHub's own records, so what is delivered is what GitHub would send for the state it holds.
import { actionTurn } from "../../src/models/action-protocol.js";
import type { ToolTurnRequest, ToolTurnResult } from "../../src/models/tool-calling.js";
import type { z } from "zod";
import type { Employee } from "../../src/config/policy-files.js";
import type { EditSet } from "../../src/employees/edits.js";
import type { ModelClient, StructuredRequest, StructuredResult } from "../../src/models/model-client.js";
import { generateStructured } from "../../src/models/structured-output.js";
import type { TaskPlan } from "../../src/manager/plan.js";
import { examplePayload } from "../helpers/webhooks.js";
import type { FakeGitHub } from "./fake-github.js";

/** The routed employee's one model call costs this much (the manager's planning call is not a task's cost). */
export const CALL_COST_USD = 0.0375;

/** An npm project whose `npm test` is `node --test`, with a bug in `add`; setup and tests need no network. */
export const PROJECT: Record<string, string> = {
  ".github/aura.yml": ["setup: npm ci --offline --no-audit --no-fund", "test: npm test", ""].join("\n"),
  "README.md": "# widgets\n\nSmall arithmetic helpers.\n",
  "package.json": `${JSON.stringify({ name: "widgets", version: "1.0.0", private: true, scripts: { test: "node --test" } }, null, 2)}\n`,
  "package-lock.json": `${JSON.stringify(
    { name: "widgets", version: "1.0.0", lockfileVersion: 3, requires: true, packages: { "": { name: "widgets", version: "1.0.0" } } },
    null,
    2,
  )}\n`,
  "src/math.js": "exports.add = (a, b) => a - b;\n\nexports.double = (a) => a * 2;\n",
  "test/math.test.js": [
    "const test = require('node:test');",
    "const assert = require('node:assert');",
    "const { add, double } = require('../src/math.js');",
    "test('doubles', () => assert.strictEqual(double(4), 8));",
    "",
  ].join("\n"),
};

export const PLAN: TaskPlan = {
  summary: "Fix add() and cover it with a test.",
  tasks: [
    {
      id: "fix-add",
      title: "Fix add()",
      instructions: "add(a, b) subtracts; make it add and test it.",
      taskClass: "bugfix",
      scope: ["src/math.js", "test/math.test.js"],
      acceptance: ["add(2, 3) is 5", "npm test passes"],
      dependsOn: [],
      estimate: { tokens: 20_000, usd: 0.2 },
    },
  ],
};

/** The employee's reply: a change inside the task's scope, with a test for it (the suite then has 3 tests). */
export const FIX: EditSet = {
  summary: "add() adds now; two tests cover it.",
  edits: [
    {
      path: "src/math.js",
      kind: "replace",
      content: null,
      blocks: [{ search: "exports.add = (a, b) => a - b;", replace: "exports.add = (a, b) => a + b;" }],
    },
    {
      path: "test/math.test.js",
      kind: "replace",
      content: null,
      blocks: [
        {
          search: "test('doubles', () => assert.strictEqual(double(4), 8));",
          replace: [
            "test('doubles', () => assert.strictEqual(double(4), 8));",
            "test('adds', () => assert.strictEqual(add(2, 3), 5));",
            "test('adds negatives', () => assert.strictEqual(add(-2, -3), -5));",
          ].join("\n"),
        },
      ],
    },
  ],
};

/**
 * One scripted client for every employee: a `TaskPlan` request gets the plan, an `EditSet` request the fix,
 * both as JSON text through the providers' real structured-output loop. Every call is recorded.
 */
export function scriptedCompany() {
  const calls: { employeeId: string; name: string }[] = [];
  const override = (employee: Employee): ModelClient => ({
    provider: employee.provider,
    model: employee.model,
    // Agent turns go through the scripted structured replies as actions (one tool call per turn).
    turn(request: ToolTurnRequest): Promise<ToolTurnResult> {
      return actionTurn(this, request);
    },
    generate<S extends z.ZodType>(request: StructuredRequest<S>): Promise<StructuredResult<z.infer<S>>> {
      return generateStructured({
        provider: employee.provider,
        model: employee.model,
        request,
        call: () => {
          calls.push({ employeeId: employee.id, name: request.name });
          const reply = request.name === "TaskPlan" ? PLAN : request.name === "EditSet" ? FIX : undefined;
          if (reply === undefined) return Promise.reject(new Error(`no script for ${request.name}`));
          return Promise.resolve({ text: JSON.stringify(reply), usage: { input: 2000, cachedInput: 0, output: 400 } });
        },
        classify: (error) => ({ kind: "server", message: String(error) }),
        cost: () => CALL_COST_USD,
      });
    },
  });
  return { calls, override };
}

type Loose = Record<string, unknown>;
const loose = (value: unknown): Loose => (value !== null && typeof value === "object" ? (value as Loose) : {});

/** `issues.labeled` by `sender` for the fake's repository and issue. */
export function labeledPayload(
  github: FakeGitHub,
  input: { installationId: number; issue: { number: number; title: string; body: string }; sender: string },
): Loose {
  const payload = examplePayload("issues", "labeled");
  const label = { id: 1, node_id: "LA_aura", name: "aura:requirement", color: "5319e7", default: false, description: null };
  return {
    ...payload,
    label,
    issue: { ...loose(payload.issue), number: input.issue.number, title: input.issue.title, body: input.issue.body, state: "open", labels: [label] },
    repository: { ...loose(payload.repository), ...github.repositoryJson() },
    sender: { ...loose(payload.sender), ...github.userJson(input.sender) },
    installation: { id: input.installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u" },
  };
}

/** A `pull_request` delivery carrying the pull request exactly as the fake GitHub now holds it. */
export function pullPayload(github: FakeGitHub, input: { action: "opened" | "closed"; number: number; installationId: number; sender: string }): Loose {
  const payload = examplePayload("pull_request", input.action);
  return {
    ...payload,
    action: input.action,
    number: input.number,
    pull_request: github.pullJson(input.number),
    repository: { ...loose(payload.repository), ...github.repositoryJson() },
    sender: { ...loose(payload.sender), ...github.userJson(input.sender) },
    installation: { id: input.installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u" },
  };
}

/** `issue_comment.created` on an issue (not a pull request). */
export function commentPayload(github: FakeGitHub, input: { installationId: number; issue: number; body: string; login: string; commentId: number }): Loose {
  const payload = examplePayload("issue_comment", "created");
  const issue: Loose = { ...loose(payload.issue), number: input.issue, state: "open" };
  delete issue.pull_request;
  return {
    ...payload,
    issue,
    comment: { ...loose(payload.comment), id: input.commentId, body: input.body, user: github.userJson(input.login) },
    repository: { ...loose(payload.repository), ...github.repositoryJson() },
    sender: { ...loose(payload.sender), ...github.userJson(input.login) },
    installation: { id: input.installationId, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u" },
  };
}
