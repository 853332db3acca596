// The verbs other roles carry out for a director: approving a plan (Manager), accepting a failing rule on the
// current head (Governor), approving the repository's relaxing `rules:` (Governor). Each call is adapted to one
// answer shape, `{ ok, message }`, the message being what the director is told.
import { applyOverride } from "../governor/overrides.js";
import { approveRepoRules, REPO_RULES_OVERRIDE } from "../governor/repo-rules-approval.js";
import { approvePlan, PlanNotAwaitingApproval } from "../manager/lifecycle.js";
import type { Services } from "../services.js";

export type VerbAnswer = { ok: boolean; message: string };

export async function approveRequirement(services: Services, requirementId: number, director: string): Promise<VerbAnswer> {
  try {
    const { routed } = await approvePlan(services, requirementId, director);
    const started = routed.filter((task) => task.employeeId !== null).map((task) => `\`${task.taskKey}\` → \`${task.employeeId}\``);
    return { ok: true, message: `Plan approved by @${director}.${started.length > 0 ? ` Started: ${started.join(", ")}.` : ""}` };
  } catch (error) {
    if (error instanceof PlanNotAwaitingApproval) return { ok: false, message: error.message };
    throw error;
  }
}

/**
 * `/aura override <rule-id> <reason>` on a pull request; `/aura override repo-rules <reason>` (on any issue or pull
 * request, `pullNumber` being its number) approves the exact `rules:` instead: those of the pull request's base
 * when written on one (what the gate reads), else those now on the default branch.
 */
export async function overrideRule(
  services: Services,
  request: { installationId: number; repo: string; pullNumber: number; onPull: boolean; ruleId: string; reason: string; director: string },
): Promise<VerbAnswer> {
  if (request.ruleId === REPO_RULES_OVERRIDE) {
    const approved = await approveRepoRules(services, {
      installationId: request.installationId,
      repo: request.repo,
      issueNumber: request.pullNumber,
      onPull: request.onPull,
      reason: request.reason,
      by: request.director,
    });
    return { ok: approved.ok, message: approved.message };
  }
  const result = await applyOverride(services, {
    installationId: request.installationId,
    repo: request.repo,
    pullNumber: request.pullNumber,
    ruleId: request.ruleId,
    reason: request.reason,
    by: request.director,
  });
  if (!result.applied) return { ok: false, message: result.message };
  return {
    ok: true,
    message: result.created
      ? `Rule \`${result.ruleId}\` overridden by @${request.director} on ${result.headSha.slice(0, 7)}; the pull request is being checked again. A new push is judged afresh.`
      : `Rule \`${result.ruleId}\` was already overridden on ${result.headSha.slice(0, 7)}.`,
  };
}
