// Personal tokens for the MCP server: issue one (its text is shown once, on the page that answers the issue),
// see and revoke your own. Only the hash is stored (tokens.ts).
import type { TokenRecord } from "../tokens.js";
import { formatTime, html, type Html } from "./html.js";
import type { Viewer } from "./layout.js";

export function tokensView(viewer: Viewer, tokens: readonly TokenRecord[], issued: { token: string; record: TokenRecord } | null): Html {
  return html`${
      issued
        ? html`<section id="token-issued" class="notice">
            <p>Your new token${issued.record.label ? ` "${issued.record.label}"` : ""}. Copy it now: it is shown only this once.</p>
            <pre id="token-text">${issued.token}</pre>
          </section>`
        : html``
    }
    <form method="post" action="/console/tokens" id="token-issue" class="action">
      <input type="hidden" name="csrf" value="${viewer.csrf}" />
      <label>Label <input name="label" maxlength="100" placeholder="my editor" /></label> <button type="submit" id="action-issue-token">Issue a token</button>
    </form>
    <table class="grid" id="tokens">
      <thead>
        <tr>
          <th>Label</th>
          <th>Issued</th>
          <th>Last used</th>
          <th>State</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${tokens.map(
          (token) =>
            html`<tr class="token" data-token-id="${token.id}">
              <td>${token.label || "(no label)"}</td>
              <td>${formatTime(token.createdAt)}</td>
              <td>${token.lastUsedAt ? formatTime(token.lastUsedAt) : "never"}</td>
              <td>${token.revokedAt ? `revoked ${formatTime(token.revokedAt)}` : "active"}</td>
              <td>
                ${
                  token.revokedAt
                    ? html``
                    : html`<form method="post" action="/console/tokens/${token.id}/revoke" class="inline">
                        <input type="hidden" name="csrf" value="${viewer.csrf}" /><button type="submit" id="revoke-${token.id}">Revoke</button>
                      </form>`
                }
              </td>
            </tr>`,
        )}
      </tbody>
    </table>`;
}
