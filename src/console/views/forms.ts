// The console's action forms: every one posts to /console/actions with the session's CSRF token and the
// verb and an id of its own (a second send of the same form runs nothing); the server turns it into the same
// `/aura` command a director would write (actions.ts).
import { randomUUID } from "node:crypto";
import { html, type Html } from "./html.js";
import type { Viewer } from "./layout.js";

export type ActionTarget = { requirementId: number } | { installationId: number; repo: string };

type Field = { name: string; label: string; placeholder?: string; required?: boolean };

/** A form posting `verb` about `target`; `hidden` adds fixed fields (the task a task page's form is about). */
export function actionForm(
  viewer: Viewer,
  verb: string,
  target: ActionTarget,
  label: string,
  fields: readonly Field[] = [],
  hidden: Readonly<Record<string, string>> = {},
): Html {
  const where =
    "requirementId" in target
      ? html`<input type="hidden" name="requirement" value="${target.requirementId}" />`
      : html`<input type="hidden" name="installation" value="${target.installationId}" /><input type="hidden" name="repo" value="${target.repo}" />`;
  return html`<form method="post" action="/console/actions" class="action" data-verb="${verb}">
    <input type="hidden" name="csrf" value="${viewer.csrf}" /><input type="hidden" name="verb" value="${verb}" />${where}
    <input type="hidden" name="action_id" value="${randomUUID()}" />${Object.entries(hidden).map(
      ([name, value]) => html`<input type="hidden" name="${name}" value="${value}" />`,
    )}
    ${fields.map((field) => html`<label>${field.label} <input name="${field.name}" placeholder="${field.placeholder ?? ""}" ${field.required ? html` required` : html``} /></label>`)}
    <button type="submit" id="action-${verb}">${label}</button>
  </form>`;
}
