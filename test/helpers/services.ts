// Services for tests that call role functions directly (no HTTP server): a real database, the real
// policies, GitHub access through nock, and scripted models when given.
import pino from "pino";
import { AuditLog } from "../../src/audit/append.js";
import { loadConfig } from "../../src/config/env.js";
import { loadPolicySet, type Employee, type PolicySet, type WorkMode } from "../../src/config/policy-files.js";
import { CircuitBreaker } from "../../src/models/circuit-breaker.js";
import type { ModelClient } from "../../src/models/model-client.js";
import { createGitHubAccess } from "../../src/github/octokit.js";
import { createModelRegistry, defaultWorkspaceOptions, type Services } from "../../src/services.js";
import type { TestDatabase } from "./database.js";
import { testPrivateKey, testSecret } from "./webhooks.js";

/**
 * The real policies with every employee's `tools` set. Scripted model doubles answer structured messages
 * (TaskPlan, EditSet), so a test that scripts its models runs its employees single-shot (`none`) unless it
 * asks for the agent (`native`, `actions`). The revision stays the file's, so routing seeds do not change.
 */
export function testPolicies(tools: WorkMode | undefined): PolicySet {
  const policies = loadPolicySet();
  if (tools === undefined) return policies;
  return { ...policies, employees: { ...policies.employees, employees: policies.employees.employees.map((employee) => ({ ...employee, tools })) } };
}

export function testServices(
  db: TestDatabase,
  options: { env?: Record<string, string>; modelOverride?: (employee: Employee) => ModelClient; now?: () => Date; employeeTools?: WorkMode } = {},
): Services {
  const config = loadConfig({
    APP_ID: "123",
    PRIVATE_KEY: testPrivateKey,
    WEBHOOK_SECRET: testSecret,
    DATABASE_URL: db.url,
    AURA_ALLOW_LOCAL_CLONE: "true",
    OPENAI_API_KEY: "sk-test",
    GEMINI_API_KEY: "gemini-test",
    ...options.env,
  });
  const log = pino({ level: process.env.AURA_TEST_LOG ?? "silent" });
  const breaker = new CircuitBreaker();
  return {
    config,
    pool: db.pool,
    audit: new AuditLog(db.pool),
    log,
    github: createGitHubAccess({ appId: 123, privateKey: testPrivateKey, baseUrl: config.githubApiUrl, log, writeIntervalMs: 0 }),
    policies: testPolicies(options.employeeTools ?? (options.modelOverride ? "none" : undefined)),
    breaker,
    modelFor: createModelRegistry(config, breaker, options.modelOverride),
    workspace: defaultWorkspaceOptions(config, config.botIdentity),
    sandbox: { allowUnsandboxed: false },
    now: options.now ?? (() => new Date()),
  };
}

/** Inserts a requirement and its tasks directly (tests that start after planning). */
export async function insertRequirement(
  db: TestDatabase,
  input: {
    installationId?: number;
    repo?: string;
    issueNumber?: number;
    state?: string;
    tasks: { key: string; title?: string; taskClass?: string; scope?: string[]; dependsOn?: string[]; estimateTokens?: number; estimateUsd?: number }[];
  },
): Promise<{ requirementId: number; taskIds: Record<string, number> }> {
  const installationId = input.installationId ?? 1;
  await db.pool.query("INSERT INTO installations (id, account) VALUES ($1, 'octo-org') ON CONFLICT DO NOTHING", [installationId]);
  const requirement = await db.pool.query<{ id: number }>(
    `INSERT INTO requirements (installation_id, repo, issue_number, title, state) VALUES ($1, $2, $3, 'Test requirement', $4) RETURNING id`,
    [installationId, input.repo ?? "octo-org/widgets", input.issueNumber ?? 7, input.state ?? "in_progress"],
  );
  const requirementId = Number(requirement.rows[0]?.id);
  const taskIds: Record<string, number> = {};
  for (const task of input.tasks) {
    const row = await db.pool.query<{ id: number }>(
      `INSERT INTO tasks (requirement_id, task_key, title, instructions, task_class, scope, depends_on, estimate_tokens, estimate_usd)
       VALUES ($1, $2, $3, 'Do the thing.', $4, $5, $6, $7, $8) RETURNING id`,
      [
        requirementId,
        task.key,
        task.title ?? `Task ${task.key}`,
        task.taskClass ?? "bugfix",
        task.scope ?? ["src/**"],
        task.dependsOn ?? [],
        task.estimateTokens ?? 20_000,
        task.estimateUsd ?? 0.2,
      ],
    );
    taskIds[task.key] = Number(row.rows[0]?.id);
  }
  return { requirementId, taskIds };
}
