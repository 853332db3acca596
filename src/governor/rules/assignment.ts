// assignment: the PR belongs to a task the router assigned, on that task's branch, and every commit is one the
// work loop recorded for the task or one a director wrote (human-assisted). Nobody self-assigns work.
import type { RuleOfKind } from "../policy-pack.js";
import type { Finding } from "../verdict.js";
import { plural, type RuleInput, type RuleOutcome } from "./rule-input.js";
import { inertCode } from "../../github/inert-markdown.js";

const short = (sha: string) => sha.slice(0, 7);

export function evaluateAssignment(rule: RuleOfKind<"assignment">, input: RuleInput): RuleOutcome {
  const { ctx } = input;
  const task = ctx.task;
  if (!task) {
    const message = `No task record matches branch ${inertCode(ctx.headRef)}: a PR on an agent branch for a task nobody assigned.`;
    return { state: "fail", summary: "no assigned task", findings: [{ ruleId: rule.id, message }], notes: [] };
  }
  if (task.assignedEmployee === undefined) {
    const message = `Task ${task.taskId} was never assigned by the router.`;
    return { state: "fail", summary: "task not assigned", findings: [{ ruleId: rule.id, message }], notes: [] };
  }

  const findings: Finding[] = [];
  const notes: string[] = [];
  if (ctx.headRef !== task.branch) {
    findings.push({
      ruleId: rule.id,
      message: `Branch ${inertCode(ctx.headRef)} is not the branch \`${task.branch}\` recorded for task ${task.taskId}.`,
    });
  }
  const recorded = new Set(task.recordedCommitShas.map((sha) => sha.toLowerCase()));
  const directors = new Set(ctx.directors.map((login) => login.toLowerCase()));
  for (const commit of ctx.commits) {
    if (recorded.has(commit.sha.toLowerCase())) continue;
    const author = commit.authorLogin;
    if (author !== undefined && directors.has(author.toLowerCase())) {
      if (rule.params.directorCommitsMustBeVerified && commit.verified !== true) {
        findings.push({
          ruleId: rule.id,
          message: `Commit ${short(commit.sha)} names director @${author} as author but its signature is not verified.`,
        });
        continue;
      }
      notes.push(`${short(commit.sha)}: human-assisted by @${author}`);
      continue;
    }
    findings.push({
      ruleId: rule.id,
      message: `Commit ${short(commit.sha)} by ${author ? `@${author}` : (commit.authorEmail ?? "an unknown author")} was not recorded by the work loop for task ${task.taskId} (assigned to ${task.assignedEmployee}).`,
    });
  }

  if (findings.length > 0) {
    return { state: "fail", summary: `${plural(findings.length, "assignment problem")}`, findings, notes };
  }
  if (ctx.totalCommits !== undefined && ctx.totalCommits > ctx.commits.length) {
    return {
      state: "error",
      summary: `GitHub listed ${ctx.commits.length} of ${ctx.totalCommits} commits; the rest cannot be checked`,
      findings,
      notes,
    };
  }
  const assisted = notes.length > 0 ? `, ${plural(notes.length, "human-assisted commit")}` : "";
  return {
    state: "pass",
    summary: `task ${task.taskId} assigned to ${task.assignedEmployee}; ${plural(ctx.commits.length, "commit")} accounted for${assisted}`,
    findings,
    notes,
  };
}
