// The console's actions: a form becomes the very `/aura` command a director would write (parsed by the
// Director's own parser, so the arguments are checked by the same rules), and the Director runs it with the
// same standing check, refusals and audit record (runConsoleCommand). Only these verbs are offered; merging is
// never one of them: merging stays on GitHub.
import { randomUUID } from "node:crypto";
import { runConsoleCommand } from "../director/commands.js";
import { parseCommand } from "../director/parse-command.js";
import type { Services } from "../services.js";

export const CONSOLE_VERBS = ["approve", "halt", "resume", "reassign", "suspend", "reinstate", "budget"] as const;
export type ConsoleVerb = (typeof CONSOLE_VERBS)[number];

export function isConsoleVerb(verb: string): verb is ConsoleVerb {
  return (CONSOLE_VERBS as readonly string[]).includes(verb);
}

/** A form field that the command needs as one word had spaces or was missing; the message says which. */
export class ActionInputInvalid extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ActionInputInvalid";
  }
}

function word(form: URLSearchParams, name: string, label: string): string {
  const value = (form.get(name) ?? "").trim();
  if (value === "") throw new ActionInputInvalid(`${label} is missing.`);
  if (/\s/.test(value)) throw new ActionInputInvalid(`${label} must be one word, without spaces.`);
  return value;
}

function text(form: URLSearchParams, name: string): string {
  return (form.get(name) ?? "").trim().slice(0, 2_000);
}

/** The `/aura` command text the form stands for. */
export function commandText(verb: ConsoleVerb, form: URLSearchParams): string {
  const line = (...parts: string[]) => ["/aura", verb, ...parts.filter((part) => part !== "")].join(" ");
  switch (verb) {
    case "approve":
    case "halt":
    case "resume":
      return line(text(form, "note"));
    case "reassign":
      return line(word(form, "task", "The task"), word(form, "employee", "The employee"), text(form, "note"));
    case "suspend":
      return line(word(form, "employee", "The employee"), text(form, "reason"));
    case "reinstate":
      return line(word(form, "employee", "The employee"), text(form, "note"));
    case "budget": {
      const amount = word(form, "amount", "The amount").replace(/^\+?\$?/, "");
      const task = (form.get("task") ?? "").trim();
      return line(task === "" ? "requirement" : word(form, "task", "The task"), `+${amount}`, text(form, "note"));
    }
  }
}

export type ActionTarget = { installationId: number; repo: string; issueNumber: number };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Runs the form's command as `login` on `target` (already known to be a repository this person may see). */
export async function runConsoleAction(
  services: Services,
  input: { verb: ConsoleVerb; form: URLSearchParams; login: string; target: ActionTarget },
): Promise<{ outcome: string; reply: string | null }> {
  const command = parseCommand(commandText(input.verb, input.form));
  if (command === null) throw new ActionInputInvalid("The form did not make a command.");
  // The form's own id makes a second send of the same form a no-op; a form without one still runs (once per send).
  const formId = (input.form.get("action_id") ?? "").trim().toLowerCase();
  const actionId = UUID.test(formId) ? formId : randomUUID();
  return runConsoleCommand(services, { ...input.target, login: input.login, actionId }, command);
}
