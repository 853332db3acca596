// The console's and the MCP server's read model: typed reads of requirements and tasks, each limited to the
// repositories the reader may see (a `Visibility`, computed by access.ts). A record outside that list is never
// returned: asking for its id gives `undefined` ("not found"), exactly as an id that does not exist. The facts
// come from each role's own records through its own read functions (the trajectory, the Governor's verdicts,
// the Auditor's runs); this module only selects and joins them.
import type pg from "pg";
import type { RoutingDecision } from "../manager/route.js";
import type { StoredVerdict } from "../governor/verdict-store.js";
import { latestVerdictForPull } from "../governor/verdict-store.js";
import { loadRun as loadAuditorRun, type StoredRun } from "../auditor/evidence-store.js";
import { loadRuns, loadTrajectory, type StoredStep, type WorkRun } from "../employees/agent/trajectory.js";
import { visibilityParams, type Visibility } from "./visible.js";

type Queryable = Pick<pg.Pool | pg.PoolClient, "query">;

export const MAX_PAGE = 500;
const DEFAULT_PAGE = 100;

/** The visible (installation, repository) pairs, as a relation `vis(installation_id, repo)` for a query's WITH. */
const VISIBLE_CTE = "vis AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS v(installation_id, repo))";
const VISIBLE_REQUIREMENT = "(r.installation_id, lower(r.repo)) IN (SELECT installation_id, repo FROM vis)";

export type RequirementSummary = {
  id: number;
  installationId: number;
  repo: string;
  issueNumber: number;
  title: string;
  state: string;
  labeledBy: string | null;
  planRevision: number;
  tasks: number;
  /** Model spend on the requirement's tasks so far, in US dollars. */
  costUsd: number;
  createdAt: Date;
  updatedAt: Date;
};

export type TaskSummary = {
  id: number;
  requirementId: number;
  installationId: number;
  repo: string;
  issueNumber: number;
  requirementTitle: string;
  key: string;
  title: string;
  taskClass: string;
  state: string;
  attempt: number;
  /** The employee of the active assignment, or null. */
  employee: string | null;
  prNumber: number | null;
  branch: string | null;
  /** Model spend on the task so far (every attempt, re-asks included), in US dollars. */
  costUsd: number;
  updatedAt: Date;
};

export type ListFilter = {
  /** Only this repository (`owner/name`); one the reader cannot see gives an empty list. */
  repo?: string;
  state?: string;
  /** Keyset paging: rows with an id below this one (the list is newest first). */
  beforeId?: number;
  limit?: number;
};

function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE;
  return Math.max(1, Math.min(MAX_PAGE, Math.floor(limit)));
}

type RequirementRow = {
  id: string;
  installation_id: string;
  repo: string;
  issue_number: number;
  title: string;
  state: string;
  labeled_by: string | null;
  plan_revision: number;
  tasks: number;
  cost_usd: number;
  created_at: Date;
  updated_at: Date;
};

const REQUIREMENT_COLUMNS = `r.id, r.installation_id, r.repo, r.issue_number, r.title, r.state, r.labeled_by, r.plan_revision, r.created_at, r.updated_at,
    (SELECT count(*)::int FROM tasks t WHERE t.requirement_id = r.id AND t.plan_revision = r.plan_revision) AS tasks,
    coalesce((SELECT sum(s.usd)::float8 FROM model_spend s WHERE s.requirement_id = r.id), 0) AS cost_usd`;

function requirementOf(row: RequirementRow): RequirementSummary {
  return {
    id: Number(row.id),
    installationId: Number(row.installation_id),
    repo: row.repo,
    issueNumber: row.issue_number,
    title: row.title,
    state: row.state,
    labeledBy: row.labeled_by,
    planRevision: row.plan_revision,
    tasks: row.tasks,
    costUsd: row.cost_usd,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The visible requirements, newest first. */
export async function listRequirements(db: Queryable, visible: Visibility, filter: ListFilter = {}): Promise<RequirementSummary[]> {
  const { rows } = await db.query<RequirementRow>(
    `WITH ${VISIBLE_CTE} SELECT ${REQUIREMENT_COLUMNS} FROM requirements r
      WHERE ${VISIBLE_REQUIREMENT}
        AND ($3::text IS NULL OR lower(r.repo) = lower($3)) AND ($4::text IS NULL OR r.state = $4) AND ($5::bigint IS NULL OR r.id < $5)
      ORDER BY r.id DESC LIMIT $6`,
    [...visibilityParams(visible), filter.repo ?? null, filter.state ?? null, filter.beforeId ?? null, pageSize(filter.limit)],
  );
  return rows.map(requirementOf);
}

/** One visible requirement, or undefined (also when it exists outside the reader's repositories). */
export async function getRequirement(
  db: Queryable,
  visible: Visibility,
  id: number,
): Promise<(RequirementSummary & { plan: unknown; planProblems: unknown }) | undefined> {
  const { rows } = await db.query<RequirementRow & { plan: unknown; plan_problems: unknown }>(
    `WITH ${VISIBLE_CTE} SELECT ${REQUIREMENT_COLUMNS}, r.plan, r.plan_problems FROM requirements r
      WHERE ${VISIBLE_REQUIREMENT} AND r.id = $3`,
    [...visibilityParams(visible), id],
  );
  const row = rows[0];
  return row ? { ...requirementOf(row), plan: row.plan, planProblems: row.plan_problems } : undefined;
}

type TaskRow = {
  id: string;
  requirement_id: string;
  installation_id: string;
  repo: string;
  issue_number: number;
  requirement_title: string;
  task_key: string;
  title: string;
  task_class: string;
  state: string;
  attempt: number;
  employee_id: string | null;
  pr_number: number | null;
  branch: string | null;
  cost_usd: number;
  updated_at: Date;
};

const TASK_SELECT = `SELECT t.id, t.requirement_id, r.installation_id, r.repo, r.issue_number, r.title AS requirement_title, t.task_key, t.title,
    t.task_class, t.state, t.attempt, a.employee_id, t.pr_number, t.branch, t.updated_at,
    coalesce((SELECT sum(s.usd)::float8 FROM model_spend s WHERE s.task_id = t.id), 0) AS cost_usd
  FROM tasks t JOIN requirements r ON r.id = t.requirement_id LEFT JOIN assignments a ON a.task_id = t.id AND a.active`;

function taskOf(row: TaskRow): TaskSummary {
  return {
    id: Number(row.id),
    requirementId: Number(row.requirement_id),
    installationId: Number(row.installation_id),
    repo: row.repo,
    issueNumber: row.issue_number,
    requirementTitle: row.requirement_title,
    key: row.task_key,
    title: row.title,
    taskClass: row.task_class,
    state: row.state,
    attempt: row.attempt,
    employee: row.employee_id,
    prNumber: row.pr_number,
    branch: row.branch,
    costUsd: row.cost_usd,
    updatedAt: row.updated_at,
  };
}

/** The visible tasks of the requirements' current plans, newest first; `requirementId` narrows to one requirement. */
export async function listTasks(db: Queryable, visible: Visibility, filter: ListFilter & { requirementId?: number } = {}): Promise<TaskSummary[]> {
  const { rows } = await db.query<TaskRow>(
    `WITH ${VISIBLE_CTE} ${TASK_SELECT}
      WHERE ${VISIBLE_REQUIREMENT} AND t.plan_revision = r.plan_revision
        AND ($3::text IS NULL OR lower(r.repo) = lower($3)) AND ($4::text IS NULL OR t.state = $4) AND ($5::bigint IS NULL OR t.id < $5)
        AND ($6::bigint IS NULL OR r.id = $6)
      ORDER BY t.id DESC LIMIT $7`,
    [...visibilityParams(visible), filter.repo ?? null, filter.state ?? null, filter.beforeId ?? null, filter.requirementId ?? null, pageSize(filter.limit)],
  );
  return rows.map(taskOf);
}

/** One visible task's summary, or undefined. */
export async function getTaskSummary(db: Queryable, visible: Visibility, taskId: number): Promise<TaskSummary | undefined> {
  const { rows } = await db.query<TaskRow>(`WITH ${VISIBLE_CTE} ${TASK_SELECT} WHERE ${VISIBLE_REQUIREMENT} AND t.id = $3`, [
    ...visibilityParams(visible),
    taskId,
  ]);
  return rows[0] ? taskOf(rows[0]) : undefined;
}

export type RoutingRecord = { id: number; attempt: number; kind: string; winner: string | null; createdAt: Date; decision: RoutingDecision };

export type TaskDetail = TaskSummary & {
  instructions: string;
  scope: string[];
  acceptance: string[];
  dependsOn: string[];
  revisionRounds: number;
  estimate: { tokens: number; usd: number };
  /** Every routing decision of the task, oldest first; the last one is why the current employee has it. */
  routing: RoutingRecord[];
  /** The pull request's current head as the Governor recorded it, or null before it judged one. */
  headSha: string | null;
  pullUrl: string | null;
  /** The Governor's latest verdict at that head, every rule with its state and why. */
  verdict: (StoredVerdict & { id: number }) | null;
  /** The Auditor's run at that head (state, full report, review). */
  evidence: StoredRun | null;
  /** Files, additions and deletions of the pull request at that head, as the Auditor measured them. */
  diff: { files: number; additions: number; deletions: number } | null;
  /** The work runs, oldest first; each with its steps when asked for. */
  trajectory: (WorkRun & { stepRecords?: StoredStep[] })[];
};

type TaskExtraRow = {
  instructions: string;
  scope: string[];
  acceptance: string[];
  depends_on: string[];
  revision_rounds: number;
  estimate_tokens: number;
  estimate_usd: string;
};

/**
 * One visible task with everything known about it: routing (why this employee), the trajectory (with every
 * step unless `steps: false`), the Governor's latest verdict and the Auditor's evidence at the pull request's
 * head, its diff stats and its cost. Undefined when the task does not exist or lies outside `visible`.
 */
export async function getTask(db: Queryable, visible: Visibility, taskId: number, options: { steps?: boolean } = {}): Promise<TaskDetail | undefined> {
  const summary = await getTaskSummary(db, visible, taskId);
  if (!summary) return undefined;
  const extra = (
    await db.query<TaskExtraRow>(
      "SELECT instructions, scope, acceptance, depends_on, revision_rounds, estimate_tokens, estimate_usd FROM tasks WHERE id = $1",
      [taskId],
    )
  ).rows[0];
  if (!extra) return undefined;
  const pull = await pullAt(db, summary);
  const at =
    pull && summary.prNumber !== null
      ? { installationId: summary.installationId, repo: summary.repo, pullNumber: summary.prNumber, headSha: pull.headSha }
      : null;
  const evidence = at ? ((await loadAuditorRun(db, at)) ?? null) : null;
  return {
    ...summary,
    instructions: extra.instructions,
    scope: extra.scope,
    acceptance: extra.acceptance,
    dependsOn: extra.depends_on,
    revisionRounds: extra.revision_rounds,
    estimate: { tokens: extra.estimate_tokens, usd: Number(extra.estimate_usd) },
    routing: await loadRouting(db, taskId),
    headSha: pull?.headSha ?? null,
    pullUrl: pull?.htmlUrl ?? null,
    verdict: at ? ((await latestVerdictForPull(db, at)) ?? null) : null,
    evidence,
    diff: evidence?.report?.diff ?? null,
    trajectory: options.steps === false ? await loadRuns(db, taskId) : await loadTrajectory(db, taskId),
  };
}

async function loadRouting(db: Queryable, taskId: number): Promise<RoutingRecord[]> {
  const { rows } = await db.query<{ id: string; attempt: number; kind: string; winner: string | null; created_at: Date; decision: RoutingDecision }>(
    "SELECT id, attempt, kind, winner, created_at, decision FROM routing_decisions WHERE task_id = $1 ORDER BY id",
    [taskId],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    attempt: row.attempt,
    kind: row.kind,
    winner: row.winner,
    createdAt: row.created_at,
    decision: row.decision,
  }));
}

/** The head the Governor recorded for the task's pull request (the gate's record, `governor_pulls`). */
async function pullAt(db: Queryable, task: TaskSummary): Promise<{ headSha: string; htmlUrl: string | null } | undefined> {
  if (task.prNumber === null) return undefined;
  const { rows } = await db.query<{ head_sha: string; html_url: string | null }>(
    "SELECT head_sha, html_url FROM governor_pulls WHERE installation_id = $1 AND repo = $2 AND pull_number = $3",
    [task.installationId, task.repo, task.prNumber],
  );
  const row = rows[0];
  return row ? { headSha: row.head_sha, htmlUrl: row.html_url } : undefined;
}
