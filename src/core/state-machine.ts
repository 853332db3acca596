// The lifecycle of requirements, tasks and employees as transition tables. Code that persists a state change
// asks `assertTransition` first, so an illegal move (a merged task going back to work, a suspended employee
// promoted by HR) is refused with a typed error instead of being written and audited as if it were fine.

export const REQUIREMENT_STATES = [
  "received",
  "planning",
  "planned",
  "awaiting_approval",
  "in_progress",
  "needs_director",
  "halted",
  "done",
  "failed",
  "cancelled",
] as const;
export type RequirementState = (typeof REQUIREMENT_STATES)[number];

export const TASK_STATES = ["queued", "assigned", "working", "pr_open", "merged", "rejected", "failed", "needs_director", "cancelled"] as const;
export type TaskState = (typeof TASK_STATES)[number];

export const EMPLOYEE_STATUSES = ["probation", "active", "suspended"] as const;
export type EmployeeStatus = (typeof EMPLOYEE_STATUSES)[number];

/** Who may make a transition: `director` rows need a director's command; `system` rows may also be done by a director. */
export type TransitionActor = "system" | "director";

type Transition<S extends string> = { readonly from: S; readonly to: S; readonly on: string; readonly by: TransitionActor };

// States a halted requirement can return to on `/aura resume`; the caller restores the one it held before.
const HALTABLE = ["received", "planning", "planned", "awaiting_approval", "in_progress", "needs_director"] as const;

export const REQUIREMENT_TRANSITIONS = [
  { from: "received", to: "planning", on: "intake job starts planning", by: "system" },
  { from: "planning", to: "planned", on: "plan passed the rules", by: "system" },
  { from: "planning", to: "needs_director", on: "plan refused by the rules or the model failed after re-asks", by: "system" },
  { from: "planning", to: "failed", on: "planning cannot proceed (no manager model configured)", by: "system" },
  { from: "planned", to: "awaiting_approval", on: "planApproval is on", by: "system" },
  { from: "planned", to: "in_progress", on: "tasks routed", by: "system" },
  { from: "awaiting_approval", to: "in_progress", on: "/aura approve", by: "director" },
  { from: "awaiting_approval", to: "planning", on: "/aura revise (re-plan)", by: "director" },
  { from: "in_progress", to: "done", on: "every task's PR merged", by: "system" },
  { from: "in_progress", to: "needs_director", on: "a task needs a director", by: "system" },
  { from: "in_progress", to: "failed", on: "every remaining task failed or was rejected", by: "system" },
  { from: "needs_director", to: "planning", on: "/aura revise (re-plan)", by: "director" },
  { from: "needs_director", to: "in_progress", on: "resolved: reassign, budget raise, or the task's PR merged", by: "system" },
  { from: "needs_director", to: "done", on: "the last open task's PR merged by a director", by: "system" },
  { from: "needs_director", to: "failed", on: "director gave up on the requirement", by: "director" },
  { from: "failed", to: "in_progress", on: "a rejected PR was reopened or a task reassigned", by: "system" },
  { from: "failed", to: "planning", on: "/aura revise (re-plan)", by: "director" },
  ...HALTABLE.map((from) => ({ from, to: "halted" as const, on: "/aura halt (installation-wide)", by: "director" as const })),
  ...HALTABLE.map((to) => ({ from: "halted" as const, to, on: "/aura resume (back to the state held before the halt)", by: "director" as const })),
  ...HALTABLE.map((from) => ({ from, to: "cancelled" as const, on: "issue closed or requirement label removed", by: "system" as const })),
  { from: "halted", to: "cancelled", on: "issue closed or requirement label removed", by: "system" },
  { from: "failed", to: "cancelled", on: "issue closed or requirement label removed", by: "system" },
  { from: "cancelled", to: "received", on: "issue reopened or relabelled", by: "system" },
] as const satisfies readonly Transition<RequirementState>[];

export const TASK_TRANSITIONS = [
  { from: "queued", to: "assigned", on: "router chose an employee", by: "system" },
  { from: "queued", to: "needs_director", on: "no eligible employee", by: "system" },
  { from: "queued", to: "cancelled", on: "requirement cancelled", by: "system" },
  { from: "assigned", to: "working", on: "work loop started", by: "system" },
  { from: "assigned", to: "assigned", on: "provider failover or /aura reassign (new routing decision)", by: "system" },
  { from: "assigned", to: "needs_director", on: "no eligible employee left after failover", by: "system" },
  { from: "assigned", to: "cancelled", on: "requirement cancelled", by: "system" },
  { from: "working", to: "pr_open", on: "branch pushed and PR opened", by: "system" },
  { from: "working", to: "assigned", on: "provider failover or /aura reassign (new routing decision)", by: "system" },
  { from: "working", to: "queued", on: "reconciler retries a stuck task once", by: "system" },
  { from: "working", to: "needs_director", on: "tests still fail, budget exhausted, or stuck after the retry", by: "system" },
  { from: "working", to: "failed", on: "work failed after retries", by: "system" },
  { from: "working", to: "cancelled", on: "requirement cancelled", by: "system" },
  { from: "pr_open", to: "working", on: "revision: changes requested or /aura revise", by: "system" },
  { from: "pr_open", to: "merged", on: "PR merged by a director", by: "system" },
  { from: "pr_open", to: "rejected", on: "PR closed without merge", by: "system" },
  { from: "pr_open", to: "needs_director", on: "merge conflict, budget exhausted or governance incident", by: "system" },
  { from: "pr_open", to: "assigned", on: "/aura reassign", by: "director" },
  { from: "pr_open", to: "cancelled", on: "requirement cancelled", by: "system" },
  { from: "needs_director", to: "merged", on: "its draft PR merged by a director", by: "system" },
  { from: "needs_director", to: "rejected", on: "its PR closed without merge", by: "system" },
  { from: "needs_director", to: "pr_open", on: "conflict resolved or tests fixed on the open PR", by: "system" },
  { from: "needs_director", to: "working", on: "/aura revise or /aura budget", by: "director" },
  { from: "needs_director", to: "assigned", on: "/aura reassign", by: "director" },
  { from: "needs_director", to: "queued", on: "director asks for a retry", by: "director" },
  { from: "needs_director", to: "cancelled", on: "requirement cancelled", by: "system" },
  { from: "rejected", to: "pr_open", on: "PR reopened (the rejection stops counting; the Governor evaluates the PR again)", by: "system" },
  { from: "rejected", to: "assigned", on: "/aura reassign", by: "director" },
  { from: "failed", to: "queued", on: "director asks for a retry", by: "director" },
  { from: "failed", to: "assigned", on: "/aura reassign", by: "director" },
  { from: "failed", to: "needs_director", on: "reported to the director", by: "system" },
  { from: "failed", to: "cancelled", on: "requirement cancelled", by: "system" },
  { from: "rejected", to: "cancelled", on: "requirement cancelled", by: "system" },
] as const satisfies readonly Transition<TaskState>[];

export const EMPLOYEE_TRANSITIONS = [
  {
    from: "probation",
    to: "active",
    on: "HR: n ≥ 10 outcomes since probation began and their lower 10 % bound ≥ 0.55; or /aura trial, a director accepting an eval run whose resolved share has a lower 95 % bound ≥ 0.55",
    by: "system",
  },
  { from: "active", to: "probation", on: "HR: n ≥ 10 and upper 90 % bound < 0.45 over the last 20 (capped at 10 % again until 10 new outcomes)", by: "system" },
  { from: "probation", to: "suspended", on: "critical violation, ≥ 3 strike points in 30 days, upper bound < 0.30, or /aura suspend", by: "system" },
  { from: "active", to: "suspended", on: "critical violation, ≥ 3 strike points in 30 days, upper bound < 0.30, or /aura suspend", by: "system" },
  { from: "suspended", to: "probation", on: "/aura reinstate", by: "director" },
] as const satisfies readonly Transition<EmployeeStatus>[];

export const STATE_MACHINES = {
  requirement: { states: REQUIREMENT_STATES, initial: "received", terminal: ["done"], transitions: REQUIREMENT_TRANSITIONS },
  task: { states: TASK_STATES, initial: "queued", terminal: ["merged", "cancelled"], transitions: TASK_TRANSITIONS },
  employee: { states: EMPLOYEE_STATUSES, initial: "probation", terminal: [], transitions: EMPLOYEE_TRANSITIONS },
} as const;

export type MachineKind = keyof typeof STATE_MACHINES;
export type StateOf<K extends MachineKind> = (typeof STATE_MACHINES)[K]["states"][number];

/** A refused state change: the record stays where it was. */
export class IllegalTransition extends Error {
  override name = "IllegalTransition";
  constructor(
    readonly kind: MachineKind,
    readonly from: string,
    readonly to: string,
    readonly detail: string,
  ) {
    super(`Illegal ${kind} transition ${from} → ${to}: ${detail}`);
  }
}

function transitionsOf(kind: MachineKind): readonly Transition<string>[] {
  return STATE_MACHINES[kind].transitions;
}

/** Whether `from → to` is in the table (for `by: "system"`, director-only moves are not allowed). */
export function canTransition<K extends MachineKind>(kind: K, from: StateOf<K>, to: StateOf<K>, by: TransitionActor = "system"): boolean {
  return transitionsOf(kind).some((t) => t.from === from && t.to === to && (t.by === "system" || by === "director"));
}

/** The states reachable from `from` in one step. */
export function nextStates<K extends MachineKind>(kind: K, from: StateOf<K>, by: TransitionActor = "director"): StateOf<K>[] {
  const out = transitionsOf(kind)
    .filter((t) => t.from === from && (t.by === "system" || by === "director"))
    .map((t) => t.to as StateOf<K>);
  return [...new Set(out)];
}

/** Throws IllegalTransition unless the table allows `from → to` for this actor. */
export function assertTransition<K extends MachineKind>(kind: K, from: StateOf<K>, to: StateOf<K>, by: TransitionActor = "system"): void {
  const states: readonly string[] = STATE_MACHINES[kind].states;
  if (!states.includes(from)) throw new IllegalTransition(kind, from, to, `"${from}" is not a ${kind} state`);
  if (!states.includes(to)) throw new IllegalTransition(kind, from, to, `"${to}" is not a ${kind} state`);
  const rows = transitionsOf(kind).filter((t) => t.from === from && t.to === to);
  if (rows.length === 0) {
    const allowed = nextStates(kind, from);
    throw new IllegalTransition(kind, from, to, allowed.length > 0 ? `from ${from} only ${allowed.join(", ")} are allowed` : `${from} is final`);
  }
  if (!rows.some((t) => t.by === "system" || by === "director")) {
    throw new IllegalTransition(kind, from, to, `only a director can do this (${rows[0]?.on ?? ""})`);
  }
}

const mermaidId = (state: string) => state.replace(/[^A-Za-z0-9_]/g, "_");

/** One mermaid `stateDiagram-v2` per machine; director-only transitions are marked "(director)". */
export function renderStateMachineMermaid(kind: MachineKind): string {
  const machine = STATE_MACHINES[kind];
  const lines = ["stateDiagram-v2", `  [*] --> ${mermaidId(machine.initial)}`];
  const seen = new Set<string>();
  for (const t of transitionsOf(kind)) {
    const id = `${t.from}>${t.to}`;
    // Halt, resume and cancel fan out from many states; one edge per pair keeps the diagram readable.
    if (seen.has(id)) continue;
    seen.add(id);
    const label = `${t.on}${t.by === "director" ? " (director)" : ""}`.replace(/:/g, " -").replace(/"/g, "'");
    lines.push(`  ${mermaidId(t.from)} --> ${mermaidId(t.to)}: ${label}`);
  }
  for (const state of machine.terminal) lines.push(`  ${mermaidId(state)} --> [*]`);
  return lines.join("\n");
}

/** Markdown with a mermaid diagram and a transition table for each machine, for docs/architecture.md. */
export function renderStateMachinesMarkdown(): string {
  const titles: Record<MachineKind, string> = { requirement: "Requirement", task: "Task", employee: "Employee lifecycle" };
  const parts: string[] = [];
  for (const kind of Object.keys(STATE_MACHINES) as MachineKind[]) {
    parts.push(`### ${titles[kind]}`, "", "```mermaid", renderStateMachineMermaid(kind), "```", "");
    parts.push("| From | To | When | By |", "|---|---|---|---|");
    for (const t of transitionsOf(kind)) parts.push(`| \`${t.from}\` | \`${t.to}\` | ${t.on} | ${t.by} |`);
    parts.push("");
  }
  return parts.join("\n");
}
