// The employees page: each visible installation's scoreboard (the same ranking `/aura scoreboard` posts), each
// employee's posterior interval of success and cost per merged PR over time as inline SVG (presentation
// attributes only: the Content-Security-Policy allows no inline style), HR history, and suspend/reinstate.
import type { InstallationScoreboard, ScoreboardOutcome } from "../read-model-scoreboard.js";
import type { AuditEvent } from "../read-model-audit.js";
import { actionForm } from "./forms.js";
import { formatTime, formatUsd, html, raw, type Html } from "./html.js";
import type { Viewer } from "./layout.js";

const WIDTH = 240;
const HEIGHT = 28;

const coord = (value: number) => (Math.round(value * 10) / 10).toString();

/** The 95 % posterior interval of success on a 0–1 axis, with the mean as a dot. */
export function posteriorChart(id: string, score: { mean: number; lower: number; upper: number }): Html {
  const x = (value: number) => coord(4 + Math.min(1, Math.max(0, value)) * (WIDTH - 8));
  const label = `success ${Math.round(score.lower * 100)}–${Math.round(score.upper * 100)} %, mean ${Math.round(score.mean * 100)} %`;
  return html`<svg
      class="chart posterior"
      id="${id}"
      role="img"
      width="${WIDTH}"
      height="${HEIGHT}"
      viewBox="0 0 ${WIDTH} ${HEIGHT}"
      xmlns="http://www.w3.org/2000/svg"
    >
      <title>${label}</title>
      <line x1="4" y1="14" x2="${WIDTH - 4}" y2="14" stroke="#ccc" stroke-width="1" />
      <rect x="${x(score.lower)}" y="8" width="${coord(Math.max(1, Number(x(score.upper)) - Number(x(score.lower))))}" height="12" fill="#7aa7e0" />
      <circle cx="${x(score.mean)}" cy="14" r="3.5" fill="#123" />
    </svg>
    <span class="interval">${label}</span>`;
}

/** Cumulative cost per merged PR after each outcome, as a line over time. */
export function costChart(id: string, outcomes: readonly ScoreboardOutcome[]): Html {
  let cost = 0;
  let merged = 0;
  const points: { t: number; v: number }[] = [];
  for (const outcome of outcomes) {
    cost += outcome.costUsd;
    if (outcome.result === "merged") merged += 1;
    if (merged > 0) points.push({ t: outcome.closedAt.getTime(), v: cost / merged });
  }
  if (points.length === 0) return html`<span class="chart-empty" id="${id}">no merged PR yet</span>`;
  const t0 = points[0]?.t ?? 0;
  const t1 = points.at(-1)?.t ?? t0;
  const top = Math.max(...points.map((point) => point.v)) || 1;
  const h = 48;
  const xy = points.map((point) => `${coord(4 + (t1 === t0 ? 0.5 : (point.t - t0) / (t1 - t0)) * (WIDTH - 8))},${coord(h - 4 - (point.v / top) * (h - 8))}`);
  const last = points.at(-1)?.v ?? 0;
  return html`<svg class="chart cost" id="${id}" role="img" width="${WIDTH}" height="${h}" viewBox="0 0 ${WIDTH} ${h}" xmlns="http://www.w3.org/2000/svg">
      <title>cost per merged PR, now ${formatUsd(last)}</title>
      <polyline points="${xy.join(" ")}" fill="none" stroke="#2a7" stroke-width="2" />
    </svg>
    <span class="cost-now">${formatUsd(last)} per merged PR</span>`;
}

const domId = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, "_");

export type EmployeesInput = {
  viewer: Viewer;
  boards: readonly InstallationScoreboard[];
  /** HR events by installation and employee. */
  hr: ReadonlyMap<string, readonly AuditEvent[]>;
  /** A repository the person directs in each installation (where an HR command is recorded). */
  repoOf: ReadonlyMap<number, string>;
};

export const hrKey = (installationId: number, employee: string) => `${installationId}/${employee}`;

export function employeesView(input: EmployeesInput): Html {
  return html`${input.boards.map((board) => {
    const repo = input.repoOf.get(board.installationId) ?? "";
    const target = { installationId: board.installationId, repo };
    return html`<section class="scoreboard" id="scoreboard-${board.installationId}">
      <h2>${board.scope}</h2>
      <table class="grid">
        <thead>
          <tr>
            <th>#</th>
            <th>Employee</th>
            <th>Status</th>
            <th>Tasks</th>
            <th>Merged</th>
            <th>Merge rate</th>
            <th>Posterior of success</th>
            <th>Strike points</th>
            <th>Cost</th>
            <th>Cost per merged PR over time</th>
          </tr>
        </thead>
        <tbody>
          ${board.rows.map((row) => {
            const id = domId(`${board.installationId}-${row.stats.employee}`);
            return html`<tr class="employee" id="employee-${id}" data-employee="${row.stats.employee}">
              <td>${row.rank}</td>
              <td>${row.stats.employee}</td>
              <td class="status">${row.status}</td>
              <td>${row.stats.tasks}</td>
              <td>${row.stats.merged}</td>
              <td>${row.stats.mergeRate === null ? "–" : `${Math.round(row.stats.mergeRate * 100)} %`}</td>
              <td>${posteriorChart(`posterior-${id}`, row.stats.score)}</td>
              <td>${row.strikePoints}</td>
              <td>${formatUsd(row.stats.totalCostUsd)}</td>
              <td>${costChart(`cost-${id}`, row.outcomes)}</td>
            </tr>`;
          })}
        </tbody>
      </table>
      <h3>HR history</h3>
      ${board.rows.map((row) => {
        const events = input.hr.get(hrKey(board.installationId, row.stats.employee)) ?? [];
        return html`<div class="hr" id="hr-${domId(`${board.installationId}-${row.stats.employee}`)}">
          <h4>${row.stats.employee}</h4>
          ${
            events.length === 0
              ? html`<p class="meta">No status change.</p>`
              : html`<ul>
                  ${events.map((event) => html`<li>${formatTime(event.ts)} · ${event.action} by ${event.actor}${hrReason(event.payload)}</li>`)}
                </ul>`
          }
        </div>`;
      })}
      <div class="actions">
        ${actionForm(input.viewer, "suspend", target, "Suspend", [
          { name: "employee", label: "Employee", required: true },
          { name: "reason", label: "Reason", required: true },
        ])}
        ${actionForm(input.viewer, "reinstate", target, "Reinstate", [
          { name: "employee", label: "Employee", required: true },
          { name: "note", label: "Note" },
        ])}
      </div>
    </section>`;
  })}${input.boards.length === 0 ? raw("<p>No scoreboard yet.</p>") : html``}`;
}

function hrReason(payload: unknown): string {
  if (typeof payload !== "object" || payload === null) return "";
  const { from, to, reason } = payload as { from?: unknown; to?: unknown; reason?: unknown };
  const move = typeof from === "string" && typeof to === "string" ? ` (${from} → ${to})` : "";
  return `${move}${typeof reason === "string" ? `: ${reason}` : ""}`;
}
