// The webhooks GitHub would send in a local run, built from the edge's own records and posted signed to the
// app's webhook route: the requirement label, the pull request the app opened, the director's comment, the issue
// closed. The app takes them exactly as it takes GitHub's (signature check, inbox, dispatch).
import { createHmac, randomUUID } from "node:crypto";
import type { GitHubEdge } from "./github-edge.js";

export type Delivery = { event: string; payload: Record<string, unknown> };

type Issue = { number: number; title: string; body: string };

export function deliveryBuilder(edge: GitHubEdge, at: { installationId: number; issue: Issue; director: string; label: string; botLogin: string }) {
  const installation = { id: at.installationId, node_id: `MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9u${at.installationId}` };
  const labels = [{ id: 1, node_id: "LA_aura", name: at.label, color: "5319e7", default: false, description: null }];
  const issue = (state: "open" | "closed") => ({
    id: 1_700_000_000 + at.issue.number,
    node_id: `I_local${at.issue.number}`,
    number: at.issue.number,
    title: at.issue.title,
    body: at.issue.body,
    state,
    user: edge.userJson(at.director),
    labels,
    author_association: "OWNER",
  });
  const common = (sender: string) => ({ repository: edge.repositoryJson(), sender: edge.userJson(sender), installation });
  return {
    labeled: (): Delivery => ({ event: "issues", payload: { action: "labeled", issue: issue("open"), label: labels[0], ...common(at.director) } }),
    closed: (): Delivery => ({ event: "issues", payload: { action: "closed", issue: issue("closed"), ...common(at.director) } }),
    pullOpened: (number: number): Delivery => ({
      event: "pull_request",
      payload: { action: "opened", number, pull_request: edge.pullJson(number), ...common(at.botLogin) },
    }),
    comment: (id: number, body: string): Delivery => ({
      event: "issue_comment",
      payload: {
        action: "created",
        issue: issue("open"),
        comment: { id, node_id: `IC_${id}`, body, user: edge.userJson(at.director), author_association: "OWNER" },
        ...common(at.director),
      },
    }),
  };
}

/** Waits before each further try of a delivery the app did not take (GitHub redelivers failed ones, too). */
const REDELIVERY_WAITS_MS = [250, 1_000, 3_000];

/**
 * Posts `delivery` to the app as GitHub would, with one delivery id for all its tries: an answer of 5xx or 429, or
 * no answer, is tried again after a pause (a busy app, a restart), as GitHub's redelivery would; the app's inbox
 * takes a delivery id once, so a try that was recorded before its answer was lost is not processed twice. Throws
 * when the app refuses it (4xx) or has not taken it after the last try.
 */
export async function deliver(appPort: number, secret: string, delivery: Delivery, waitsMs: readonly number[] = REDELIVERY_WAITS_MS): Promise<void> {
  const body = JSON.stringify(delivery.payload);
  const headers = {
    "content-type": "application/json",
    "x-github-event": delivery.event,
    "x-github-delivery": randomUUID(),
    "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
  };
  for (let attempt = 0; ; attempt++) {
    let failure: string;
    const response = await fetch(`http://127.0.0.1:${appPort}/api/github/webhooks`, { method: "POST", headers, body }).catch((error: unknown) => error);
    if (response instanceof Response) {
      if (response.ok) return;
      failure = `the app refused the ${delivery.event} delivery with HTTP ${response.status}: ${await response.text()}`;
      if (response.status < 500 && response.status !== 429) throw new Error(failure);
    } else {
      failure = `the ${delivery.event} delivery did not reach the app: ${response instanceof Error ? response.message : String(response)}`;
    }
    const wait = waitsMs[attempt];
    if (wait === undefined) throw new Error(`${failure} (tried ${attempt + 1} times)`);
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
