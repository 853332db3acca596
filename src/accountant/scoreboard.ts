// The scoreboard comment: every employee ranked by the lower bound of its quality score, with counts, rates,
// strikes and cost, and a per-task-class breakdown. A hidden marker lets the app find and update its comment.
// Eval figures (`aura eval run`, offline) sit in a table of their own beside the live one, every cell labelled
// "eval": they never enter the ranking, the score or anything HR and the router read.
import type { EmployeeStatus } from "../hr/employee-status.js";
import { HR_THRESHOLDS } from "../hr/review-employee.js";
import { formatCount, formatDuration, formatNumber, formatRate, formatScore, formatUsd } from "./format.js";
import type { TaskOutcome } from "./outcome.js";
import { FORGETTING } from "./posterior.js";
import { employeeStats, type EmployeeStats, type OutcomeStats } from "./stats.js";
import { countedStrikes, STRIKE_POINTS, STRIKE_WINDOW_DAYS, strikePoints, type Strike } from "./strikes.js";

export const SCOREBOARD_MARKER = "<!-- aura:scoreboard -->";

export type ScoreboardEmployee = {
  employee: string;
  status: EmployeeStatus;
  outcomes: readonly TaskOutcome[];
  strikes: readonly Strike[];
  /** The newest finished eval run that measured the employee (shown apart, labelled eval). */
  eval?: ScoreboardEval | undefined;
};

export type ScoreboardEval = {
  runId: number;
  attempts: number;
  resolved: number;
  /** 95 % interval of the resolved share (Beta posterior, uniform prior). */
  interval: { lower: number; upper: number };
  endedAt: Date;
  /** A director's accepted trial of this employee, if any (the run it accepted). */
  trial?: { runId: number; acceptedBy: string } | undefined;
};

export type ScoreboardRow = {
  rank: number;
  status: EmployeeStatus;
  stats: EmployeeStats;
  /** Strike points within the strike window. */
  strikePoints: number;
  criticalStrikes: number;
};

/**
 * Employees ranked by the lower 10 % bound of their quality score (the cautious estimate that HR and the
 * router rely on), then by its mean, then by id so the order never depends on input order.
 */
export function rankScoreboard(employees: readonly ScoreboardEmployee[], now: Date): ScoreboardRow[] {
  const rows = employees.map((entry) => ({
    status: entry.status,
    stats: employeeStats(entry.employee, entry.outcomes),
    strikePoints: strikePoints(entry.strikes, now, STRIKE_WINDOW_DAYS),
    criticalStrikes: countedStrikes(entry.strikes).filter((strike) => strike.severity === "critical").length,
  }));
  rows.sort(
    (x, y) =>
      y.stats.score.lower - x.stats.score.lower ||
      y.stats.score.mean - x.stats.score.mean ||
      (x.stats.employee < y.stats.employee ? -1 : x.stats.employee > y.stats.employee ? 1 : 0),
  );
  return rows.map((row, index) => ({ rank: index + 1, ...row }));
}

export type ScoreboardInput = {
  employees: readonly ScoreboardEmployee[];
  now: Date;
  /** What the numbers cover, e.g. the installation's account: "octo-org". */
  scope?: string;
};

export function renderScoreboard(input: ScoreboardInput): string {
  const rows = rankScoreboard(input.employees, input.now);
  const lines: string[] = [SCOREBOARD_MARKER, `### Aura scoreboard${input.scope === undefined ? "" : ` — ${cell(input.scope)}`}`, ""];
  if (rows.length === 0) {
    lines.push(`No employees are registered yet. _Updated ${timestamp(input.now)}._`);
    return lines.join("\n");
  }
  const tasks = rows.reduce((total, row) => total + row.stats.tasks, 0);
  const spend = rows.reduce((total, row) => total + row.stats.totalCostUsd, 0);
  lines.push(
    `${formatCount(rows.length, "employee")}, ${formatCount(tasks, "task")}, ${formatUsd(spend)} spent. Ranked by the lower bound of the quality score. _Updated ${timestamp(input.now)}._`,
    "",
    "| # | Employee | Status | Tasks | Merged | Rejected | Merge rate (n) | Score | Strikes (30 d) | Revisions / PR | Total cost | Cost / merged PR | Median time to PR |",
    "|--:|---|---|--:|--:|--:|---|---|--:|--:|--:|--:|--:|",
  );
  for (const row of rows) {
    const s = row.stats;
    lines.push(
      tableRow([
        String(row.rank),
        code(s.employee),
        row.status === "suspended" ? "**suspended**" : row.status,
        String(s.tasks),
        String(s.merged),
        String(s.rejected),
        mergeRateCell(s),
        formatScore(s.score, { boldLower: true }),
        strikesCell(row),
        formatNumber(s.revisionRoundsPerPr),
        formatUsd(s.totalCostUsd),
        formatUsd(s.costPerMergedPrUsd),
        formatDuration(s.medianTimeToPrMs),
      ]),
    );
  }
  const evals = evalTable(input.employees);
  lines.push(...evals, "", ...breakdown(rows), "", ...legend(evals.length > 0));
  return lines.join("\n");
}

/** The eval figures, one row per employee measured, in the live table's order; nothing when no eval ran. */
function evalTable(employees: readonly ScoreboardEmployee[]): string[] {
  const measured = employees.filter((entry) => entry.eval !== undefined);
  if (measured.length === 0) return [];
  const lines = [
    "",
    "**Eval figures** (offline `aura eval run` on tasks from the repository's history; labelled eval, never mixed into the live outcomes, the score, HR's numbers or routing):",
    "",
    "| Employee | Eval run | Eval resolved | Eval resolved share (95 %) | Eval date | Trial |",
    "|---|--:|--:|---|---|---|",
  ];
  for (const entry of measured) {
    const figures = entry.eval as ScoreboardEval;
    const share = figures.attempts === 0 ? 0 : figures.resolved / figures.attempts;
    const trial = figures.trial ? `eval run ${figures.trial.runId} accepted by @${cell(figures.trial.acceptedBy)}` : "—";
    lines.push(
      tableRow([
        code(entry.employee),
        `eval ${figures.runId}`,
        `eval ${figures.resolved}/${figures.attempts}`,
        `eval ${percent(share)} [${percent(figures.interval.lower)}–${percent(figures.interval.upper)}]`,
        `eval ${figures.endedAt.toISOString().slice(0, 10)}`,
        trial,
      ]),
    );
  }
  return lines;
}

function percent(value: number): string {
  return `${Math.round(value * 100)} %`;
}

function breakdown(rows: readonly ScoreboardRow[]): string[] {
  const lines = [
    "<details>",
    "<summary>Per task class</summary>",
    "",
    "| Employee | Task class | Tasks | Merged | Rejected | Failed | Provider errors | Merge rate (n) | Score | Revisions / PR | Total cost | Cost / merged PR | Median time to PR |",
    "|---|---|--:|--:|--:|--:|--:|---|---|--:|--:|--:|--:|",
  ];
  let any = false;
  for (const row of rows) {
    for (const c of row.stats.byTaskClass) {
      any = true;
      lines.push(
        tableRow([
          code(row.stats.employee),
          code(c.taskClass),
          String(c.tasks),
          String(c.merged),
          String(c.rejected),
          String(c.failed),
          String(c.providerErrors),
          mergeRateCell(c),
          formatScore(c.score),
          formatNumber(c.revisionRoundsPerPr),
          formatUsd(c.totalCostUsd),
          formatUsd(c.costPerMergedPrUsd),
          formatDuration(c.medianTimeToPrMs),
        ]),
      );
    }
  }
  if (!any) return ["<details>", "<summary>Per task class</summary>", "", "No outcomes recorded yet.", "", "</details>"];
  lines.push("", "</details>");
  return lines;
}

function legend(withEval: boolean): string[] {
  const lines = [
    "**How to read this**",
    "- **Merge rate (n)**: merged ÷ n, where n counts merged, rejected and failed tasks; provider errors (outages, rate limits, timeouts) are not held against an employee. Brackets hold its 10 %–90 % bounds (exact binomial), which narrow as n grows.",
    `- **Score**: the quality estimate the router draws from, with its 10 %–90 % bounds (ranking uses the bold lower bound). A merge earns 1.0 minus 0.15 per revision round (at least 0.5); a rejection or failure earns 0; each newer outcome lowers an older one's weight by ${Math.round((1 - FORGETTING) * 100)} %.`,
    `- **Strikes**: policy-violation points in the last ${STRIKE_WINDOW_DAYS} days (minor ${STRIKE_POINTS.minor}, major ${STRIKE_POINTS.major}); ${HR_THRESHOLDS.suspendStrikePoints} points or any critical violation suspend. Merges never offset strikes.`,
    `- **HR**: after ${HR_THRESHOLDS.minOutcomes} outcomes on probation, an employee becomes active when their lower bound is ≥ ${HR_THRESHOLDS.promoteLowerBound}; active goes back to probation (and a capped share of the work until ${HR_THRESHOLDS.minOutcomes} new outcomes) when the upper bound over the last ${HR_THRESHOLDS.recentOutcomes} falls below ${HR_THRESHOLDS.demoteUpperBound}; below ${HR_THRESHOLDS.suspendUpperBound.toFixed(2)} an employee is suspended. Only a director reinstates a suspended employee.`,
  ];
  if (withEval) {
    lines.push(
      `- **Eval figures**: from \`aura eval run\` (each task's hidden tests graded in the sandbox), for comparison only; the interval is the 2.5 %–97.5 % range of the Beta posterior. A director can accept an eval run as an employee's trial (\`/aura trial <employee> eval <run>\`), which takes it off probation when the lower bound is at least ${Math.round(HR_THRESHOLDS.trialLowerBound * 100)} %.`,
    );
  }
  return lines;
}

function mergeRateCell(stats: OutcomeStats): string {
  if (stats.qualityN === 0) return "n/a (0)";
  return `${formatRate(stats.mergeRate, stats.mergeRateInterval)} (${stats.qualityN})`;
}

function strikesCell(row: ScoreboardRow): string {
  if (row.criticalStrikes === 0) return String(row.strikePoints);
  return `${row.strikePoints}, ${row.criticalStrikes} critical`;
}

function tableRow(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

// Ids come from the registry and labels, but a pipe or backtick would still break the table.
function code(text: string): string {
  return `\`${cell(text.replaceAll("`", "'"))}\``;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll(/[\r\n]+/g, " ");
}

function timestamp(now: Date): string {
  return `${now.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}
