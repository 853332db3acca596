// Shared pieces of the intake tests: a scripted manager model that runs through the providers' real
// structured-output loop (so re-asks happen exactly as in production), GitHub behind nock for one repository,
// `issues` payloads built from the real webhook examples, and a wait that leaves employees' jobs alone.
import { actionTurn } from "../../src/models/action-protocol.js";
import type { ToolTurnRequest, ToolTurnResult } from "../../src/models/tool-calling.js";
import nock from "nock";
import pino from "pino";
import { AuditLog } from "../../src/audit/append.js";
import { loadPolicySet } from "../../src/config/policy-files.js";
import { CircuitBreaker } from "../../src/models/circuit-breaker.js";
import { createGitHubAccess } from "../../src/github/octokit.js";
import { createModelRegistry, defaultWorkspaceOptions, type Services } from "../../src/services.js";
import type { z } from "zod";
import type { Employee } from "../../src/config/policy-files.js";
import type { ModelClient, StructuredRequest, StructuredResult, ChatMessage } from "../../src/models/model-client.js";
import { generateStructured } from "../../src/models/structured-output.js";
import type { TaskPlan } from "../../src/manager/plan.js";
import { GITHUB_API, type Harness } from "../helpers/harness.js";
import type { TestDatabase } from "../helpers/database.js";
import { examplePayload, testPrivateKey, testSecret } from "../helpers/webhooks.js";
import { loadConfig } from "../../src/config/env.js";

export const INSTALLATION_ID = 4242;

/** What a scripted model does on one call: reply with text, fail like a provider, or crash the job. */
export type Step = { text: string } | { fail: "server" | "timeout" } | { crash: string };

class ScriptedFailure extends Error {
  constructor(readonly kind: "server" | "timeout") {
    super(`scripted ${kind} failure`);
  }
}

/** Scripted replies per employee id, consumed in order; every call's messages are recorded. */
export function scriptedModels() {
  const queues = new Map<string, Step[]>();
  const calls: { employeeId: string; messages: ChatMessage[] }[] = [];
  const override = (employee: Employee): ModelClient => ({
    provider: employee.provider,
    model: employee.model,
    // Agent turns go through the scripted structured replies as actions (one tool call per turn).
    turn(request: ToolTurnRequest): Promise<ToolTurnResult> {
      return actionTurn(this, request);
    },
    generate<S extends z.ZodType>(request: StructuredRequest<S>): Promise<StructuredResult<z.infer<S>>> {
      const queue = queues.get(employee.id) ?? [];
      const head = queue[0];
      if (head && "crash" in head) {
        queue.shift();
        return Promise.reject(new Error(head.crash));
      }
      return generateStructured({
        provider: employee.provider,
        model: employee.model,
        request,
        call: ({ messages }) => {
          calls.push({ employeeId: employee.id, messages: [...messages] });
          const step = queue.shift();
          if (!step) return Promise.reject(new ScriptedFailure("server"));
          if ("fail" in step) return Promise.reject(new ScriptedFailure(step.fail));
          if ("crash" in step) return Promise.reject(new Error(step.crash));
          return Promise.resolve({ text: step.text, usage: { input: 1000, cachedInput: 0, output: 200 } });
        },
        classify: (error) =>
          error instanceof ScriptedFailure ? { kind: error.kind, message: error.message, status: 500 } : { kind: "server", message: String(error) },
        cost: () => 0.001,
      });
    },
  });
  return {
    override,
    calls,
    script(employeeId: string, ...steps: Step[]) {
      queues.set(employeeId, [...(queues.get(employeeId) ?? []), ...steps]);
    },
    reset() {
      queues.clear();
      calls.length = 0;
    },
    remaining(employeeId: string) {
      return queues.get(employeeId)?.length ?? 0;
    },
  };
}

export function planText(plan: TaskPlan): { text: string } {
  return { text: JSON.stringify(plan) };
}

export function task(id: string, overrides: Partial<TaskPlan["tasks"][number]> = {}): TaskPlan["tasks"][number] {
  return {
    id,
    title: `Do ${id}`,
    instructions: `Implement ${id}.`,
    taskClass: "feature",
    scope: [`src/${id}/**`],
    acceptance: [`tests for ${id} pass`],
    dependsOn: [],
    estimate: { tokens: 20_000, usd: 0.2 },
    ...overrides,
  };
}

export type IssueOptions = {
  repo: string;
  issue: number;
  label?: string;
  sender?: string;
  senderType?: "User" | "Bot";
  title?: string;
  body?: string;
  labels?: string[];
  state?: "open" | "closed";
};

/** An `issues` delivery body for `action`, from the real example payload with our repository and issue. */
export function issuesPayload(action: "labeled" | "unlabeled" | "closed" | "reopened", options: IssueOptions): Record<string, unknown> {
  // The examples have no `closed` or `reopened` issue; the shape is the same as `labeled` without the label.
  const { label: _label, ...base } = examplePayload("issues", "labeled");
  const [owner = "", name = ""] = options.repo.split("/");
  const label = options.label ?? "aura:requirement";
  const repository = base.repository as Record<string, unknown>;
  const issue = base.issue as Record<string, unknown>;
  const sender = base.sender as Record<string, unknown>;
  const labels = options.labels ?? (action === "unlabeled" ? [] : [label]);
  return {
    ...base,
    action,
    ...(action === "labeled" || action === "unlabeled" ? { label: { id: 1, name: label, color: "5319e7", default: false } } : {}),
    repository: {
      ...repository,
      full_name: options.repo,
      name,
      owner: { ...(repository.owner as object), login: owner },
      default_branch: "main",
      private: false,
    },
    issue: {
      ...issue,
      number: options.issue,
      title: options.title ?? "Add a CSV export",
      body: options.body ?? "Users want to export their reports as CSV.",
      state: options.state ?? (action === "closed" ? "closed" : "open"),
      labels: labels.map((name, index) => ({ id: 100 + index, name, color: "ededed", default: false })),
    },
    sender: { ...sender, login: options.sender ?? "maintainer", type: options.senderType ?? "User" },
    installation: { id: INSTALLATION_ID, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ==" },
  };
}

export type RepoMocks = {
  /** Bodies of comments created, in order. */
  created: { issue: number; body: string }[];
  /** Bodies of comment edits, in order. */
  edited: { id: number; body: string }[];
};

/**
 * GitHub for one repository: the config file (404 = defaults, or YAML text), the tree, README and package.json,
 * and comments (persisted, optional: the tests assert the recorded bodies instead).
 */
export function mockRepository(repo: string, options: { config?: string | null; nextCommentId?: number; failEdits?: number } = {}): RepoMocks {
  const mocks: RepoMocks = { created: [], edited: [] };
  let failEdits = options.failEdits ?? 0;
  let nextId = options.nextCommentId ?? 9000;
  const comments: { id: number; body: string; user: { login: string; type: string } }[] = [];
  const config = options.config ?? null;
  nock(GITHUB_API)
    .persist()
    .get(new RegExp(`^/repos/${repo}/contents/\\.github(/|%2F)aura\\.yml`))
    .optionally()
    .reply(() =>
      config === null ? [404, { message: "Not Found" }] : [200, { type: "file", encoding: "base64", content: Buffer.from(config).toString("base64") }],
    )
    .get(new RegExp(`^/repos/${repo}/issues/\\d+/comments`))
    .optionally()
    .reply(() => [200, comments])
    .post(new RegExp(`^/repos/${repo}/issues/(\\d+)/comments$`))
    .optionally()
    .reply((uri, body) => {
      const issue = Number(/issues\/(\d+)\/comments/.exec(uri)?.[1]);
      const text = (body as { body: string }).body;
      const comment = { id: nextId++, body: text, user: { login: "aura-orchestra[bot]", type: "Bot" } };
      comments.push(comment);
      mocks.created.push({ issue, body: text });
      return [201, comment];
    })
    .patch(new RegExp(`^/repos/${repo}/issues/comments/(\\d+)$`))
    .optionally()
    .reply((uri, body) => {
      if (failEdits > 0) {
        failEdits -= 1;
        return [403, { message: "Resource not accessible by integration (simulated)" }];
      }
      const id = Number(/comments\/(\d+)$/.exec(uri)?.[1]);
      const text = (body as { body: string }).body;
      const comment = comments.find((c) => c.id === id);
      if (comment) comment.body = text;
      mocks.edited.push({ id, body: text });
      return [200, { id, body: text }];
    });
  return mocks;
}

/** The reads of planning (tree, README, package.json): once each, so the test fails if they are not made. */
export function mockRepoView(repo: string, files = ["README.md", "package.json", "src/index.ts", "src/report.ts", "test/report.test.ts"]) {
  return nock(GITHUB_API)
    .get(`/repos/${repo}/git/trees/main`)
    .query({ recursive: "1" })
    .reply(200, { sha: "a".repeat(40), truncated: false, tree: files.map((path) => ({ path, type: "blob", size: 100 })) })
    .get(`/repos/${repo}/readme`)
    .query({ ref: "main" })
    .reply(200, { type: "file", encoding: "base64", content: Buffer.from("# Widgets\nReports for widgets.").toString("base64") })
    .get(`/repos/${repo}/contents/package.json`)
    .query({ ref: "main" })
    .reply(200, { type: "file", encoding: "base64", size: 40, content: Buffer.from('{"name":"widgets","scripts":{"test":"vitest"}}').toString("base64") });
}

export function mockPermission(repo: string, username: string, role: string) {
  return nock(GITHUB_API)
    .get(`/repos/${repo}/collaborators/${username}/permission`)
    .reply(200, { permission: role === "triage" ? "read" : role, role_name: role, user: { login: username } });
}

/** Waits until no job other than the Employees' `task.work` is waiting or running; throws on a failed job. */
export async function waitForManager(db: TestDatabase, options: { timeoutMs?: number; allowRetries?: boolean } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.pool.query<{ identifier: string; last_error: string | null; locked: boolean }>(
      "SELECT task_identifier AS identifier, last_error, locked_at IS NOT NULL AS locked FROM graphile_worker.jobs WHERE task_identifier <> 'task.work'",
    );
    const failed = rows.find((row) => row.last_error !== null && !row.locked);
    if (failed && !options.allowRetries) throw new Error(`job ${failed.identifier} failed: ${failed.last_error}`);
    if (rows.length === 0) return;
    if (Date.now() > deadline) throw new Error(`jobs still pending: ${rows.map((row) => row.identifier).join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function requirementOf(db: TestDatabase, repo: string, issue: number) {
  const { rows } = await db.pool.query<{ id: number; state: string; plan: TaskPlan | null; plan_problems: string | null; plan_revision: number }>(
    "SELECT id, state, plan, plan_problems #>> '{}' AS plan_problems, plan_revision FROM requirements WHERE repo = $1 AND issue_number = $2",
    [repo, issue],
  );
  return rows[0];
}

export async function auditActions(db: TestDatabase, subject: string): Promise<{ action: string; payload: Record<string, unknown> }[]> {
  const { rows } = await db.pool.query<{ action: string; payload: Record<string, unknown> }>(
    "SELECT action, payload FROM audit.events WHERE subject = $1 ORDER BY seq",
    [subject],
  );
  return rows;
}

/** The services a job gets, over the harness's database, for calling the Manager's functions directly. */
export function servicesFor(
  harness: Pick<Harness, "config"> & { db: Pick<TestDatabase, "pool"> },
  modelOverride?: (employee: Employee) => ModelClient,
): Services {
  const log = pino({ level: "silent" });
  const breaker = new CircuitBreaker();
  return {
    config: harness.config,
    pool: harness.db.pool,
    audit: new AuditLog(harness.db.pool),
    log,
    github: createGitHubAccess({
      appId: Number(harness.config.APP_ID),
      privateKey: harness.config.privateKey ?? "",
      baseUrl: harness.config.githubApiUrl,
      log,
    }),
    policies: loadPolicySet(),
    breaker,
    modelFor: createModelRegistry(harness.config, breaker, modelOverride),
    workspace: defaultWorkspaceOptions(harness.config, harness.config.botIdentity),
    sandbox: { allowUnsandboxed: false },
    now: () => new Date(),
  };
}

/** Lets a job that failed once run again now instead of after graphile-worker's back-off. */
export async function retryFailedJobsNow(db: TestDatabase, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.pool.query<{ last_error: string }>(
      `SELECT last_error FROM graphile_worker.reschedule_jobs(
         ARRAY(SELECT id FROM graphile_worker.jobs WHERE last_error IS NOT NULL AND locked_at IS NULL AND attempts < max_attempts),
         run_at => now())`,
    );
    if (rows[0]) return rows[0].last_error;
    if (Date.now() > deadline) throw new Error("no job failed");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A configuration like the harness's, for tests that use a database without the running app. */
export function testConfig(databaseUrl: string, env: Record<string, string> = {}) {
  return loadConfig({ APP_ID: "123", PRIVATE_KEY: testPrivateKey, WEBHOOK_SECRET: testSecret, DATABASE_URL: databaseUrl, ...env });
}
