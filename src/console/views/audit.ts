// The audit page: the visible events, filtered by subject and action and paged by seq; each subject links to
// its own chain of events; the chain's verification on request (it reads the whole log); an export link for
// the same filter as JSON Lines. Payloads are shown as escaped JSON text.
import type { AuditEvent, AuditStatus } from "../read-model-audit.js";
import { formatTime, html, type Html } from "./html.js";

export type AuditQuery = { subject?: string; action?: string; before?: number };

export function auditQueryString(query: AuditQuery, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  if (query.subject) params.set("subject", query.subject);
  if (query.action) params.set("action", query.action);
  if (query.before !== undefined) params.set("before", String(query.before));
  for (const [key, value] of Object.entries(extra)) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : "";
}

function statusSection(status: AuditStatus | null | undefined, query: AuditQuery): Html {
  if (!status) {
    return html`<section id="audit-status">
      <p>
        The chain has not been verified on this page.
        <a id="audit-verify" href="/console/audit${auditQueryString(query, { verify: "1" })}">Verify the whole chain</a>
      </p>
    </section>`;
  }
  return html`<section id="audit-status" class="${status.ok ? "ok" : "broken"}" data-verified="${status.ok ? "ok" : "broken"}">
    <p>
      ${status.ok ? "The chain verifies" : "The chain is broken"}: ${status.count} events checked up to seq ${status.headSeq} at
      ${formatTime(status.checkedAt)}.${status.firstBad ? ` First bad event: seq ${status.firstBad.seq} (${status.firstBad.reason}).` : ""}
    </p>
  </section>`;
}

export function auditView(input: { events: readonly AuditEvent[]; next: number | null; query: AuditQuery; status: AuditStatus | null | undefined }): Html {
  const { query } = input;
  return html`<form method="get" action="/console/audit" id="audit-filter" class="filter">
      <label>Subject <input name="subject" value="${query.subject ?? ""}" placeholder="owner/repo#12" /></label>
      <label>Action <input name="action" value="${query.action ?? ""}" placeholder="director.halt" /></label>
      <button type="submit">Filter</button> <a href="/console/audit">Clear</a>
      <a id="audit-export" href="/console/audit/export${auditQueryString({ subject: query.subject, action: query.action })}">Export (JSON Lines)</a>
    </form>
    ${statusSection(input.status, query)}
    <table class="grid" id="audit-events">
      <thead>
        <tr>
          <th>Seq</th>
          <th>Time</th>
          <th>Actor</th>
          <th>Action</th>
          <th>Subject</th>
          <th>Payload</th>
        </tr>
      </thead>
      <tbody>
        ${input.events.map(
          (event) =>
            html`<tr class="audit-event" data-seq="${event.seq}">
              <td>${event.seq}</td>
              <td>${formatTime(event.ts)}</td>
              <td>${event.actor}</td>
              <td>${event.action}</td>
              <td><a href="/console/audit${auditQueryString({ subject: event.subject })}">${event.subject}</a></td>
              <td><code>${JSON.stringify(event.payload)}</code></td>
            </tr>`,
        )}
      </tbody>
    </table>
    ${input.events.length === 0 ? html`<p id="audit-empty">No event matches.</p>` : html``}
    ${input.next !== null ? html`<p><a id="audit-older" href="/console/audit${auditQueryString({ ...query, before: input.next })}">Older events</a></p>` : html``}`;
}
