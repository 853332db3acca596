// The console's plain pages: sign in, not configured (what to set), nobody's director, not found, an action's
// result, an error.
import { html, type Html } from "./html.js";

export function signInView(error: string | null): Html {
  return html`${error ? html`<p class="error" id="sign-in-error">${error}</p>` : html``}
    <p>The console shows the requirements, tasks, verdicts, costs and audit records of the repositories you direct.</p>
    <p><a class="button" id="sign-in" href="/console/login">Sign in with GitHub</a></p>`;
}

export function notConfiguredView(): Html {
  return html`<p id="not-configured">
    Sign-in is not set up: set <code>GITHUB_CLIENT_ID</code> and <code>GITHUB_CLIENT_SECRET</code> to the Client ID and a client secret of this GitHub App (its
    settings page on GitHub, "General"; Probot's setup page writes both to <code>.env</code>), add <code>&lt;this server&gt;/console/callback</code> as a
    callback URL there, and restart. See docs/console.md.
  </p>`;
}

export function setupModeView(): Html {
  return html`<p id="not-configured">
    This Aura Orchestra has no GitHub App yet. Register it on the setup page (<a href="/probot">/probot</a>), restart, then set
    <code>GITHUB_CLIENT_ID</code> and <code>GITHUB_CLIENT_SECRET</code> if the setup page did not write them.
  </p>`;
}

export function noAccessView(login: string): Html {
  return html`<p id="no-access">
    You are signed in as ${login}, but you are not a director of any repository with Aura work, so there is nothing to show. A director is a repository admin or
    maintainer, or a person with write access listed under <code>directors:</code> in its <code>.github/aura.yml</code>.
  </p>`;
}

export function notFoundView(): Html {
  return html`<p id="not-found">There is nothing here, or it belongs to a repository you do not direct.</p>`;
}

export function resultView(input: { verb: string; outcome: string; reply: string | null; back: string }): Html {
  return html`<section id="action-result" data-outcome="${input.outcome}" class="${input.outcome === "done" ? "ok" : "refused"}">
    <p><strong>${input.verb}</strong>: ${input.outcome.replace(/_/g, " ")}</p>
    ${input.reply ? html`<pre id="action-reply">${input.reply}</pre>` : html``}
    <p><a id="action-back" href="${input.back}">Back</a></p>
  </section>`;
}

export function messageView(id: string, text: string): Html {
  return html`<p id="${id}">${text}</p>`;
}
