// The requirement's sticky "Aura" status comment: one per issue, found by a hidden marker and edited in
// place. It shows the state, the task checklist with the employee, estimate, status, PR and cost of each
// task, and the notices (budget warnings, HR announcements, governance incidents). It also carries the
// audit chain head in a hidden anchor, recorded in audit.anchors, so `aura audit verify` can check that the
// chain GitHub saw is still the chain in the database.
import type pg from "pg";
import type { Services } from "../services.js";
import { inertInline } from "../github/inert-markdown.js";
import { upsertStickyComment } from "../github/sticky-comment.js";
import type { RequirementState, TaskState } from "./state-machine.js";

export const statusMarker = (requirementId: number) => `<!-- aura:status requirement=${requirementId} -->`;

export type NoticeKind = "info" | "warning" | "incident" | "hr";

export async function addNotice(
  client: Pick<pg.PoolClient, "query">,
  requirementId: number,
  notice: { kind: NoticeKind; body: string; key?: string },
): Promise<void> {
  await client.query(
    `INSERT INTO requirement_notices (requirement_id, kind, body, key) VALUES ($1, $2, $3, $4)
     ON CONFLICT (requirement_id, key) DO NOTHING`,
    [requirementId, notice.kind, notice.body, notice.key ?? null],
  );
}

/** Whether the requirement already has the notice with this key. */
export async function hasNotice(client: Pick<pg.PoolClient, "query">, requirementId: number, key: string): Promise<boolean> {
  const seen = await client.query("SELECT 1 FROM requirement_notices WHERE requirement_id = $1 AND key = $2", [requirementId, key]);
  return (seen.rowCount ?? 0) > 0;
}

const STATE_TEXT: Record<RequirementState, string> = {
  received: "Received — planning starts shortly.",
  planning: "Planning — the Manager is drafting a plan and the rules are checking it.",
  planned: "Planned — tasks are being assigned.",
  awaiting_approval: "Waiting for approval — a director can start the work with `/aura approve`.",
  in_progress: "In progress — employees are working on the tasks below.",
  needs_director: "Needs a director — see below for what went wrong and what you can do.",
  halted: "Halted — all work for this installation is paused until a director says `/aura resume`.",
  done: "Done — every task's pull request was merged.",
  failed: "Failed — no task can make progress; a director can `/aura revise` the requirement.",
  cancelled: "Cancelled — the issue was closed or the requirement label removed.",
};

const TASK_TEXT: Record<TaskState, string> = {
  queued: "queued",
  assigned: "assigned",
  working: "working",
  pr_open: "PR open",
  merged: "merged",
  rejected: "rejected",
  failed: "failed",
  needs_director: "**needs a director**",
  cancelled: "cancelled",
};

const NOTICE_ICON: Record<NoticeKind, string> = { info: "ℹ️", warning: "⚠️", incident: "🚨", hr: "👥" };

function usd(value: number): string {
  return value > 0 && value < 0.01 ? "<$0.01" : `$${value.toFixed(2)}`;
}

function tokens(value: number): string {
  return value >= 1000 ? `${Math.round(value / 1000)}k` : String(value);
}

/** What a working agent is doing now, by the tool it called last (the model's own tool names never reach the comment). */
const TOOL_ACTIVITY: Record<string, string> = {
  run_command: "running a command",
  read_file: "reading code",
  search: "searching the code",
  list_dir: "looking around the tree",
  edit_file: "editing files",
  create_file: "writing files",
  delete_file: "deleting files",
  run_tests: "running the tests",
  request_scope: "asking for a wider scope",
  submit: "submitting its work",
};

/** The current step of a task's open agent run, as the status comment reads it from the trajectory tables. */
export type RunProgress = { turns: number; maxSteps: number | null; lastKind: string | null; lastTool: string | null; lastObservation: string | null };

/** "step 12 of at most 50, running the tests": the turn the agent is on and what its last step set going. */
export function progressText(progress: RunProgress): string {
  const cap = progress.maxSteps === null ? "" : ` of at most ${progress.maxSteps}`;
  return `step ${progress.turns}${cap}, ${activity(progress)}`;
}

function activity(progress: RunProgress): string {
  if (progress.lastKind === "shortening") return "shortening its conversation";
  if (progress.lastKind === "tool") return "waiting for the model's next turn";
  // A turn's stored text ends with the tools it called (loop.ts): those run now.
  const called = /\[calls: ([^\]]*)\]\s*$/.exec(progress.lastObservation ?? "")?.[1]?.split(", ") ?? [];
  const doing = [...new Set(called.map((name) => TOOL_ACTIVITY[name]).filter((text) => text !== undefined))];
  return doing.length > 0 ? doing.join(" and ") : "waiting for the model's next turn";
}

/** Refreshes on the first turn and then at most once per `intervalMs` of the clock: GitHub is not edited per step. */
export function throttledProgress(refresh: () => Promise<void>, options: { now: () => Date; intervalMs: number }): (turn: number) => Promise<void> {
  let last: number | undefined;
  return async (turn) => {
    const at = options.now().getTime();
    if (turn !== 1 && last !== undefined && at - last < options.intervalMs) return;
    last = at;
    await refresh();
  };
}

/** Seconds of work between two refreshes of the status comment while an agent works (after its first turn). */
export const PROGRESS_REFRESH_MS = 30_000;

type Row = {
  task_key: string;
  title: string;
  task_class: string;
  state: TaskState;
  estimate_tokens: number;
  estimate_usd: string;
  cost_usd: string;
  pr_number: number | null;
  revision_rounds: number;
  employee_id: string | null;
  depends_on: string[];
  /** The open agent run of a working task, when it has taken a turn. */
  progress?: RunProgress | null;
};

/** Renders the status comment body from the database (pure over the rows it is given). */
export function renderStatusComment(input: {
  requirementId: number;
  state: RequirementState;
  summary: string | null;
  tasks: Row[];
  notices: { kind: NoticeKind; body: string }[];
  planProblems: string | null;
  anchor: { seq: number; hash: string };
}): string {
  const lines = [statusMarker(input.requirementId), `### Aura · requirement status`, "", `**${STATE_TEXT[input.state]}**`];
  // The plan's summary and task titles are the Manager model's text: inert, like all model text the app posts.
  if (input.summary) lines.push("", `> ${inertInline(input.summary)}`);
  if (input.tasks.length > 0) {
    const total = input.tasks.reduce((sum, task) => sum + Number(task.cost_usd), 0);
    lines.push(
      "",
      "| | Task | Class | Employee | Estimate | Status | PR | Cost |",
      "|---|---|---|---|---|---|---|--:|",
      ...input.tasks.map((task) => {
        const done = task.state === "merged" ? "✅" : task.state === "cancelled" || task.state === "rejected" ? "✖️" : "⬜";
        const waits = task.depends_on.length > 0 && task.state === "queued" ? ` (after ${task.depends_on.map((d) => `\`${d}\``).join(", ")})` : "";
        const rounds = task.revision_rounds > 0 ? `, ${task.revision_rounds} revision${task.revision_rounds === 1 ? "" : "s"}` : "";
        return `| ${done} | ${inertInline(task.title)} \`${task.task_key}\` | ${task.task_class} | ${task.employee_id ? `\`${task.employee_id}\`` : "—"} | ~${tokens(task.estimate_tokens)} tokens, ${usd(Number(task.estimate_usd))} | ${TASK_TEXT[task.state]}${task.progress && task.progress.turns > 0 && task.state === "working" ? ` — ${progressText(task.progress)}` : ""}${waits}${rounds} | ${task.pr_number ? `#${task.pr_number}` : "—"} | ${usd(Number(task.cost_usd))} |`;
      }),
      "",
      `Spent so far: **${usd(total)}**.`,
    );
  }
  if (input.planProblems) lines.push("", "#### What was wrong with the plan", "", input.planProblems);
  if (input.notices.length > 0) {
    lines.push("", "#### Notices", "", ...input.notices.map((notice) => `- ${NOTICE_ICON[notice.kind]} ${notice.body}`));
  }
  lines.push(
    "",
    `<sub>Directors: reply \`/aura help\` for commands. Audit chain head: #${input.anchor.seq} \`${input.anchor.hash.slice(0, 12)}\`.</sub>`,
    `<!-- aura:anchor seq=${input.anchor.seq} hash=${input.anchor.hash} -->`,
  );
  return lines.join("\n");
}

// The task's open agent run (the trajectory tables, migration 023): its turns so far, its step cap, and its last step.
const OPEN_RUN_PROGRESS = `
  SELECT json_build_object('turns', (SELECT count(*) FROM work_steps s WHERE s.run_id = w.id AND s.kind = 'turn'), 'maxSteps', w.max_steps,
                           'lastKind', last.kind, 'lastTool', last.tool, 'lastObservation', right(last.observation, 500)) AS progress
  FROM work_runs w
  JOIN LATERAL (SELECT kind, tool, observation FROM work_steps s WHERE s.run_id = w.id ORDER BY s.step DESC LIMIT 1) last ON true
  WHERE w.task_id = t.id AND w.ended_at IS NULL AND w.mode <> 'single-shot'
  ORDER BY w.id DESC LIMIT 1`;

export async function refreshStatusComment(services: Services, requirementId: number): Promise<void> {
  const requirement = (
    await services.pool.query<{
      installation_id: number;
      repo: string;
      issue_number: number;
      state: RequirementState;
      plan: { summary?: string } | null;
      plan_problems: string | null;
      status_comment_id: number | null;
    }>(
      `SELECT installation_id, repo, issue_number, state, plan, plan_problems #>> '{}' AS plan_problems, status_comment_id
       FROM requirements WHERE id = $1`,
      [requirementId],
    )
  ).rows[0];
  if (!requirement) throw new Error(`requirement ${requirementId} does not exist`);
  const tasks = (
    await services.pool.query<Row>(
      `SELECT t.task_key, t.title, t.task_class, t.state, t.estimate_tokens, t.estimate_usd, t.cost_usd, t.pr_number,
              t.revision_rounds, t.depends_on, a.employee_id, run.progress
       FROM tasks t JOIN requirements r ON r.id = t.requirement_id
       LEFT JOIN assignments a ON a.task_id = t.id AND a.active
       LEFT JOIN LATERAL (${OPEN_RUN_PROGRESS}) run ON t.state = 'working'
       WHERE t.requirement_id = $1 AND t.plan_revision = r.plan_revision ORDER BY t.id`,
      [requirementId],
    )
  ).rows;
  const notices = (
    await services.pool.query<{ kind: NoticeKind; body: string }>("SELECT kind, body FROM requirement_notices WHERE requirement_id = $1 ORDER BY id", [
      requirementId,
    ])
  ).rows;
  const head = (await services.pool.query<{ seq: number; hash: Buffer }>("SELECT seq, hash FROM audit.head WHERE id = 1")).rows[0];
  const anchor = { seq: Number(head?.seq ?? 0), hash: head?.hash.toString("hex") ?? "" };
  const body = renderStatusComment({
    requirementId,
    state: requirement.state,
    summary: requirement.plan?.summary ?? null,
    tasks,
    notices,
    planProblems: requirement.plan_problems,
    anchor,
  });
  const [owner, repo] = requirement.repo.split("/") as [string, string];
  const octokit = services.github.forInstallation(Number(requirement.installation_id));
  const result = await upsertStickyComment(octokit, {
    owner,
    repo,
    issueNumber: requirement.issue_number,
    marker: statusMarker(requirementId),
    body,
    commentId: requirement.status_comment_id,
  });
  if (result.commentId !== requirement.status_comment_id) {
    await services.pool.query("UPDATE requirements SET status_comment_id = $2 WHERE id = $1", [requirementId, result.commentId]);
  }
  if (anchor.seq > 0) {
    await services.pool.query("SELECT audit.add_anchor($1, $2, $3)", [anchor.seq, head?.hash, `comment:${requirement.repo}#${requirement.issue_number}`]);
  }
}
