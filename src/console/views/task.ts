// The task page (why this employee, the Governor's verdict rule by rule, the Auditor's evidence, diff stats,
// cost, the trajectory: the live script appends steps to #trajectory-steps) and the requirement page (its plan's
// tasks and the requirement's actions). Every text from a model or a person is escaped by `html`.
import type { RequirementSummary, TaskDetail, TaskSummary } from "../read-model.js";
import { actionForm } from "./forms.js";
import { formatTime, formatUsd, html, type Html } from "./html.js";
import type { Viewer } from "./layout.js";

const num = (value: number | null | undefined, digits = 3) => (value === null || value === undefined ? "–" : value.toFixed(digits));

function routingSection(task: TaskDetail): Html {
  const latest = task.routing.at(-1);
  if (!latest)
    return html`<section id="routing">
      <h2>Routing</h2>
      <p>Not routed yet.</p>
    </section>`;
  const { decision } = latest;
  return html`<section id="routing">
    <h2>Routing: why ${latest.winner ?? "nobody"}</h2>
    <p class="reason" id="routing-reason">${decision.reason}</p>
    <p class="meta">
      Decision ${latest.id} (${decision.kind}), attempt ${latest.attempt},
      ${formatTime(latest.createdAt)}${decision.override ? html`; director override by ${decision.override.director}` : html``}
    </p>
    <table class="grid">
      <thead>
        <tr>
          <th>Employee</th>
          <th>Status</th>
          <th>Eligible</th>
          <th>Why</th>
          <th>Posterior mean</th>
          <th>Draw</th>
          <th>Score</th>
          <th>Expected cost</th>
        </tr>
      </thead>
      <tbody>
        ${decision.candidates.map(
          (candidate) =>
            html`<tr class="${candidate.employeeId === decision.winner ? "winner" : ""}">
              <td>${candidate.employeeId}</td>
              <td>${candidate.status}</td>
              <td>${candidate.eligible ? "yes" : "no"}</td>
              <td>${candidate.reason}</td>
              <td>${num(candidate.posterior.alpha / (candidate.posterior.alpha + candidate.posterior.beta))}</td>
              <td>${num(candidate.draw)}</td>
              <td>${num(candidate.score)}</td>
              <td>${formatUsd(candidate.expectedCostUsd)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function verdictSection(task: TaskDetail): Html {
  const verdict = task.verdict;
  if (!verdict)
    return html`<section id="verdict">
      <h2>Governor</h2>
      <p>No verdict yet.</p>
    </section>`;
  return html`<section id="verdict">
    <h2>Governor: ${verdict.conclusion}</h2>
    <p class="meta">${verdict.description} (head ${verdict.headSha.slice(0, 12)})</p>
    <table class="grid">
      <thead>
        <tr>
          <th>Rule</th>
          <th>Severity</th>
          <th>State</th>
          <th>Why</th>
          <th>Findings</th>
        </tr>
      </thead>
      <tbody>
        ${verdict.rules.map(
          (rule) =>
            html`<tr class="rule state-${rule.state}" data-rule-id="${rule.ruleId}">
              <td>${rule.ruleId}</td>
              <td>${rule.severity}</td>
              <td>${rule.state}</td>
              <td>${rule.summary}${rule.override ? html`<br />overridden by ${rule.override.by}: ${rule.override.reason}` : html``}</td>
              <td>
                ${rule.findings.map((finding) => html`<div>${finding.path ?? ""}${finding.line !== undefined ? `:${finding.line}` : ""} ${finding.message}</div>`)}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function evidenceSection(task: TaskDetail): Html {
  const run = task.evidence;
  if (!run)
    return html`<section id="evidence">
      <h2>Auditor</h2>
      <p>No evidence yet.</p>
    </section>`;
  const report = run.report;
  return html`<section id="evidence">
    <h2>Auditor: ${run.state}</h2>
    ${run.reviewUrl ? html`<p><a href="${run.reviewUrl}" rel="noreferrer">The Auditor's review</a></p>` : html``}
    ${
      report
        ? html`<dl class="facts">
              <dt>Tests at head</dt>
              <dd>
                ${report.head.command ?? "none"}: exit
                ${report.head.exitCode ?? "–"}${report.head.timedOut ? " (timed out)" : ""}${report.head.counts ? `, ${report.head.counts.passed} passed, ${report.head.counts.failed} failed, ${report.head.counts.skipped} skipped` : ""}
              </dd>
              <dt>Sandbox</dt>
              <dd>${report.head.sandbox ?? "–"}${report.head.limitsMissing ? `; limits missing: ${report.head.limitsMissing}` : ""}</dd>
              <dt>Claim</dt>
              <dd>${report.claim.kind}${report.claim.reason ? `: ${report.claim.reason}` : ""}</dd>
              <dt>Flags</dt>
              <dd>${report.flags.length > 0 ? report.flags.join(", ") : "none"}</dd>
              ${
                report.head.problem
                  ? html`<dt>Problem</dt>
                      <dd>${report.head.problem}</dd>`
                  : html``
              }
            </dl>
            <pre class="log" id="evidence-log">${report.head.logTail}</pre>`
        : html`<p>The run has not finished.</p>`
    }
  </section>`;
}

function trajectorySection(task: TaskDetail, liveSince: string | null): Html {
  const url = `/console/live?task=${task.id}${liveSince ? `&since=${encodeURIComponent(liveSince)}` : ""}`;
  return html`<section id="trajectory" class="trajectory live" data-task-id="${task.id}" data-live-url="${url}">
    <h2>Trajectory</h2>
    ${task.trajectory.map(
      (run) =>
        html`<div class="run" data-run-id="${run.id}">
          <h3>Run ${run.id}: ${run.employeeId}, ${run.mode}, attempt ${run.attempt}${run.revisionRound > 0 ? `, revision ${run.revisionRound}` : ""}</h3>
          <p class="meta">
            ${formatTime(run.startedAt)} → ${run.endedAt ? formatTime(run.endedAt) : "working"}${run.endReason ? ` · ${run.endReason}` : ""} · ${run.steps}
            step${run.steps === 1 ? "" : "s"}
          </p>
        </div>`,
    )}
    <table class="grid steps">
      <thead>
        <tr>
          <th>Run</th>
          <th>Step</th>
          <th>Kind</th>
          <th>Tool</th>
          <th>Arguments</th>
          <th>Exit</th>
          <th>Tokens</th>
          <th>Cost</th>
          <th>Observation</th>
        </tr>
      </thead>
      <tbody id="trajectory-steps">
        ${task.trajectory.flatMap((run) =>
          (run.stepRecords ?? []).map(
            (step) =>
              html`<tr class="step" data-run-id="${run.id}" data-step="${step.step}">
                <td>${run.id}</td>
                <td>${step.step}</td>
                <td>${step.kind}</td>
                <td>${step.tool ?? ""}</td>
                <td><code>${step.arguments ?? ""}</code></td>
                <td>${step.exitCode ?? ""}</td>
                <td>${(step.inputTokens ?? 0) + (step.outputTokens ?? 0) || ""}</td>
                <td>${step.costUsd === null ? "" : formatUsd(step.costUsd)}</td>
                <td><pre>${step.observation ?? ""}</pre></td>
              </tr>`,
          ),
        )}
      </tbody>
    </table>
  </section>`;
}

export function taskView(viewer: Viewer, task: TaskDetail, liveSince: string | null): Html {
  return html`<section id="task-facts" data-task-id="${task.id}">
      <p><a href="/console/requirements/${task.requirementId}">${task.repo}#${task.issueNumber}: ${task.requirementTitle}</a></p>
      <dl class="facts">
        <dt>State</dt>
        <dd id="task-state">${task.state}</dd>
        <dt>Employee</dt>
        <dd id="task-employee">${task.employee ?? "unassigned"}</dd>
        <dt>Class</dt>
        <dd>${task.taskClass}</dd>
        <dt>Pull request</dt>
        <dd>
          ${task.prNumber !== null ? (task.pullUrl ? html`<a href="${task.pullUrl}" rel="noreferrer">#${task.prNumber}</a>` : `#${task.prNumber}`) : "none"}
        </dd>
        <dt>Diff</dt>
        <dd id="task-diff">${task.diff ? `${task.diff.files} files, +${task.diff.additions} −${task.diff.deletions}` : "not measured yet"}</dd>
        <dt>Cost</dt>
        <dd id="task-cost">${formatUsd(task.costUsd)} (estimate ${formatUsd(task.estimate.usd)})</dd>
        <dt>Revision rounds</dt>
        <dd>${task.revisionRounds}</dd>
      </dl>
      <h2>Instructions</h2>
      <pre class="instructions">${task.instructions}</pre>
    </section>
    <section id="task-actions" class="actions">
      <h2>Actions</h2>
      ${reassignForm(viewer, task)} ${budgetForm(viewer, task)}
    </section>
    ${routingSection(task)} ${verdictSection(task)} ${evidenceSection(task)} ${trajectorySection(task, liveSince)}`;
}

function reassignForm(viewer: Viewer, task: TaskSummary): Html {
  return actionForm(viewer, "reassign", { requirementId: task.requirementId }, "Reassign", [{ name: "employee", label: "Employee", required: true }], {
    task: task.key,
  });
}

function budgetForm(viewer: Viewer, task: TaskSummary): Html {
  const fields = [
    { name: "amount", label: "Add US$", placeholder: "2.50", required: true },
    { name: "note", label: "Note" },
  ];
  return actionForm(viewer, "budget", { requirementId: task.requirementId }, "Raise this task's budget", fields, { task: task.key });
}

export function requirementView(viewer: Viewer, requirement: RequirementSummary, tasks: readonly TaskSummary[]): Html {
  const target = { requirementId: requirement.id };
  return html`<section id="requirement-facts" data-requirement-id="${requirement.id}">
      <p>
        ${requirement.repo}#${requirement.issueNumber} · state <span id="requirement-state">${requirement.state}</span> · plan revision
        ${requirement.planRevision} · ${formatUsd(requirement.costUsd)}
      </p>
    </section>
    <section id="requirement-tasks">
      <h2>Tasks</h2>
      <table class="grid">
        <thead>
          <tr>
            <th>Task</th>
            <th>Title</th>
            <th>State</th>
            <th>Employee</th>
            <th>Cost</th>
          </tr>
        </thead>
        <tbody>
          ${tasks.map(
            (task) =>
              html`<tr data-task-id="${task.id}">
                <td><a href="/console/tasks/${task.id}">${task.key}</a></td>
                <td>${task.title}</td>
                <td>${task.state}</td>
                <td>${task.employee ?? ""}</td>
                <td>${formatUsd(task.costUsd)}</td>
              </tr>`,
          )}
        </tbody>
      </table>
    </section>
    <section id="requirement-actions" class="actions">
      <h2>Actions</h2>
      ${actionForm(viewer, "approve", target, "Approve the plan", [{ name: "note", label: "Note" }])}
      ${actionForm(viewer, "budget", target, "Raise the requirement's budget", [
        { name: "amount", label: "Add US$", placeholder: "5.00", required: true },
        { name: "note", label: "Note" },
      ])}
    </section>`;
}
