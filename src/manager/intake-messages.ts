// What the Manager says on an issue, written for the maintainer who reads it: short, specific, and ending with
// what to do next. Pure functions, so the wording is tested without GitHub.
import { formatPlanProblems, type PlanProblem } from "./validate-plan.js";

export const REFUSAL_MARKER = "<!-- aura:intake-refusal -->";
export const CONFIG_ERROR_MARKER = "<!-- aura:config-error -->";
export const PLANNING_BUDGET_MARKER = "<!-- aura:planning-budget -->";

/** A login shown in a comment: only characters GitHub allows, so it cannot inject markdown. */
function login(name: string): string {
  return name.replace(/[^A-Za-z0-9\-[\]]/g, "");
}

function inlineCode(text: string): string {
  return `\`${text.replace(/`/g, "'").replace(/[\r\n]+/g, " ")}\``;
}

/** The refusal for a person without triage access (a bot gets no comment: it does not read replies). */
export function refusalComment(input: { login: string; label: string; permission: string | null }): string {
  return [
    REFUSAL_MARKER,
    `Thanks for the suggestion, @${login(input.login)}. Aura starts a requirement only when the ${inlineCode(input.label)} label is added by someone with triage, write, maintain or admin access to this repository (yours is ${inlineCode(input.permission ?? "none")}), so nothing was started.`,
    "",
    "A maintainer can add the label to start it.",
  ].join("\n");
}

export function configErrorComment(input: { message: string; branch: string; label: string }): string {
  const fence = "```";
  return [
    CONFIG_ERROR_MARKER,
    `**Aura could not start this requirement: \`.github/aura.yml\` on ${inlineCode(input.branch)} is invalid.**`,
    "",
    fence,
    input.message.replace(/```/g, "'''"),
    fence,
    "",
    `Fix the file on ${inlineCode(input.branch)}, then remove the ${inlineCode(input.label)} label and add it again.`,
  ].join("\n");
}

export function planRefusedExplanation(problems: readonly PlanProblem[], employeeId: string): string {
  return [
    formatPlanProblems(problems),
    "",
    `The Manager (${inlineCode(employeeId)}) was shown these problems twice and could not fix them, so no task was started.`,
    "Next: a director can make the issue clearer and reply `/aura revise <instructions>` to plan again, or close the issue.",
  ].join("\n");
}

export function invalidOutputExplanation(employeeId: string, reason: string): string {
  return [
    `**The Manager (${inlineCode(employeeId)}) did not return a usable plan** after being asked again: ${reason.replace(/[\r\n]+/g, " ").slice(0, 500)}`,
    "",
    "Nothing was started. Next: a director can reply `/aura revise <instructions>` to plan again.",
  ].join("\n");
}

export function providersFailedExplanation(reason: string): string {
  return [
    `**No manager model could be reached**: ${reason.replace(/[\r\n]+/g, " ").slice(0, 800)}`,
    "",
    "Nothing was started. Next: check the providers' keys and status, then a director can reply `/aura revise` to plan again.",
  ].join("\n");
}

export function noManagerExplanation(reason: string): string {
  return [
    `**No manager model is configured**: ${reason.replace(/[\r\n]+/g, " ").slice(0, 800)}`,
    "",
    "Next: give one of the `manager:` employees in `policies/employees.yml` its provider settings (OPENAI_API_KEY, GEMINI_API_KEY or OLLAMA_HOST), then a director can reply `/aura revise` to plan.",
  ].join("\n");
}

export function crashExplanation(attempts: number, message: string): string {
  return [
    `**Aura could not finish planning** after ${attempts} attempts: ${message.replace(/[\r\n]+/g, " ").slice(0, 500)}`,
    "",
    "Nothing was started. Next: a director can reply `/aura revise` to try again.",
  ].join("\n");
}

/** The one comment on an issue whose planning the budget refused (edited in place on later refusals). */
export function planningBudgetComment(reason: string): string {
  return [
    PLANNING_BUDGET_MARKER,
    "**Aura did not plan this requirement: its budget is used up.** Planning calls are paid for from the requirement's budget and the installation's daily budget.",
    "",
    reason.replace(/[\r\n]+/g, " ").slice(0, 800),
    "",
    "Removing and adding the label again does not plan it. Next: a director can raise the requirement's budget with `/aura budget <usd>` and reply `/aura revise` to plan, or wait until a daily budget resets at midnight UTC and reply `/aura revise`.",
  ].join("\n");
}

/** The status comment's line for the same refusal. */
export function planningBudgetExplanation(): string {
  return "**Planning was not attempted: a budget it is charged to is used up** (see Aura's comment on this issue). Nothing was started.";
}
