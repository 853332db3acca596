// Fixtures for the gate tests: a real bare repository standing in for GitHub's git side, the pull request as
// GitHub's REST API returns it (files and patches from the real `git diff`), recorded GitHub writes behind nock,
// and the task records the work loop would have written.
import nock from "nock";
import type pg from "pg";
import { changedFilesFromUnifiedDiff, restFileJson } from "../../src/github/local-diff.js";
import { examplePayload } from "../helpers/webhooks.js";
import { afterAll, beforeAll, beforeEach } from "vitest";
import { GITHUB_API, resetGitHub, setUp, useHarness, type Harness, type HarnessOptions } from "../helpers/harness.js";
import { createBareRemote, makeTempDir, sh, type BareRemote } from "../workspace/git-fixture.js";
import { mkdirSync, writeFileSync, rmSync } from "node:fs";
import path from "node:path";

export const OWNER = "octo-org";
export const NAME = "widgets";
export const REPO = `${OWNER}/${NAME}`;
export const INSTALLATION_ID = 4242;
export const BOT = "aura-orchestra[bot]";
export const DIRECTOR = "octo-director";

/** Prints TAP counts; fails one test when src/app.js contains "broken". */
export const TEST_SCRIPT = [
  "#!/bin/sh",
  'if grep -q broken src/app.js; then echo "# tests 3"; echo "# pass 2"; echo "# fail 1"; exit 1; fi',
  'echo "# tests 3"; echo "# pass 3"; echo "# fail 0"',
  "",
].join("\n");

export const BASE_FILES: Record<string, string> = {
  "test.sh": TEST_SCRIPT,
  "src/app.js": "export const answer = 41;\n",
  ".github/workflows/ci.yml": "name: ci\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n",
};

export type GateHarnessOptions = {
  harness?: HarnessOptions;
  /** Prefix of a temp dir holding a bare repository of BASE_FILES (`temp`, `remote`); none when absent. */
  tempPrefix?: string;
  /** `.github/aura.yml` mocked before each test (null: absent, so defaults); each test mocks its own when left out. */
  repoConfig?: string | null;
  /** false: no mocks before each test (the file sets up GitHub itself); `github` is then not available. */
  mockEachTest?: boolean;
};

/**
 * The gate tests' set-up: one harness for the file (and a bare repository when asked), and before each test
 * GitHub reset with its writes recorded in a fresh `github`. Read the accessors in hooks and tests only.
 */
export function useGateHarness(options: GateHarnessOptions = {}) {
  const started = useHarness(options.harness);
  let temp: ReturnType<typeof makeTempDir> | undefined;
  let remote: BareRemote | undefined;
  let github: GitHubRecorder | undefined;
  const prefix = options.tempPrefix;
  if (prefix) {
    beforeAll(() => {
      temp = makeTempDir(prefix);
      remote = createBareRemote(temp.dir, BASE_FILES);
    });
    afterAll(() => temp?.cleanup());
  }
  if (options.mockEachTest !== false) {
    beforeEach(() => {
      resetGitHub();
      github = mockWrites();
      if (options.repoConfig !== undefined) mockRepoConfig(options.repoConfig ?? undefined);
    });
  }
  const noRemote = "useGateHarness makes the temp dir and bare remote in beforeAll, and only with tempPrefix";
  const context = {
    get harness(): Harness {
      return started.harness;
    },
    get temp(): { dir: string; cleanup: () => void } {
      return setUp(temp, noRemote);
    },
    get remote(): BareRemote {
      return setUp(remote, noRemote);
    },
    get github(): GitHubRecorder {
      return setUp(github, "useGateHarness records GitHub's writes from beforeEach, and only without mockEachTest: false");
    },
    /** A test that sets up GitHub again itself hands its recorder over here. */
    set github(recorder: GitHubRecorder) {
      github = recorder;
    },
    /** An agent PR as the work loop leaves it (needs tempPrefix); see pushAgentPull. */
    pushAgentPull: (spec: AgentPullSpec) => pushAgentPull(context, spec),
  };
  return context;
}

export type AgentPullSpec = {
  number: number;
  branch: string;
  files: Record<string, string>;
  /** Recorded for the head (what the Auditor compares with) and written into the body. */
  claim?: Record<string, unknown>;
  /** The PR body instead of the claim's. */
  body?: string;
  draft?: boolean;
};

/**
 * An agent's pull request as the work loop leaves it: `files` pushed on `branch`, its task seeded, its claim
 * recorded; the PR object GitHub would return. Its reads are mocked only when the caller runs `mockReads`.
 */
export async function pushAgentPull(where: { harness: Harness; remote: BareRemote; temp: { dir: string } }, spec: AgentPullSpec) {
  const { number, branch } = spec;
  const headSha = pushBranch(where.remote, where.temp.dir, branch, spec.files);
  const baseSha = mainSha(where.remote);
  const taskId = await seedTask(where.harness.db.pool, { issue: number, pullNumber: number, branch, shas: [headSha] });
  if (spec.claim) await seedClaim(where.harness.db.pool, taskId, headSha, spec.claim);
  const changed = apiFiles(where.remote, baseSha, headSha);
  const pull = pullObject({
    number,
    headSha,
    headRef: branch,
    baseSha,
    cloneUrl: where.remote.url,
    body: spec.body ?? claimBody(spec.claim ?? {}, taskId),
    draft: spec.draft,
    changedFiles: changed.length,
  });
  return { headSha, baseSha, taskId, pull, changed, mockReads: () => mockPullReads(pull, changed, [commitObject(headSha)]) };
}

/** A `status` delivery setting `aura/hnsc` on `headSha`, sent by someone other than Aura. */
export function forgedStatus(headSha: string, sender: string, state = "success"): Record<string, unknown> {
  const payload = examplePayload("status");
  return {
    ...payload,
    sha: headSha,
    context: "aura/hnsc",
    state,
    description: "looks good to me",
    sender: { ...(payload.sender as Record<string, unknown>), login: sender },
    repository: { ...(payload.repository as Record<string, unknown>), full_name: REPO, name: NAME },
    installation: { id: INSTALLATION_ID },
  };
}

/** Commits `files` on a new branch from main and pushes it; returns the branch tip. */
export function pushBranch(remote: BareRemote, workDir: string, branch: string, files: Record<string, string>): string {
  const clone = path.join(workDir, `clone-${branch.replace(/\W+/g, "-")}`);
  rmSync(clone, { recursive: true, force: true });
  sh(workDir, "clone", "--quiet", remote.bare, clone);
  sh(clone, "checkout", "--quiet", "-b", branch);
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(clone, file)), { recursive: true });
    writeFileSync(path.join(clone, file), content);
  }
  sh(clone, "add", "--all");
  sh(clone, "commit", "--quiet", "-m", `Change ${branch}\n\nAura-Task: 1\nAura-Snapshot: 0123456789abcdef`);
  sh(clone, "push", "--quiet", "origin", branch);
  return sh(clone, "rev-parse", "HEAD").trim();
}

export function mainSha(remote: BareRemote): string {
  return sh(remote.bare, "rev-parse", "main").trim();
}

/** The files GitHub's API would list for base...head, with patches. */
export function apiFiles(remote: BareRemote, baseSha: string, headSha: string): Record<string, unknown>[] {
  const diff = sh(remote.bare, "diff", "--no-color", "-M", `${baseSha}...${headSha}`);
  return changedFilesFromUnifiedDiff(diff).map(restFileJson);
}

export type PullSpec = {
  number: number;
  headSha: string;
  headRef: string;
  baseSha: string;
  cloneUrl: string;
  body?: string;
  draft?: boolean;
  author?: string;
  changedFiles: number;
  commits?: number;
  forkOf?: string;
};

/** The pull request object as `GET /repos/{owner}/{repo}/pulls/{n}` returns it. */
export function pullObject(spec: PullSpec): Record<string, unknown> {
  const repo = { full_name: REPO, name: NAME, clone_url: spec.cloneUrl, owner: { login: OWNER } };
  return {
    id: 9000 + spec.number,
    number: spec.number,
    node_id: `PR_node${spec.number}`,
    state: "open",
    draft: spec.draft ?? false,
    html_url: `https://github.com/${REPO}/pull/${spec.number}`,
    title: `Pull ${spec.number}`,
    body: spec.body ?? null,
    user: { login: spec.author ?? BOT, type: spec.author ? "User" : "Bot" },
    head: { sha: spec.headSha, ref: spec.headRef, repo: spec.forkOf ? { ...repo, full_name: spec.forkOf } : repo },
    base: { sha: spec.baseSha, ref: "main", repo },
    labels: [],
    changed_files: spec.changedFiles,
    commits: spec.commits ?? 1,
    additions: 3,
    deletions: 1,
  };
}

/** A `pull_request` delivery body for the PR (real example payload, adjusted). */
export function pullDelivery(action: string, pull: Record<string, unknown>): Record<string, unknown> {
  const payload = examplePayload("pull_request", "opened");
  payload.action = action;
  payload.pull_request = pull;
  payload.repository = { ...(payload.repository as Record<string, unknown>), full_name: REPO, name: NAME, owner: { login: OWNER } };
  payload.installation = { id: INSTALLATION_ID, node_id: "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDI0Mg==" };
  return payload;
}

export function commitObject(sha: string, author = BOT): Record<string, unknown> {
  return {
    sha,
    author: { login: author },
    committer: { login: author },
    commit: { message: "Change\n\nAura-Task: 1\nAura-Snapshot: 0123456789abcdef", author: { email: `${author}@users.noreply.github.com` } },
  };
}

export type Status = { sha: string; state: string; description: string; context: string; target_url?: string };
export type PostedReview = {
  id: number;
  pull: number;
  commit_id: string;
  event: string;
  body: string;
  comments: { path: string; line: number; side: string; body: string }[];
};

/** GitHub's writes as the tests see them, and what the mocked reads return. */
export type GitHubRecorder = {
  statuses: Status[];
  reviews: PostedReview[];
  reviewEdits: { id: number; body: string }[];
  comments: { issue: number; body: string }[];
  graphql: { query: string; variables: Record<string, unknown> }[];
};

const repoPath = `/repos/${OWNER}/${NAME}`;

/**
 * GitHub applying a post and still answering 502 (the retry plugin must not repeat it blind): the first review
 * posted on pull `reviewOn`, or the first comment posted on issue `commentOn`, is recorded and answered 502.
 */
export type AppliedThen502 = { reviewOn?: number; commentOn?: number };

/** Persistent mocks for the repository's writes (recorded) and the reviews/comments lists they feed. */
export function mockWrites(options: { appliedThen502?: AppliedThen502 } = {}): GitHubRecorder {
  const recorder: GitHubRecorder = { statuses: [], reviews: [], reviewEdits: [], comments: [], graphql: [] };
  const failing = { ...options.appliedThen502 };
  const serverError = { message: "Server Error" };
  const api = nock(GITHUB_API).persist();
  api
    .post(new RegExp(`^${repoPath}/statuses/([0-9a-f]{40})$`))
    .optionally()
    .reply(201, (uri, body) => {
      const sha = uri.split("/").pop() ?? "";
      recorder.statuses.push({ sha, ...(body as Omit<Status, "sha">) });
      return { id: recorder.statuses.length };
    });
  api
    .get(new RegExp(`^${repoPath}/pulls/(\\d+)/reviews(\\?.*)?$`))
    .optionally()
    .reply(200, (uri) => {
      const pull = Number(/pulls\/(\d+)/.exec(uri)?.[1]);
      return recorder.reviews
        .filter((review) => review.pull === pull)
        .map((review) => ({
          id: review.id,
          body: review.body,
          html_url: `https://github.com/${REPO}/pull/${pull}#pullrequestreview-${review.id}`,
          user: { login: BOT },
        }));
    });
  api
    .post(new RegExp(`^${repoPath}/pulls/(\\d+)/reviews$`))
    .optionally()
    .reply((uri, body) => {
      const pull = Number(/pulls\/(\d+)/.exec(uri)?.[1]);
      const id = 7000 + recorder.reviews.length;
      recorder.reviews.push({ id, pull, ...(body as Omit<PostedReview, "id" | "pull">) });
      if (failing.reviewOn === pull) {
        delete failing.reviewOn;
        return [502, serverError];
      }
      return [200, { id, html_url: `https://github.com/${REPO}/pull/${pull}#pullrequestreview-${id}` }];
    });
  api
    .put(new RegExp(`^${repoPath}/pulls/(\\d+)/reviews/(\\d+)$`))
    .optionally()
    .reply(200, (uri, body) => {
      const id = Number(uri.split("/").pop());
      recorder.reviewEdits.push({ id, body: (body as { body: string }).body });
      const review = recorder.reviews.find((candidate) => candidate.id === id);
      if (review) review.body = (body as { body: string }).body;
      return { id };
    });
  api
    .get(new RegExp(`^${repoPath}/issues/(\\d+)/comments(\\?.*)?$`))
    .optionally()
    .reply(200, (uri) => {
      const issue = Number(/issues\/(\d+)/.exec(uri)?.[1]);
      // A comment's id is 500 plus its place among all the recorded comments, as its post answered.
      return recorder.comments
        .map((comment, index) => ({ id: 500 + index, issue: comment.issue, body: comment.body, user: { login: BOT, type: "Bot" } }))
        .filter((comment) => comment.issue === issue);
    });
  api
    .post(new RegExp(`^${repoPath}/issues/(\\d+)/comments$`))
    .optionally()
    .reply((uri, body) => {
      const issue = Number(/issues\/(\d+)/.exec(uri)?.[1]);
      const id = 500 + recorder.comments.length;
      recorder.comments.push({ issue, body: (body as { body: string }).body });
      if (failing.commentOn === issue) {
        delete failing.commentOn;
        return [502, serverError];
      }
      return [201, { id }];
    });
  api
    .post("/graphql")
    .optionally()
    .reply(200, (_uri, body) => {
      recorder.graphql.push(body as { query: string; variables: Record<string, unknown> });
      return { data: { markPullRequestReadyForReview: { pullRequest: { isDraft: false } } } };
    });
  return recorder;
}

/** `.github/aura.yml` at any ref: the given text, or 404 (defaults) when undefined. */
export function mockRepoConfig(text: string | undefined): void {
  const scope = nock(GITHUB_API)
    .persist()
    .get(new RegExp(`^${repoPath}/contents/\\.github(%2F|/)aura\\.yml(\\?.*)?$`))
    .optionally();
  if (text === undefined) scope.reply(404, { message: "Not Found" });
  else scope.reply(200, { type: "file", encoding: "base64", path: ".github/aura.yml", content: Buffer.from(text).toString("base64") });
}

/** The reads of one pull request: the object, its files (one page) and commits. */
export function mockPullReads(pull: Record<string, unknown>, files: Record<string, unknown>[], commits: Record<string, unknown>[]): void {
  const number = pull.number as number;
  const api = nock(GITHUB_API).persist();
  // A function, so a test can change what GitHub reports (e.g. draft) after the mock is set up.
  api
    .get(`${repoPath}/pulls/${number}`)
    .optionally()
    .reply(200, () => pull);
  api
    .get(new RegExp(`^${repoPath}/pulls/${number}/files(\\?.*)?$`))
    .optionally()
    .reply(200, files);
  api
    .get(new RegExp(`^${repoPath}/pulls/${number}/commits(\\?.*)?$`))
    .optionally()
    .reply(200, commits);
}

export function mockPermission(login: string, permission: string): void {
  nock(GITHUB_API)
    .persist()
    .get(`${repoPath}/collaborators/${login}/permission`)
    .optionally()
    .reply(200, { permission: permission === "maintain" ? "write" : permission, role_name: permission, user: { login } });
}

/** The records the work loop and the router would have written for the task behind an agent PR. */
export async function seedTask(
  db: Pick<pg.Pool, "query">,
  input: { issue: number; pullNumber: number; branch: string; shas: string[]; scope?: string[]; taskClass?: string; employee?: string },
): Promise<number> {
  const requirement = await db.query<{ id: number }>(
    `INSERT INTO requirements (installation_id, repo, issue_number, title, state) VALUES ($1, $2, $3, 'Requirement', 'in_progress') RETURNING id`,
    [INSTALLATION_ID, REPO, input.issue],
  );
  const requirementId = requirement.rows[0]?.id;
  const task = await db.query<{ id: number }>(
    `INSERT INTO tasks (requirement_id, task_key, title, instructions, task_class, scope, state, branch, pr_number, cost_usd)
     VALUES ($1, 't1', 'Task', 'Do it', $2, $3, 'pr_open', $4, $5, 0.0123) RETURNING id`,
    [requirementId, input.taskClass ?? "feature", input.scope ?? ["src/**", ".github/**"], input.branch, input.pullNumber],
  );
  const taskId = task.rows[0]?.id as number;
  const employee = input.employee ?? "gpt-4.1-mini";
  const decision = await db.query<{ id: number }>(
    `INSERT INTO routing_decisions (task_id, attempt, kind, seed, winner, decision) VALUES ($1, 1, 'seeded-draw', 'seed', $2, '{}') RETURNING id`,
    [taskId, employee],
  );
  await db.query("INSERT INTO assignments (task_id, employee_id, routing_decision_id) VALUES ($1, $2, $3)", [taskId, employee, decision.rows[0]?.id]);
  for (const sha of input.shas) {
    await db.query("INSERT INTO task_commits (task_id, sha, kind, employee_id) VALUES ($1, $2, 'work', $3)", [taskId, sha, employee]);
  }
  return taskId;
}

/** A PR body as the work loop writes it. What the employee's run showed is a record (seedClaim), not body text. */
export function claimBody(claim: Record<string, unknown>, taskId?: number): string {
  return [taskId ? `<!-- aura:task id=${taskId} -->` : "", `Part of #1`, "", "Tests pass.", "", `- Counts: ${JSON.stringify(claim)}`].join("\n");
}

/** The claim the work loop records for the head it pushed (what the Auditor compares its own run with). */
export async function seedClaim(db: Pick<pg.Pool, "query">, taskId: number, headSha: string, claim: Record<string, unknown>): Promise<void> {
  await db.query("INSERT INTO task_run_claims (task_id, head_sha, claim) VALUES ($1, $2, $3)", [taskId, headSha, JSON.stringify(claim)]);
}
