// The board: every visible requirement and task across repositories, in columns by state, and the
// installation-wide actions (halt, resume) for each installation the person directs a repository of.
import { REQUIREMENT_STATES, TASK_STATES } from "../../core/state-machine.js";
import type { RequirementSummary, TaskSummary } from "../read-model.js";
import { formatUsd, html, type Html } from "./html.js";
import { actionForm } from "./forms.js";
import type { Viewer } from "./layout.js";

export type BoardInput = {
  viewer: Viewer;
  requirements: readonly RequirementSummary[];
  tasks: readonly TaskSummary[];
  /** Each visible installation with the repositories the person directs in it. */
  installations: readonly { installationId: number; repos: readonly string[] }[];
  /** The live stream's starting cursor for the live script. */
  liveSince: string | null;
};

function columns<T extends { state: string }>(states: readonly string[], items: readonly T[], card: (item: T) => Html, kind: string): Html {
  return html`<div class="columns" id="${kind}-columns">
    ${states.map((state) => {
      const inState = items.filter((item) => item.state === state);
      return html`<section class="column" data-state="${state}" id="${kind}-${state}">
        <h3>${state.replace(/_/g, " ")} <span class="count">${inState.length}</span></h3>
        ${inState.map(card)}
      </section>`;
    })}
  </div>`;
}

function requirementCard(requirement: RequirementSummary): Html {
  return html`<article class="card requirement" id="requirement-${requirement.id}" data-requirement-id="${requirement.id}">
    <a href="/console/requirements/${requirement.id}">${requirement.repo}#${requirement.issueNumber}</a>
    <p class="title">${requirement.title}</p>
    <p class="meta">${requirement.tasks} task${requirement.tasks === 1 ? "" : "s"} · ${formatUsd(requirement.costUsd)}</p>
  </article>`;
}

function taskCard(task: TaskSummary): Html {
  return html`<article class="card task" id="task-${task.id}" data-task-id="${task.id}">
    <a href="/console/tasks/${task.id}">${task.repo}#${task.issueNumber} · ${task.key}</a>
    <p class="title">${task.title}</p>
    <p class="meta">${task.employee ?? "unassigned"} · ${formatUsd(task.costUsd)}${task.prNumber !== null ? ` · PR #${task.prNumber}` : ""}</p>
  </article>`;
}

export function boardView(input: BoardInput): Html {
  const { viewer } = input;
  return html`<section
      id="board-live"
      class="live"
      data-live-url="/console/live${input.liveSince ? `?since=${encodeURIComponent(input.liveSince)}` : ""}"
    ></section>
    <section class="installations">
      ${input.installations.map(
        ({ installationId, repos }) =>
          html`<div class="installation" id="installation-${installationId}">
            <h2>Installation ${installationId}</h2>
            <p class="meta">You direct: ${repos.join(", ")}</p>
            ${actionForm(viewer, "halt", { installationId, repo: repos[0] ?? "" }, "Halt all work", [{ name: "note", label: "Note" }])}
            ${actionForm(viewer, "resume", { installationId, repo: repos[0] ?? "" }, "Resume", [{ name: "note", label: "Note" }])}
          </div>`,
      )}
    </section>
    <h2>Requirements</h2>
    ${columns(REQUIREMENT_STATES, input.requirements, requirementCard, "requirements")}
    <h2>Tasks</h2>
    ${columns(TASK_STATES, input.tasks, taskCard, "tasks")}`;
}
