// Shared set-up for the Director end-to-end tests: an agent task with an open PR (created through routeTask,
// the only assignment path), webhook payloads for comments, closes and reviews, and the GitHub mocks the
// Director's flows call.
import nock from "nock";
import { routeTask } from "../../src/manager/assign.js";
import { inTransaction, transitionTask } from "../../src/core/transitions.js";
import type { Services } from "../../src/services.js";
import { loadPolicySet } from "../../src/config/policy-files.js";
import { CircuitBreaker } from "../../src/models/circuit-breaker.js";
import pino from "pino";
import type pg from "pg";
import { AuditLog } from "../../src/audit/append.js";
import { beforeEach } from "vitest";
import { GITHUB_API, resetGitHub, setUp, useHarness, type Harness, type HarnessOptions } from "../helpers/harness.js";
import { examplePayload } from "../helpers/webhooks.js";

export const INSTALLATION = 4242;
export const OWNER = "octo-org";
export const REPO_NAME = "widgets";
export const REPO = `${OWNER}/${REPO_NAME}`;
export const STATUS_COMMENT_ID = 9001;
export const DIRECTOR = "dana-director";
export const OUTSIDER = "olly-outsider";
export const WRITER = "wes-writer";
/** Provider keys so all three registered employees are routing candidates. */
export const HARNESS_ENV = { OPENAI_API_KEY: "sk-test-not-used", GEMINI_API_KEY: "gemini-test-not-used" };

export type DirectorHarnessOptions = {
  /** Merged over HARNESS_ENV's provider keys. */
  harness?: HarnessOptions;
  /** Each login's permission on REPO, mocked before each test with an absent `.github/aura.yml`. */
  permissions: Record<string, string>;
  /** Mock the status comment refreshes before each test (`status`); left out, a test mocks them itself. */
  statusComments?: boolean;
  /** Mock and record replies and reactions before each test (`github`). */
  replies?: boolean;
};

/**
 * The Director end-to-end tests' set-up: one harness for the file, and before each test GitHub reset (each test
 * records its own GitHub traffic: earlier tests' persisted mocks would swallow it) with the repository's access
 * and, when asked, status comments and replies. Read the accessors in hooks and tests only.
 */
export function useDirectorHarness(options: DirectorHarnessOptions) {
  const started = useHarness({ ...options.harness, env: { ...HARNESS_ENV, ...options.harness?.env } });
  let status: ReturnType<typeof mockStatusComments> | undefined;
  let github: ReturnType<typeof mockReplies> | undefined;
  beforeEach(() => {
    resetGitHub();
    mockRepoAccess(options.permissions);
    if (options.statusComments) status = mockStatusComments();
    if (options.replies) github = mockReplies();
  });
  return {
    get harness(): Harness {
      return started.harness;
    },
    get status(): ReturnType<typeof mockStatusComments> {
      return setUp(status, "useDirectorHarness mocks status comments before each test only with statusComments: true");
    },
    get github(): ReturnType<typeof mockReplies> {
      return setUp(github, "useDirectorHarness records replies before each test only with replies: true");
    },
  };
}

/** Services for calling routeTask from a test against the harness database (no GitHub needed there). */
export function testServices(harness: Harness): Services {
  const pool = harness.db.pool;
  return {
    config: harness.config,
    pool,
    audit: new AuditLog(pool),
    log: pino({ level: "silent" }),
    github: {
      forInstallation: () => {
        throw new Error("tests route without GitHub");
      },
    },
    policies: loadPolicySet(),
    modelFor: () => {
      throw new Error("no model calls in routing");
    },
    breaker: new CircuitBreaker(),
    workspace: { root: harness.dataDir, identity: harness.config.botIdentity, allowLocalClone: true },
    sandbox: { allowUnsandboxed: false },
    now: () => new Date(),
  };
}

export type SeededTask = { requirementId: number; taskId: number; taskKey: string; employeeId: string; prNumber: number; branch: string; issueNumber: number };

let issueCounter = 100;
let prCounter = 500;

/** A requirement in progress with one task routed (director override, so the employee is known) and its PR open. */
export async function seedAgentTask(
  harness: Harness,
  options: {
    employeeId: string;
    taskClass?: string;
    costUsd?: number;
    revisionRounds?: number;
    issueNumber?: number;
    prNumber?: number;
    installationId?: number;
  },
): Promise<SeededTask> {
  const services = testServices(harness);
  const issueNumber = options.issueNumber ?? ++issueCounter;
  const prNumber = options.prNumber ?? ++prCounter;
  const installationId = options.installationId ?? INSTALLATION;
  return inTransaction(harness.db.pool, async (client) => {
    await client.query("INSERT INTO installations (id, account) VALUES ($1, $2) ON CONFLICT DO NOTHING", [installationId, OWNER]);
    const requirement = await client.query<{ id: string }>(
      `INSERT INTO requirements (installation_id, repo, issue_number, title, state, status_comment_id, plan_revision)
       VALUES ($1, $2, $3, 'Add a widget', 'in_progress', $4, 1)
       ON CONFLICT (installation_id, repo, issue_number) DO UPDATE SET title = EXCLUDED.title RETURNING id`,
      [installationId, REPO, issueNumber, STATUS_COMMENT_ID],
    );
    const requirementId = Number(requirement.rows[0]?.id);
    const taskKey = `T${prNumber}`;
    const branch = `aura/${issueNumber}-${taskKey.toLowerCase()}`;
    const task = await client.query<{ id: string }>(
      `INSERT INTO tasks (requirement_id, task_key, title, instructions, task_class, scope, estimate_tokens, estimate_usd, plan_revision)
       VALUES ($1, $2, 'Widget', 'Make a widget', $3, '{src/**}', 20000, 0.05, 1) RETURNING id`,
      [requirementId, taskKey, options.taskClass ?? "feature"],
    );
    const taskId = Number(task.rows[0]?.id);
    const routed = await routeTask(services, client, taskId, { override: { employeeId: options.employeeId, director: "test-setup" } });
    if (routed.employeeId !== options.employeeId) throw new Error(`seed routing refused: ${routed.decision.reason}`);
    // Assigned two hours before the payloads' PR opens, so time to PR is a known 2 h.
    await client.query("UPDATE assignments SET created_at = '2025-03-01T08:00:00Z' WHERE task_id = $1", [taskId]);
    // No employee runs in these tests: the work job routeTask enqueued is removed.
    await client.query("SELECT graphile_worker.remove_job($1)", [`task:${taskId}`]);
    await transitionTask(client, taskId, "working", { actor: options.employeeId, reason: "test: work started" });
    await transitionTask(client, taskId, "pr_open", { actor: options.employeeId, reason: "test: PR opened" });
    await client.query("UPDATE tasks SET pr_number = $2, branch = $3, cost_usd = $4, revision_rounds = $5 WHERE id = $1", [
      taskId,
      prNumber,
      branch,
      options.costUsd ?? 0,
      options.revisionRounds ?? 0,
    ]);
    return { requirementId, taskId, taskKey, employeeId: options.employeeId, prNumber, branch, issueNumber };
  });
}

type Loose = Record<string, unknown>;
const loose = (value: unknown): Loose => (value !== null && typeof value === "object" ? (value as Loose) : {});

/** A `pull_request.closed` delivery for a seeded task's PR. */
export function closedPayload(task: SeededTask, options: { merged: boolean; by: string; closedAt?: string; headSha?: string; installationId?: number }): Loose {
  const payload = examplePayload("pull_request", "closed");
  const repository = loose(payload.repository);
  const pull = loose(payload.pull_request);
  const user = loose(pull.user);
  return {
    ...payload,
    installation: { id: options.installationId ?? INSTALLATION },
    repository: { ...repository, full_name: REPO, name: REPO_NAME, owner: { ...loose(repository.owner), login: OWNER } },
    sender: { ...loose(payload.sender), login: options.by, type: "User" },
    pull_request: {
      ...pull,
      number: task.prNumber,
      merged: options.merged,
      merged_by: options.merged ? { ...user, login: options.by, type: "User" } : null,
      created_at: "2025-03-01T10:00:00Z",
      closed_at: options.closedAt ?? "2025-03-01T12:00:00Z",
      head: { ...loose(pull.head), ref: task.branch, sha: options.headSha ?? "a".repeat(40) },
    },
  };
}

let commentCounter = 70_000;

/** An `issue_comment.created` delivery. */
export function commentPayload(options: {
  body: string;
  login: string;
  issueNumber: number;
  isPull?: boolean;
  userType?: string;
  action?: string;
  installationId?: number;
}): { payload: Loose; commentId: number } {
  const payload = examplePayload("issue_comment", "created");
  const repository = loose(payload.repository);
  const comment = loose(payload.comment);
  const issue: Loose = { ...loose(payload.issue), number: options.issueNumber };
  if (options.isPull) issue.pull_request = { url: `https://api.github.com/repos/${REPO}/pulls/${options.issueNumber}` };
  else delete issue.pull_request;
  const commentId = ++commentCounter;
  return {
    payload: {
      ...payload,
      action: options.action ?? "created",
      installation: { id: options.installationId ?? INSTALLATION },
      repository: { ...repository, full_name: REPO, name: REPO_NAME, owner: { ...loose(repository.owner), login: OWNER } },
      issue,
      comment: { ...comment, id: commentId, body: options.body, user: { ...loose(comment.user), login: options.login, type: options.userType ?? "User" } },
    },
    commentId,
  };
}

/** A `pull_request_review.submitted` delivery requesting changes on a seeded task's PR. */
export function changesRequestedPayload(task: SeededTask, options: { reviewId: number; body: string; login: string }): Loose {
  const payload = examplePayload("pull_request_review", "submitted");
  const review = loose(payload.review);
  const pull = loose(payload.pull_request);
  return {
    ...payload,
    installation: { id: INSTALLATION },
    repository: { ...loose(payload.repository), full_name: REPO, name: REPO_NAME },
    review: {
      ...review,
      id: options.reviewId,
      state: "changes_requested",
      body: options.body,
      user: { ...loose(review.user), login: options.login, type: "User" },
    },
    pull_request: { ...pull, number: task.prNumber, head: { ...loose(pull.head), ref: task.branch } },
  };
}

/** `.github/aura.yml` is absent (defaults) and each login has the given permission; both may be asked any number of times. */
export function mockRepoAccess(permissions: Record<string, string>): void {
  nock(GITHUB_API).persist().get(`/repos/${REPO}/contents/.github%2Faura.yml`).optionally().reply(404, { message: "Not Found" });
  nock(GITHUB_API)
    .persist()
    .get(`/repos/${REPO}/contents/${encodeURIComponent(".github/aura.yml")}`)
    .optionally()
    .reply(404, { message: "Not Found" });
  for (const [login, permission] of Object.entries(permissions)) {
    nock(GITHUB_API)
      .persist()
      .get(`/repos/${REPO}/collaborators/${login}/permission`)
      .optionally()
      .reply(200, { permission: permission === "maintain" ? "write" : permission, role_name: permission, user: { login } });
  }
}

/** Every status comment refresh, with the bodies it wrote. */
export function mockStatusComments(): { bodies: string[] } {
  const bodies: string[] = [];
  nock(GITHUB_API)
    .persist()
    .patch(`/repos/${REPO}/issues/comments/${STATUS_COMMENT_ID}`)
    .optionally()
    .reply(200, (_uri, body) => {
      bodies.push(String((body as { body: string }).body));
      return { id: STATUS_COMMENT_ID };
    });
  return { bodies };
}

/** Replies posted on issues and reactions on comments, recorded. */
export function mockReplies(): { replies: { issue: number; body: string }[]; reactions: { commentId: number; content: string }[] } {
  const replies: { issue: number; body: string }[] = [];
  const reactions: { commentId: number; content: string }[] = [];
  let nextId = 880_000;
  nock(GITHUB_API)
    .persist()
    .post(new RegExp(`^/repos/${REPO}/issues/\\d+/comments$`))
    .optionally()
    .reply(201, (uri, body) => {
      replies.push({ issue: Number(/issues\/(\d+)\//.exec(uri)?.[1]), body: String((body as { body: string }).body) });
      return { id: ++nextId };
    });
  nock(GITHUB_API)
    .persist()
    .post(new RegExp(`^/repos/${REPO}/issues/comments/\\d+/reactions$`))
    .optionally()
    .reply(201, (uri, body) => {
      reactions.push({ commentId: Number(/comments\/(\d+)\//.exec(uri)?.[1]), content: String((body as { content: string }).content) });
      return { id: 1, content: (body as { content: string }).content };
    });
  return { replies, reactions };
}

export async function auditActions(pool: pg.Pool, action: string): Promise<{ actor: string; payload: Record<string, unknown> }[]> {
  const { rows } = await pool.query<{ actor: string; payload: Record<string, unknown> }>(
    "SELECT actor, payload FROM audit.events WHERE action = $1 ORDER BY seq",
    [action],
  );
  return rows;
}
