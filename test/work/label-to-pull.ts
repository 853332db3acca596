// The whole requirement of one task, from the `issues.labeled` delivery to the draft PR, driven through a
// running app (Probot server, job worker, leader) with a GitHub faked behind nock whose git side is a local bare
// repository, and recorded model replies for the manager and the employee. Every GitHub API request is counted at
// the HTTP edge, installation tokens included. Shared by the request-count test and `npm run bench:task`.
import { mkdirSync } from "node:fs";
import path from "node:path";
import nock from "nock";
import type pg from "pg";
import type { RunningAura } from "../../src/server/start.js";
import { fakeGitHub, type FakeGitHub } from "../e2e/fake-github.js";
import { labeledPayload, PROJECT } from "../e2e/pipeline-fixture.js";
import { GITHUB_API } from "../helpers/harness.js";
import { deliver } from "../helpers/webhooks.js";
import { createBareRemote, type BareRemote } from "../workspace/git-fixture.js";

export const OWNER = "octo-org";
export const MAINTAINER = "mona-maintainer";
export const BOT = "aura-orchestra[bot]";
export const ISSUE = { number: 42, title: "add() subtracts", body: "add(2, 3) returns -1; it should return 5." };

/** The e2e project, tested without a setup step (no install: the flow is about requests, not npm). */
export const FLOW_PROJECT: Record<string, string> = {
  ...PROJECT,
  ".github/aura.yml": ["test: node --test test/", ""].join("\n"),
};

export type CountedRequest = { method: string; route: string; at: number };

export type LabelToPullRun = {
  github: FakeGitHub;
  remote: BareRemote;
  repo: string;
  /** Every GitHub API request from the delivery until all jobs were done, in order. */
  requests: CountedRequest[];
  /** The requests up to and including the one that opened the pull request. */
  untilPull: CountedRequest[];
  /** Milliseconds from posting the delivery to the pull request's creation request. */
  msToPull: number;
};

/**
 * `/repos/octo-org/widgets/issues/42/comments` → `/repos/{owner}/{repo}/issues/{n}/comments`. File paths and refs
 * stay, so two reads of different files are told apart from one file read twice.
 */
export function routeOf(pathname: string): string {
  return decodeURIComponent(pathname)
    .replace(/^\/repos\/[^/]+\/[^/]+/, "/repos/{owner}/{repo}")
    .replace(/\/app\/installations\/\d+/, "/app/installations/{id}")
    .replace(/\/collaborators\/[^/]+/, "/collaborators/{user}")
    .replace(/\/[0-9a-f]{40}(?=\/|$)/g, "/{sha}")
    .replace(/\/\d+(?=\/|$)/g, "/{n}");
}

/** Counts routes: `3 × GET /repos/{owner}/{repo}/pulls` lines, in first-seen order. */
export function summarise(requests: readonly CountedRequest[]): string[] {
  const counts = new Map<string, number>();
  for (const request of requests) counts.set(`${request.method} ${request.route}`, (counts.get(`${request.method} ${request.route}`) ?? 0) + 1);
  return [...counts].map(([key, count]) => `${count} × ${key}`);
}

/** Resolves when no job is waiting or running; throws with a failed job's error. */
export async function waitForJobs(pool: pg.Pool, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ identifier: string; last_error: string | null; locked: boolean }>(
      "SELECT task_identifier AS identifier, last_error, locked_at IS NOT NULL AS locked FROM graphile_worker.jobs",
    );
    const failed = rows.find((row) => row.last_error !== null && !row.locked);
    if (failed) throw new Error(`job ${failed.identifier} failed: ${failed.last_error}`);
    if (rows.length === 0) return;
    if (Date.now() > deadline) throw new Error(`jobs still pending after ${timeoutMs} ms: ${rows.map((row) => row.identifier).join(", ")}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Labels the issue of a fresh repository (`files` in a local bare remote under `parent`), waits until every job
 * has run, and returns what GitHub was asked. The app must run with a modelOverride that answers the TaskPlan and
 * EditSet requests (e.g. `scriptedCompany()` of the e2e fixture). Installation tokens are answered here, counted
 * like every other request.
 */
export async function runLabelToPull(
  aura: Pick<RunningAura, "port">,
  pool: pg.Pool,
  input: { parent: string; name: string; installationId: number; files?: Record<string, string>; timeoutMs?: number },
): Promise<LabelToPullRun> {
  const parent = path.join(input.parent, input.name);
  mkdirSync(parent, { recursive: true, mode: 0o711 });
  const remote = createBareRemote(parent, input.files ?? FLOW_PROJECT);
  const repo = `${OWNER}/${input.name}`;
  const github = fakeGitHub({
    owner: OWNER,
    name: input.name,
    bare: remote.bare,
    cloneUrl: remote.url,
    botLogin: BOT,
    permissions: { [MAINTAINER]: "maintain" },
    issue: { ...ISSUE, user: "rita-reporter" },
  });
  const requests: CountedRequest[] = [];
  nock(GITHUB_API)
    .persist()
    .post(/^\/app\/installations\/\d+\/access_tokens$/)
    .optionally()
    .reply(201, (uri) => {
      requests.push({ method: "POST", route: routeOf(new URL(uri, GITHUB_API).pathname), at: performance.now() });
      return {
        token: "ghs_flowinstallationtoken00000000000000",
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        permissions: { contents: "write", issues: "write", pull_requests: "write", statuses: "write", metadata: "read" },
        repository_selection: "all",
      };
    });
  // The fake records its own requests; each is counted here the moment it is recorded, so the order holds.
  const record = github.requests.push.bind(github.requests);
  github.requests.push = (...items) => {
    for (const item of items) requests.push({ method: item.method, route: routeOf(item.path), at: performance.now() });
    return record(...items);
  };

  const started = performance.now();
  const delivered = await deliver(aura.port, "issues", labeledPayload(github, { installationId: input.installationId, issue: ISSUE, sender: MAINTAINER }));
  if (delivered.status !== 200) throw new Error(`the delivery was answered ${delivered.status}: ${delivered.text}`);
  await waitForJobs(pool, input.timeoutMs ?? 45_000);
  const opened = requests.findIndex((request) => request.method === "POST" && request.route === "/repos/{owner}/{repo}/pulls");
  if (opened === -1) throw new Error(`no pull request was opened; GitHub saw: ${summarise(requests).join(", ")}`);
  return { github, remote, repo, requests, untilPull: requests.slice(0, opened + 1), msToPull: (requests[opened]?.at ?? Number.NaN) - started };
}
