// Fixtures for the work-loop tests and the task benchmark: a small in-memory GitHub behind nock (pull requests,
// issue comments, installation tokens; every request recorded), scripted employees, and a task that is routed
// through the real router against a local bare repository.
import { actionTurn } from "../../src/models/action-protocol.js";
import type { ToolTurnRequest, ToolTurnResult } from "../../src/models/tool-calling.js";
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import nock from "nock";
import { afterAll, afterEach, beforeAll } from "vitest";
import type { z } from "zod";
import type { Employee, WorkMode } from "../../src/config/policy-files.js";
import type { RepoConfigInput } from "../../src/config/repo-config.js";
import type { EditSet } from "../../src/employees/edits.js";
import {
  ModelCallError,
  type ChatMessage,
  type ModelClient,
  type StructuredRequest,
  type StructuredResult,
  type Usage,
} from "../../src/models/model-client.js";
import { routeTask } from "../../src/manager/assign.js";
import { inTransaction } from "../../src/core/transitions.js";
import type { Services } from "../../src/services.js";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { setUp, unthrottledGitHub } from "../helpers/harness.js";
export { unthrottledGitHub };
import { insertRequirement, testServices } from "../helpers/services.js";
import { createBareRemote, makeTempDir, type BareRemote } from "../workspace/git-fixture.js";

export const GITHUB_API = "https://api.github.com";
export const INSTALLATION_TOKEN = "ghs_workloopinstallationtoken0000000000";

export type RecordedRequest = { method: string; path: string; body: Record<string, unknown> | undefined; at: number };
type Pull = { number: number; head: string; base: string; title: string; body: string; draft: boolean; state: "open" | "closed" };

export type FakeGitHub = {
  requests: RecordedRequest[];
  pulls: Map<number, Pull>;
  comments: Map<number, { id: number; issue: number; body: string }>;
  /** Requests matching a method and a path pattern. */
  count: (method: string, path: RegExp) => number;
};

/** A GitHub that keeps pull requests and comments in memory. `draftUnsupported` answers drafts with 422. */
export function fakeGitHub(options: { draftUnsupported?: boolean; origin?: string } = {}): FakeGitHub {
  const requests: RecordedRequest[] = [];
  const pulls = new Map<number, Pull>();
  const comments = new Map<number, { id: number; issue: number; body: string }>();
  let nextPull = 100;
  let nextComment = 9000;
  const route = (method: string, uri: string, body: Record<string, unknown> | undefined): [number, unknown] => {
    const url = new URL(uri, "https://api.github.com");
    requests.push({ method, path: url.pathname, body, at: performance.now() });
    const p = url.pathname;
    let match: RegExpExecArray | null;
    if (method === "POST" && /^\/app\/installations\/\d+\/access_tokens$/.test(p)) {
      return [201, { token: INSTALLATION_TOKEN, expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: {}, repository_selection: "all" }];
    }
    if (method === "GET" && /^\/repos\/[^/]+\/[^/]+\/pulls$/.test(p)) {
      const head = url.searchParams.get("head") ?? "";
      const branch = head.includes(":") ? head.split(":")[1] : head;
      return [200, [...pulls.values()].filter((pull) => pull.state === "open" && (head === "" || pull.head === branch)).map(pullJson)];
    }
    if (method === "POST" && /^\/repos\/[^/]+\/[^/]+\/pulls$/.test(p)) {
      if (options.draftUnsupported && body?.draft === true) {
        return [
          422,
          {
            message: "Validation Failed",
            errors: [{ resource: "PullRequest", code: "custom", message: "Draft pull requests are not supported in this repository." }],
          },
        ];
      }
      if ([...pulls.values()].some((pull) => pull.state === "open" && pull.head === String(body?.head))) {
        return [
          422,
          {
            message: "Validation Failed",
            errors: [{ resource: "PullRequest", code: "custom", message: `A pull request already exists for octo-org:${String(body?.head)}.` }],
          },
        ];
      }
      const pull: Pull = {
        number: nextPull++,
        head: String(body?.head),
        base: String(body?.base),
        title: String(body?.title),
        body: String(body?.body ?? ""),
        draft: body?.draft === true,
        state: "open",
      };
      pulls.set(pull.number, pull);
      return [201, pullJson(pull)];
    }
    if (method === "PATCH" && (match = /^\/repos\/[^/]+\/[^/]+\/pulls\/(\d+)$/.exec(p))) {
      const pull = pulls.get(Number(match[1]));
      if (!pull) return [404, { message: "Not Found" }];
      if (typeof body?.body === "string") pull.body = body.body;
      return [200, pullJson(pull)];
    }
    if (method === "GET" && (match = /^\/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(p))) {
      const issue = Number(match[1]);
      return [
        200,
        [...comments.values()].filter((c) => c.issue === issue).map((c) => ({ id: c.id, body: c.body, user: { login: "aura-orchestra[bot]", type: "Bot" } })),
      ];
    }
    if (method === "POST" && (match = /^\/repos\/[^/]+\/[^/]+\/issues\/(\d+)\/comments$/.exec(p))) {
      const comment = { id: nextComment++, issue: Number(match[1]), body: String(body?.body) };
      comments.set(comment.id, comment);
      return [201, { id: comment.id, body: comment.body }];
    }
    if (method === "PATCH" && (match = /^\/repos\/[^/]+\/[^/]+\/issues\/comments\/(\d+)$/.exec(p))) {
      const comment = comments.get(Number(match[1]));
      if (!comment) return [404, { message: "Not Found" }];
      comment.body = String(body?.body);
      return [200, { id: comment.id, body: comment.body }];
    }
    return [404, { message: `fake GitHub has no route for ${method} ${p}` }];
  };
  const scope = nock(options.origin ?? GITHUB_API).persist();
  for (const method of ["GET", "POST", "PATCH", "PUT", "DELETE"] as const) {
    scope
      .intercept(/.*/, method)
      .optionally()
      .reply((uri, body) => {
        const parsed = typeof body === "string" && body !== "" ? (JSON.parse(body) as Record<string, unknown>) : (body as Record<string, unknown> | undefined);
        const [status, json] = route(method, uri, parsed && typeof parsed === "object" ? parsed : undefined);
        return [status, JSON.stringify(json), { "content-type": "application/json" }];
      });
  }
  return {
    requests,
    pulls,
    comments,
    count: (method, path) => requests.filter((request) => request.method === method && path.test(request.path)).length,
  };
}

function pullJson(pull: Pull) {
  return { number: pull.number, title: pull.title, body: pull.body, draft: pull.draft, state: pull.state, head: { ref: pull.head }, base: { ref: pull.base } };
}

export type ScriptCall = { employeeId: string; index: number; messages: ChatMessage[] };
export type ScriptStep = EditSet | ModelCallError | ((call: ScriptCall) => EditSet | ModelCallError);

/**
 * Employees that answer from a script (zero latency): one step per call, in order, shared by all employees;
 * the last step repeats. A ModelCallError step is thrown as the provider's failure.
 */
export function scriptedEmployees(steps: ScriptStep[], usage: Usage = { input: 1200, cachedInput: 0, output: 300 }) {
  const calls: ScriptCall[] = [];
  const override = (employee: Employee): ModelClient => ({
    provider: employee.provider,
    model: employee.model,
    // Agent turns go through the scripted structured replies as actions (one tool call per turn).
    turn(request: ToolTurnRequest): Promise<ToolTurnResult> {
      return actionTurn(this, request);
    },
    async generate<S extends z.ZodType>(request: StructuredRequest<S>): Promise<StructuredResult<z.infer<S>>> {
      const call: ScriptCall = { employeeId: employee.id, index: calls.length, messages: request.messages.map((m) => ({ ...m })) };
      calls.push(call);
      const step = steps[Math.min(call.index, steps.length - 1)];
      const value = typeof step === "function" ? step(call) : step;
      if (value === undefined) throw new Error("script has no steps");
      if (value instanceof ModelCallError) throw value;
      return {
        value: request.schema.parse(value) as z.infer<S>,
        usage,
        costUsd: (usage.input * 0.4 + usage.output * 1.6) / 1e6,
        attempts: 1,
        reasks: [],
        model: employee.model,
        provider: employee.provider,
        durationMs: 0,
      };
    },
  });
  return { calls, override };
}

export const write = (path: string, content: string): EditSet["edits"][number] => ({ path, kind: "write", content, blocks: null });
export const replace = (path: string, search: string, replacement: string): EditSet["edits"][number] => ({
  path,
  kind: "replace",
  content: null,
  blocks: [{ search, replace: replacement }],
});
export const edits = (summary: string, ...list: EditSet["edits"]): EditSet => ({ summary, edits: list });

/** The two tests of src/math.js's `add` and `double` (node:test, no dependencies). */
export const MATH_TESTS = [
  "const test = require('node:test');",
  "const assert = require('node:assert');",
  "const { add, double } = require('../src/math.js');",
  "test('adds', () => assert.strictEqual(add(2, 3), 5));",
  "test('doubles', () => assert.strictEqual(double(4), 8));",
  "",
].join("\n");

/** A tiny Node project with a bug in `add` and two tests for it (node:test, no dependencies). */
export const BUGGY_PROJECT: Record<string, string> = {
  "README.md": "# widgets\n",
  "src/math.js": "exports.add = (a, b) => a - b;\n\nexports.double = (a) => a * 2;\n",
  "test/math.test.js": MATH_TESTS,
};

export const FIX_ADD = replace("src/math.js", "exports.add = (a, b) => a - b;", "exports.add = (a, b) => a + b;");

export type TaskFixture = { taskId: number; requirementId: number; remote: BareRemote; employeeId: string; issueNumber: number; repo: string };

let issueCounter = 100;

/**
 * A requirement with one task (or more), its repository a local bare remote holding `files`, the delivery
 * that names it, and the task routed by the real router (inside a transaction, as the Manager does).
 */
export async function createTaskFixture(
  db: TestDatabase,
  services: Services,
  input: {
    parent: string;
    files?: Record<string, string>;
    config?: RepoConfigInput;
    scope?: string[];
    taskClass?: string;
    title?: string;
    extraTasks?: number;
    installationId?: number;
    repo?: string;
    remote?: BareRemote;
  },
): Promise<TaskFixture> {
  const issueNumber = issueCounter++;
  const repo = input.repo ?? `octo-org/widgets-${issueNumber}`;
  const remote = input.remote ?? createBareRemote(input.parent, input.files ?? BUGGY_PROJECT);
  const extra = Array.from({ length: input.extraTasks ?? 0 }, (_, index) => ({ key: `other-${index}`, scope: ["docs/**"] }));
  const { requirementId, taskIds } = await insertRequirement(db, {
    installationId: input.installationId ?? 1,
    repo,
    issueNumber,
    tasks: [
      { key: "fix-add", title: input.title ?? "Fix add()", taskClass: input.taskClass ?? "bugfix", scope: input.scope ?? ["src/**", "test/**"] },
      ...extra,
    ],
  });
  const config = { test: "node --test test/*.test.js", ...input.config };
  await db.pool.query("UPDATE requirements SET repo_config = $2, default_branch = 'main' WHERE id = $1", [requirementId, JSON.stringify(config)]);
  await db.pool.query(
    `INSERT INTO webhook_deliveries (delivery_id, event, action, installation_id, repository, payload) VALUES ($1, 'issues', 'labeled', $2, $3, $4)`,
    [randomUUID(), input.installationId ?? 1, repo, JSON.stringify({ repository: { full_name: repo, clone_url: remote.url, default_branch: "main" } })],
  );
  const taskId = taskIds["fix-add"] as number;
  const routed = await inTransaction(db.pool, (client) => routeTask(services, client, taskId));
  if (!routed.employeeId) throw new Error(`the router assigned nobody: ${routed.decision.reason}`);
  return { taskId, requirementId, remote, employeeId: routed.employeeId, issueNumber, repo };
}

/**
 * The work-loop tests' set-up: one database and temp dir for the file, nock emptied after each test, and
 * `setup` for a case of its own (a 0711 directory, the app's services on it, GitHub unthrottled). Read in hooks
 * and tests only.
 */
export function useWorkLoop(tempPrefix: string) {
  let db: TestDatabase | undefined;
  let temp: ReturnType<typeof makeTempDir> | undefined;
  let counter = 0;
  beforeAll(async () => {
    db = await createTestDatabase();
    temp = makeTempDir(tempPrefix);
  });
  afterAll(async () => {
    await db?.drop();
    temp?.cleanup();
  });
  afterEach(() => {
    nock.cleanAll();
  });
  const unset = "useWorkLoop sets up in beforeAll: read it in a hook or a test";
  return {
    get db(): TestDatabase {
      return setUp(db, unset);
    },
    /** A directory for one case, with its services (`env` added to the case's AURA_DATA_DIR; employees single-shot unless `employeeTools` says otherwise). */
    setup(options: { override?: (employee: Employee) => ModelClient; env?: Record<string, string>; employeeTools?: WorkMode; now?: () => Date } = {}) {
      const dir = path.join(setUp(temp, unset).dir, `case-${counter++}`);
      mkdirSync(dir, { mode: 0o711 });
      const services = testServices(setUp(db, unset), {
        ...(options.override ? { modelOverride: options.override } : {}),
        // The work tests script single-shot EditSet replies (through doubles or the real SDKs); the agent tests say `native` or `actions`.
        employeeTools: options.employeeTools ?? "none",
        ...(options.now ? { now: options.now } : {}),
        env: { AURA_DATA_DIR: path.join(dir, "data"), ...options.env },
      });
      return { services: { ...services, github: unthrottledGitHub() }, dir };
    },
  };
}
