// The console's action forms: every one posts to /console/actions with the session's CSRF token and the
// verb; the server turns it into the same `/aura` command a director would write (actions.ts).
import { html, type Html } from "./html.js";
import type { Viewer } from "./layout.js";

export type ActionTarget = { requirementId: number } | { installationId: number; repo: string };

type Field = { name: string; label: string; placeholder?: string; required?: boolean };

export function actionForm(viewer: Viewer, verb: string, target: ActionTarget, label: string, fields: readonly Field[] = []): Html {
  const where =
    "requirementId" in target
      ? html`<input type="hidden" name="requirement" value="${target.requirementId}" />`
      : html`<input type="hidden" name="installation" value="${target.installationId}" /><input type="hidden" name="repo" value="${target.repo}" />`;
  return html`<form method="post" action="/console/actions" class="action" data-verb="${verb}">
    <input type="hidden" name="csrf" value="${viewer.csrf}" /><input type="hidden" name="verb" value="${verb}" />${where}
    ${fields.map((field) => html`<label>${field.label} <input name="${field.name}" placeholder="${field.placeholder ?? ""}" ${field.required ? html` required` : html``} /></label>`)}
    <button type="submit" id="action-${verb}">${label}</button>
  </form>`;
}
