import { describe, expect, it } from "vitest";
import type { TaskOutcome } from "../../src/accountant/outcome.js";
import { rankScoreboard, renderScoreboard, SCOREBOARD_MARKER, type ScoreboardEmployee } from "../../src/accountant/scoreboard.js";
import { DAY, outcome, repeat, strike, T0 } from "./outcome-builders.js";

const MIN = 60_000;
const now = new Date(T0.getTime() + 20 * DAY);

function tasks(employee: string, specs: Array<Partial<TaskOutcome> & Pick<TaskOutcome, "result">>): TaskOutcome[] {
  return specs.map((spec, i) => {
    const assignedAt = new Date(T0.getTime() + i * 60 * MIN);
    return outcome({ employee, taskId: `${employee}-${i}`, assignedAt, closedAt: new Date(assignedAt.getTime() + DAY), ...spec });
  });
}

function prAfter(minutes: number, i: number): Date {
  return new Date(T0.getTime() + i * 60 * MIN + minutes * MIN);
}

// "steady": 16 of 20 merged, plenty of evidence. "lucky": 2 of 2 merged, a perfect rate on little evidence.
const steady: ScoreboardEmployee = {
  employee: "gemini-flash",
  status: "active",
  outcomes: tasks("gemini-flash", [
    ...repeat(16, { result: "merged" as const, costUsd: 0.25 }).map((spec, i) => ({
      ...spec,
      taskClass: i < 10 ? "feature" : "docs",
      prOpenedAt: prAfter(30, i),
    })),
    ...repeat(4, { result: "rejected" as const, costUsd: 0.6, revisionRounds: 1 }).map((spec, i) => ({ ...spec, prOpenedAt: prAfter(90, 16 + i) })),
    { result: "provider_error", costUsd: 0 },
  ]),
  strikes: [strike("minor", new Date(now.getTime() - 2 * DAY), "octo/app#3"), strike("major", new Date(now.getTime() - 40 * DAY), "octo/app#4")],
};
const lucky: ScoreboardEmployee = {
  employee: "openai-gpt",
  status: "probation",
  outcomes: tasks("openai-gpt", repeat(2, { result: "merged" as const, costUsd: 1.5, prOpenedAt: null })),
  strikes: [],
};
const idle: ScoreboardEmployee = { employee: "ollama|qwen", status: "suspended", outcomes: [], strikes: [strike("critical", T0, "octo/app#9")] };

function mainRow(markdown: string, employee: string): string[] {
  const table = markdown.split("<details>")[0] ?? "";
  const line = table.split("\n").find((l) => l.startsWith("| ") && l.includes(`\`${employee}\``));
  if (line === undefined) throw new Error(`No row for ${employee}`);
  return line.slice(2, -2).split(" | ");
}

const COLUMNS = [
  "#",
  "Employee",
  "Status",
  "Tasks",
  "Merged",
  "Rejected",
  "Merge rate (n)",
  "Score",
  "Strikes (30 d)",
  "Revisions / PR",
  "Total cost",
  "Cost / merged PR",
  "Median time to PR",
];
const cellOf = (row: string[], column: string) => row[COLUMNS.indexOf(column)];

describe("rankScoreboard", () => {
  it("ranks by the lower bound, so a perfect rate on two tasks sits below a good rate on twenty", () => {
    const rows = rankScoreboard([lucky, idle, steady], now);

    expect(rows.map((r) => [r.rank, r.stats.employee])).toEqual([
      [1, "gemini-flash"],
      [2, "openai-gpt"],
      [3, "ollama|qwen"],
    ]);
    expect(rows[1]?.stats.mergeRate).toBe(1);
    expect(rows[0]?.stats.score.lower).toBeGreaterThan(rows[1]?.stats.score.lower ?? 1);
  });

  it("does not depend on input order when lower bounds tie", () => {
    const twin = (employee: string): ScoreboardEmployee => ({ employee, status: "active", outcomes: [], strikes: [] });

    const forward = rankScoreboard([twin("b"), twin("a")], now).map((r) => r.stats.employee);
    const backward = rankScoreboard([twin("a"), twin("b")], now).map((r) => r.stats.employee);

    expect(forward).toEqual(["a", "b"]);
    expect(backward).toEqual(["a", "b"]);
  });
});

describe("renderScoreboard", () => {
  const markdown = renderScoreboard({ employees: [lucky, idle, steady], now, scope: "octo" });

  it("starts with the hidden marker so the comment can be found and updated", () => {
    expect(markdown.split("\n")[0]).toBe(SCOREBOARD_MARKER);
    expect(SCOREBOARD_MARKER).toBe("<!-- aura:scoreboard -->");
  });

  it("fills the employee's row with counts, rate and interval, strikes, revisions, money and time", () => {
    const row = mainRow(markdown, "gemini-flash");

    expect(cellOf(row, "#")).toBe("1");
    expect(cellOf(row, "Status")).toBe("active");
    expect(cellOf(row, "Tasks")).toBe("21");
    expect(cellOf(row, "Merged")).toBe("16");
    expect(cellOf(row, "Rejected")).toBe("4");
    // Exact binomial 10 %/90 % bounds for 16 of 20 (SciPy: 0.6393, 0.9098)
    expect(cellOf(row, "Merge rate (n)")).toBe("80 % [64–91 %] (20)");
    expect(cellOf(row, "Strikes (30 d)")).toBe("1");
    expect(cellOf(row, "Revisions / PR")).toBe("0.2");
    expect(cellOf(row, "Total cost")).toBe("$6.40");
    expect(cellOf(row, "Cost / merged PR")).toBe("$0.40");
    expect(cellOf(row, "Median time to PR")).toBe("30 min");
    expect(cellOf(row, "Score")).toMatch(/^0\.\d\d \[\*\*0\.\d\d\*\*–0\.\d\d\]$/);
  });

  it("shows n/a where a number is undefined and flags suspension and critical strikes", () => {
    const row = mainRow(markdown, "ollama\\|qwen");

    expect(cellOf(row, "Status")).toBe("**suspended**");
    expect(cellOf(row, "Tasks")).toBe("0");
    expect(cellOf(row, "Merge rate (n)")).toBe("n/a (0)");
    expect(cellOf(row, "Cost / merged PR")).toBe("n/a");
    expect(cellOf(row, "Median time to PR")).toBe("n/a");
    expect(cellOf(row, "Strikes (30 d)")).toBe("3, 1 critical");
  });

  it("shows a perfect rate with a wide bracket when the sample is small", () => {
    const row = mainRow(markdown, "openai-gpt");

    expect(cellOf(row, "Merge rate (n)")).toBe("100 % [32–100 %] (2)");
    expect(cellOf(row, "Cost / merged PR")).toBe("$1.50");
  });

  it("breaks each employee down by task class in a collapsible section", () => {
    const details = markdown.slice(markdown.indexOf("<details>"), markdown.indexOf("</details>"));

    expect(details).toContain("<summary>Per task class</summary>");
    expect(details).toContain("| `gemini-flash` | `docs` | 6 | 6 | 0 | 0 | 0 | 100 % [68–100 %] (6) |");
    // 10 of 14 (SciPy: 0.5080, 0.8691); the provider error counts as a task but not in n.
    expect(details).toContain("| `gemini-flash` | `feature` | 15 | 10 | 4 | 0 | 1 | 71 % [51–87 %] (14) |");
    expect(details).not.toContain("`ollama\\|qwen` |");
  });

  it("says what the columns mean and when it was updated", () => {
    expect(markdown).toContain("### Aura scoreboard — octo");
    expect(markdown).toContain("3 employees, 23 tasks, $9.40 spent.");
    expect(markdown).toContain("_Updated 2025-03-21 00:00 UTC._");
    expect(markdown).toContain("**How to read this**");
    expect(markdown).toMatch(/provider errors .* are not held against an employee/);
  });

  it("puts counts of one in the singular", () => {
    const single = renderScoreboard({
      employees: [{ employee: "solo", status: "probation", outcomes: tasks("solo", [{ result: "merged" }]), strikes: [] }],
      now,
    });

    expect(single).toContain("1 employee, 1 task, ");
  });

  it("renders an empty board without a table", () => {
    const empty = renderScoreboard({ employees: [], now });

    expect(empty.startsWith(SCOREBOARD_MARKER)).toBe(true);
    expect(empty).toContain("No employees are registered yet.");
    expect(empty).not.toContain("| # |");
  });
});
