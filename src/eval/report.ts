// The figures of an eval, per employee and per task class: the resolved share with a 95 % credible interval
// (the Accountant's Beta posterior from a uniform prior, Beta(1 + resolved, 1 + unresolved), its 2.5 % and
// 97.5 % quantiles), the cost per resolved task (all attempts' model spend over the tasks resolved), and the
// median time and agent steps of an attempt. Read from the results file, so a resumed eval reports everything.
import { INTERVAL_METHOD, resolvedInterval, type EvalAttemptRecord } from "../accountant/eval-results.js";

/** One graded attempt: a line of results.jsonl (what the Accountant records of it, and more). */
export type AttemptResult = EvalAttemptRecord & {
  /** What local mode reported: "passed" when the Governor and the Auditor passed the work. */
  outcome: string;
  test_seconds: number;
  heads: string[];
  /** The attempt's trajectory file, relative to the eval folder. */
  trajectory: string;
};

export type Figures = {
  attempts: number;
  resolved: number;
  share: number;
  /** 95 % credible interval of the resolved share (Beta posterior, uniform prior). */
  interval: { lower: number; upper: number };
  costUsd: number;
  costPerResolvedUsd: number | null;
  medianSeconds: number;
  medianSteps: number;
};

export type EmployeeFigures = Figures & { employee: string; byClass: Record<string, Figures> };

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export function figuresOf(results: readonly AttemptResult[]): Figures {
  const resolved = results.filter((result) => result.resolved).length;
  const costUsd = results.reduce((sum, result) => sum + result.cost_usd, 0);
  return {
    attempts: results.length,
    resolved,
    share: results.length === 0 ? 0 : resolved / results.length,
    interval: resolvedInterval(resolved, results.length),
    costUsd,
    costPerResolvedUsd: resolved === 0 ? null : costUsd / resolved,
    medianSeconds: median(results.map((result) => result.seconds)),
    medianSteps: median(results.map((result) => result.steps)),
  };
}

/** Figures per employee (in the order given), each with its figures per task class. */
export function summarise(results: readonly AttemptResult[], employees: readonly string[]): EmployeeFigures[] {
  return employees.map((employee) => {
    const own = results.filter((result) => result.employee === employee);
    const classes = [...new Set(own.map((result) => result.task_class))].sort();
    return {
      employee,
      ...figuresOf(own),
      byClass: Object.fromEntries(classes.map((taskClass) => [taskClass, figuresOf(own.filter((result) => result.task_class === taskClass))])),
    };
  });
}

const percent = (value: number) => `${(value * 100).toFixed(0)} %`;
const money = (value: number | null) => (value === null ? "—" : `$${value.toFixed(4)}`);

function row(name: string, figures: Figures): string[] {
  return [
    name,
    `${figures.resolved}/${figures.attempts}`,
    percent(figures.share),
    `${percent(figures.interval.lower)}–${percent(figures.interval.upper)}`,
    money(figures.costPerResolvedUsd),
    `${figures.medianSeconds.toFixed(1)} s`,
    String(figures.medianSteps),
  ];
}

/** The figures as a text table: one row per employee, then one per employee and task class. */
export function renderTable(summary: readonly EmployeeFigures[]): string {
  const rows = [["employee / class", "resolved", "share", "95 % interval", "cost/resolved", "median time", "median steps"]];
  for (const figures of summary) {
    rows.push(row(figures.employee, figures));
    for (const [taskClass, byClass] of Object.entries(figures.byClass)) rows.push(row(`  ${taskClass}`, byClass));
  }
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((cells) => cells[column]?.length ?? 0))) ?? [];
  const lines = rows.map((cells) =>
    cells
      .map((cell, column) => cell.padEnd(widths[column] ?? 0))
      .join("  ")
      .trimEnd(),
  );
  return `${lines.join("\n")}\nInterval: ${INTERVAL_METHOD}.\n`;
}
