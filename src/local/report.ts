// What a local run reports, read from the records the roles wrote (the requirement's plan, the routing decision
// records, the Governor's verdicts, the Auditor's runs, the spend ledger) and from the edge (the Auditor's
// review), and its rendering as text or JSON.
import type pg from "pg";
import type { RoutingDecision } from "../manager/route.js";
import type { GitHubEdge } from "./github-edge.js";

export type LocalTaskReport = {
  id: number;
  key: string;
  title: string;
  taskClass: string;
  state: string;
  employee: string | null;
  routing: { reason: string; seed: string; candidates: { employeeId: string; eligible: boolean; reason: string; score: number | null }[] } | null;
  branch: string | null;
  headSha: string | null;
  verdict: { conclusion: string; description: string; rules: { id: string; state: string; summary: string }[] } | null;
  evidence: { state: string; counts: unknown; review: string | null } | null;
  costUsd: number;
  trajectory: string;
};

export type LocalReport = {
  repository: string;
  base: string;
  issue: number;
  requirement: { id: number; state: string; plan: unknown; planProblems: unknown } | null;
  approvedByLocalDirector: boolean;
  tasks: LocalTaskReport[];
  costUsd: number;
  seconds: number;
  notes: string[];
  outcome: "passed" | "not-passed" | "plan-only";
};

type Loose = Record<string, unknown>;

export async function readReport(
  pool: pg.Pool,
  edge: GitHubEdge,
  at: { installationId: number; repo: string; issue: number; trajectoryCommand: string },
): Promise<Pick<LocalReport, "requirement" | "tasks" | "costUsd">> {
  const requirement = (
    await pool.query<{ id: string; state: string; plan: unknown; plan_problems: unknown }>(
      "SELECT id, state, plan, plan_problems FROM requirements WHERE installation_id = $1 AND repo = $2 AND issue_number = $3",
      [at.installationId, at.repo, at.issue],
    )
  ).rows[0];
  if (!requirement) return { requirement: null, tasks: [], costUsd: 0 };
  const { rows: taskRows } = await pool.query<{
    id: string;
    task_key: string;
    title: string;
    task_class: string;
    state: string;
    branch: string | null;
    pr_number: number | null;
    employee_id: string | null;
    decision: RoutingDecision | null;
  }>(
    `SELECT t.id, t.task_key, t.title, t.task_class, t.state, t.branch, t.pr_number, a.employee_id,
            (SELECT d.decision FROM routing_decisions d WHERE d.task_id = t.id ORDER BY d.id DESC LIMIT 1) AS decision
       FROM tasks t LEFT JOIN assignments a ON a.task_id = t.id AND a.active
      WHERE t.requirement_id = $1 ORDER BY t.id`,
    [requirement.id],
  );
  const spend = await pool.query<{ task_id: string; usd: number }>(
    "SELECT task_id, sum(usd)::float8 AS usd FROM model_spend WHERE requirement_id = $1 GROUP BY task_id",
    [requirement.id],
  );
  const spendOf = new Map(spend.rows.map((row) => [String(row.task_id), row.usd]));
  const tasks: LocalTaskReport[] = [];
  for (const row of taskRows) {
    const pull = row.pr_number === null ? undefined : (edge.pullJson(row.pr_number) as { head: { sha: string } });
    const headSha = pull?.head.sha ?? null;
    const verdict = headSha === null ? undefined : await latestVerdict(pool, at, row.pr_number as number, headSha);
    const evidence = headSha === null ? undefined : await auditorRun(pool, at, row.pr_number as number, headSha);
    const review = headSha === null ? undefined : edge.reviews.filter((item) => item.pull === row.pr_number && item.commit_id === headSha).at(-1);
    tasks.push({
      id: Number(row.id),
      key: row.task_key,
      title: row.title,
      taskClass: row.task_class,
      state: row.state,
      employee: row.employee_id,
      routing: row.decision
        ? {
            reason: row.decision.reason,
            seed: row.decision.seed,
            candidates: row.decision.candidates.map((c) => ({ employeeId: c.employeeId, eligible: c.eligible, reason: c.reason, score: c.score })),
          }
        : null,
      branch: row.branch,
      headSha,
      verdict: verdict ?? null,
      evidence: evidence ? { ...evidence, review: review?.body ?? null } : null,
      costUsd: spendOf.get(String(row.id)) ?? 0,
      trajectory: `${at.trajectoryCommand} ${row.id}`,
    });
  }
  const costUsd = spend.rows.reduce((sum, row) => sum + row.usd, 0);
  return {
    requirement: { id: Number(requirement.id), state: requirement.state, plan: requirement.plan, planProblems: requirement.plan_problems },
    tasks,
    costUsd,
  };
}

async function latestVerdict(pool: pg.Pool, at: { installationId: number; repo: string }, pull: number, headSha: string) {
  const row = (
    await pool.query<{ conclusion: string; description: string; rules: Loose[] }>(
      `SELECT conclusion, description, rules FROM governor_verdicts
        WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4 ORDER BY id DESC LIMIT 1`,
      [at.installationId, at.repo, pull, headSha],
    )
  ).rows[0];
  if (!row) return undefined;
  const rules = row.rules.map((rule) => ({ id: String(rule.id ?? rule.ruleId ?? "?"), state: String(rule.state ?? "?"), summary: String(rule.summary ?? "") }));
  return { conclusion: row.conclusion, description: row.description, rules };
}

async function auditorRun(pool: pg.Pool, at: { installationId: number; repo: string }, pull: number, headSha: string) {
  const row = (
    await pool.query<{ state: string; counts: unknown }>(
      "SELECT state, counts FROM auditor_runs WHERE installation_id = $1 AND repo = $2 AND pull_number = $3 AND head_sha = $4",
      [at.installationId, at.repo, pull, headSha],
    )
  ).rows[0];
  return row ? { state: row.state, counts: row.counts } : undefined;
}

const usd = (value: number) => `$${value.toFixed(4)}`;

function planLines(plan: unknown): string[] {
  const parsed = plan as { summary?: string; tasks?: { id: string; title: string; taskClass: string; scope: string[] }[] } | null;
  if (!parsed?.tasks) return ["  (no plan)"];
  return [
    `  ${parsed.summary ?? ""}`,
    ...parsed.tasks.map((task, index) => `  ${index + 1}. ${task.id}: ${task.title} [${task.taskClass}] scope ${task.scope.join(", ")}`),
  ];
}

export function renderReport(report: LocalReport): string {
  const lines = [`Aura local run on ${report.repository} (base ${report.base}, requirement #${report.issue})`, ""];
  for (const note of report.notes) lines.push(`Note: ${note}`);
  if (report.notes.length > 0) lines.push("");
  lines.push(
    `Requirement: ${report.requirement?.state ?? "not recorded"}${report.approvedByLocalDirector ? " (plan approved by you, the local director)" : ""}`,
  );
  lines.push("Plan:", ...planLines(report.requirement?.plan));
  if (report.requirement?.planProblems) lines.push(`Plan problems: ${JSON.stringify(report.requirement.planProblems)}`);
  for (const task of report.tasks) {
    lines.push("", `Task ${task.key} (#${task.id}): ${task.state}`);
    lines.push(`  Employee: ${task.employee ?? "none"}${task.routing ? ` — ${task.routing.reason}` : ""}`);
    if (task.routing) {
      lines.push(`  Routing seed ${task.routing.seed.slice(0, 16)}…; candidates:`);
      for (const c of task.routing.candidates) lines.push(`    ${c.eligible ? "✓" : "✗"} ${c.employeeId}: ${c.reason}`);
    }
    if (task.branch) lines.push(`  Branch: ${task.branch}${task.headSha ? ` at ${task.headSha.slice(0, 12)}` : ""}`);
    if (task.verdict) {
      lines.push(`  Verdict: ${task.verdict.conclusion} — ${task.verdict.description}`);
      for (const rule of task.verdict.rules) lines.push(`    ${rule.state.padEnd(8)} ${rule.id}: ${rule.summary}`);
    }
    if (task.evidence) lines.push(`  Evidence (the Auditor's own test run): ${task.evidence.state} ${JSON.stringify(task.evidence.counts)}`);
    lines.push(`  Cost: ${usd(task.costUsd)}; trajectory: ${task.trajectory}`);
  }
  lines.push("", `Total: ${usd(report.costUsd)} in ${Math.round(report.seconds)} s. Outcome: ${report.outcome}.`);
  return `${lines.join("\n")}\n`;
}
