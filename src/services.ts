// What every role's jobs and duties get: the database, the audit log, GitHub access, the policies, model
// clients, and the workspace and sandbox settings. Built once by the composition root (src/server/start.ts).
import path from "node:path";
import type pg from "pg";
import type { Logger } from "pino";
import type { AuditLog } from "./audit/append.js";
import type { AppConfig } from "./config/env.js";
import type { Employee, PolicySet } from "./config/policy-files.js";
import { CircuitBreaker, withCircuitBreaker } from "./models/circuit-breaker.js";
import type { ModelClient } from "./models/model-client.js";
import { createModelClient } from "./models/providers/index.js";
import type { GitHubAccess } from "./github/octokit.js";
import type { Dispatcher } from "./queue/dispatch.js";
import type { JobDefinition } from "./queue/halt.js";
import type { Duty } from "./queue/leader.js";
import type { SandboxOptions, WorkspaceOptions } from "./workspace/index.js";

export type Services = {
  config: AppConfig;
  pool: pg.Pool;
  audit: AuditLog;
  log: Logger;
  github: GitHubAccess;
  policies: PolicySet;
  /** The model client for an employee, behind the per-employee circuit breaker. */
  modelFor: (employee: Employee) => ModelClient;
  breaker: CircuitBreaker;
  workspace: WorkspaceOptions;
  sandbox: SandboxOptions;
  now: () => Date;
};

/**
 * A role's contribution to the running app: which deliveries start its jobs, its jobs (each declaring whether it
 * stops while its installation is halted), its leader duties.
 */
export type Role = {
  name: string;
  dispatch?: Dispatcher;
  tasks?: (services: Services) => Record<string, JobDefinition>;
  /** `registry.dispatchAll`: every role's dispatcher composed (a duty that re-dispatches missed deliveries needs it). */
  duties?: (services: Services, registry: { dispatchAll: Dispatcher }) => Duty[];
};

export function createModelRegistry(config: AppConfig, breaker: CircuitBreaker, override?: (employee: Employee) => ModelClient) {
  const clients = new Map<string, ModelClient>();
  return (employee: Employee): ModelClient => {
    const cached = clients.get(employee.id);
    if (cached) return cached;
    const client = withCircuitBreaker(override ? override(employee) : createModelClient(employee, config), breaker, employee.id);
    clients.set(employee.id, client);
    return client;
  };
}

export function defaultWorkspaceOptions(config: AppConfig, identity: WorkspaceOptions["identity"]): WorkspaceOptions {
  return { root: path.resolve(config.AURA_DATA_DIR, "workspaces"), identity, allowLocalClone: config.AURA_ALLOW_LOCAL_CLONE };
}
