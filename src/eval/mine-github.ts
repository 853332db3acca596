// Problem statements for `aura eval mine` from GitHub, when a token is given. A kept commit that is the merge (or
// squash) commit of a merged pull request becomes that pull request's task: its statement is the issue the pull
// request closes ("Fixes #N" in its body), else the pull request's own title and body. Any other commit whose
// message names an issue ("Fixes #N", "#N") takes that issue's title and body. Everything else, and every commit
// without a token, keeps its commit message. GitHub is asked only about commits that passed the sandbox, with the
// app's own client (retries for 5xx, both rate limits honoured within a bounded wait); the token and repository are
// checked once before anything runs. The text is untrusted: it is cleaned and bounded as the intake cleans issues.
import { ProbotOctokit } from "probot";
import { z } from "zod";
import { sanitizeUntrustedLine, sanitizeUntrustedText } from "../manager/sanitize.js";
import { git } from "../workspace/index.js";
import { EvalInputError } from "./errors.js";
import type { MinedRepository } from "./repository.js";

export type GitHubMiningOptions = {
  token: string;
  /** `owner/name`; else taken from the repository's `origin` remote. */
  repo?: string | undefined;
  /** The REST API's base URL (https://api.github.com, or GitHub Enterprise's /api/v3). */
  apiUrl: string;
  /** Tries after a rate limit before giving up, and the longest wait for one (seconds). */
  rateLimitRetries?: number;
  maxWaitSeconds?: number;
  /** Unit of Retry-After and of the retry plugin's backoff, in milliseconds; tests shorten it. */
  retryUnitMs?: number;
  onWait?: (text: string) => void;
};

export type GitHubRepo = { owner: string; name: string };

export type MiningGitHub = GitHubRepo & { client: InstanceType<typeof ProbotOctokit> };

export type GitHubStatement = {
  statement: string;
  /** Where the statement came from, for the summary. */
  source: "issue" | "pull request" | "commit message";
  /** The pull request the commit merged, when there is one (it names the task). */
  pull: number | undefined;
  /** The issue whose text is the statement, when there is one. */
  issue: number | undefined;
};

/** GitHub stopped answering (rate limit beyond the wait, or another failure) while mining went on. */
export class GitHubStopped extends Error {
  constructor(message: string) {
    super(message);
    this.name = "GitHubStopped";
  }
}

/** What an Octokit request error carries (checked by shape: @octokit/request-error is not ours to import). */
type RequestFailure = { status: number; message: string; headers: Record<string, string | number | undefined> };

function failureOf(error: unknown): RequestFailure | undefined {
  if (typeof error !== "object" || error === null || !("status" in error) || typeof error.status !== "number") return undefined;
  const response = "response" in error ? (error.response as { headers?: RequestFailure["headers"] } | undefined) : undefined;
  return { status: error.status, message: error instanceof Error ? error.message : "", headers: response?.headers ?? {} };
}

const PullOfCommit = z.object({
  number: z.number().int(),
  title: z.string(),
  body: z.string().nullable(),
  merged_at: z.string().nullable(),
  merge_commit_sha: z.string().nullable(),
});
const IssueText = z.object({ number: z.number().int(), title: z.string(), body: z.string().nullable().optional() });

/** The bound on a statement, in characters: an issue as the intake takes it is 20,000; a task needs far less. */
export const MAX_STATEMENT_CHARS = 8_000;

// GitHub's closing keywords (docs: "Linking a pull request to an issue"), for an issue of the same repository.
const CLOSING = /\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+#(\d{1,9})\b/gi;
const REFERENCE = /(?<![\w/&])#(\d{1,9})\b/g;

/** Issue numbers a text closes, else (with `any`) the ones it names, in order and without repeats. */
export function issueReferences(text: string, options: { any: boolean }): number[] {
  const closing = [...text.matchAll(CLOSING)].map((match) => Number(match[1]));
  const found = closing.length > 0 || !options.any ? closing : [...text.matchAll(REFERENCE)].map((match) => Number(match[1]));
  return [...new Set(found)].filter((number) => number > 0);
}

/** `owner/name` from a remote URL on the API's host (https, ssh or scp-like), or undefined. */
export function parseGitHubRemote(url: string, apiUrl: string): GitHubRepo | undefined {
  const api = new URL(apiUrl);
  const host = api.hostname === "api.github.com" ? "github.com" : api.hostname;
  const escaped = host.replace(/[.]/g, "\\.");
  const pattern = new RegExp(
    `^(?:(?:https?|ssh|git)://(?:[^@/]+@)?${escaped}(?::\\d+)?/|[^@/]+@${escaped}:)([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\\.git)?/?$`,
    "i",
  );
  const match = pattern.exec(url.trim());
  return match?.[1] && match[2] ? { owner: match[1], name: match[2] } : undefined;
}

async function repoOf(repo: MinedRepository, options: GitHubMiningOptions): Promise<GitHubRepo> {
  if (options.repo !== undefined) {
    const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(options.repo);
    if (!match?.[1] || !match[2]) throw new EvalInputError(`--github-repo ${options.repo} is not owner/name; use e.g. --github-repo octo-org/calc.`);
    return { owner: match[1], name: match[2] };
  }
  const remote = (await git(repo.target, ["config", "--get", "remote.origin.url"], { okExitCodes: [1] })).stdout.trim();
  const parsed = remote === "" ? undefined : parseGitHubRemote(remote, options.apiUrl);
  if (parsed) return parsed;
  throw new EvalInputError(
    `${repo.root} has ${remote === "" ? "no origin remote" : `an origin remote that is not on ${new URL(options.apiUrl).hostname === "api.github.com" ? "github.com" : new URL(options.apiUrl).hostname} (${remote})`}, so the GitHub repository is unknown: give it with --github-repo owner/name. Nothing was run.`,
  );
}

function createClient(options: GitHubMiningOptions): MiningGitHub["client"] {
  const retries = options.rateLimitRetries ?? 2;
  const maxWait = options.maxWaitSeconds ?? 600;
  const unit = options.retryUnitMs ?? 1_000;
  const onLimit = (kind: string) => (retryAfter: number, request: { method: string; url: string }, _octokit: unknown, retryCount: number) => {
    const retry = retryCount < retries && retryAfter <= maxWait;
    options.onWait?.(
      retry
        ? `GitHub's ${kind} was reached (${request.method} ${request.url}): waiting ${retryAfter} s before trying again.`
        : `GitHub's ${kind} was reached (${request.method} ${request.url}) and it asks for ${retryAfter} s more: not waiting.`,
    );
    return retry;
  };
  return new ProbotOctokit({
    auth: { token: options.token },
    baseUrl: options.apiUrl,
    userAgent: "aura-orchestra-eval-mine",
    log: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
    retry: { retryAfterBaseValue: unit },
    throttle: { id: "aura-eval-mine", retryAfterBaseValue: unit, onRateLimit: onLimit("rate limit"), onSecondaryRateLimit: onLimit("secondary rate limit") },
  });
}

/** The client for `options`, after one request that proves the token can read the repository. */
export async function openGitHub(repo: MinedRepository, options: GitHubMiningOptions): Promise<MiningGitHub> {
  const target = await repoOf(repo, options);
  const client = createClient(options);
  const full = `${target.owner}/${target.name}`;
  try {
    await client.request("GET /repos/{owner}/{repo}", { owner: target.owner, repo: target.name });
  } catch (thrown) {
    const error = failureOf(thrown);
    if (!error) throw thrown;
    if (error.status === 401)
      throw new EvalInputError(
        `GitHub refused the token (401 Bad credentials): it is wrong, expired or revoked. Give a valid one with --github-token or GITHUB_TOKEN (read access to ${full}'s contents, issues and pull requests), or leave both unset to use commit messages. Nothing was run or written.`,
      );
    if (error.status === 404)
      throw new EvalInputError(
        `GitHub has no repository ${full} that this token can read (404). Check the name (--github-repo owner/name, or the origin remote) and that the token may read it. Nothing was run or written.`,
      );
    throw new EvalInputError(`${stoppedText(error, full)} Nothing was run or written.`);
  }
  return { ...target, client };
}

function stoppedText(error: RequestFailure, full: string): string {
  const headers = error.headers;
  const reset = Number(headers["x-ratelimit-reset"]);
  const limited = error.status === 429 || (error.status === 403 && (headers["x-ratelimit-remaining"] === "0" || /rate limit/i.test(error.message)));
  if (limited) {
    const when = Number.isFinite(reset) && reset > 0 ? ` It resets at ${new Date(reset * 1000).toISOString()}.` : "";
    return `GitHub's rate limit for this token is used up (HTTP ${error.status} on ${full}) and it did not lift within the wait.${when}`;
  }
  return `GitHub answered HTTP ${error.status} (${error.message.slice(0, 200)}) for ${full}.`;
}

/** One request, with a failure of GitHub's turned into GitHubStopped (a 404 is an answer: undefined). */
async function ask<T>(github: MiningGitHub, call: () => Promise<{ data: unknown }>, schema: z.ZodType<T>): Promise<T | undefined> {
  let data: unknown;
  try {
    data = (await call()).data;
  } catch (thrown) {
    const error = failureOf(thrown);
    if (!error) throw thrown;
    if (error.status === 404 || error.status === 410) return undefined;
    throw new GitHubStopped(stoppedText(error, `${github.owner}/${github.name}`));
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success)
    throw new GitHubStopped(
      `GitHub's answer for ${github.owner}/${github.name} did not have the expected shape (${parsed.error.issues[0]?.message ?? "invalid"}).`,
    );
  return parsed.data;
}

/** Title and body as one statement: invisible characters and HTML or markdown comments removed, bounded. */
export function statementOf(title: string, body: string | null | undefined): string {
  const heading = sanitizeUntrustedLine(title);
  const text = sanitizeUntrustedText(body ?? "", { maxChars: Math.max(200, MAX_STATEMENT_CHARS - heading.length - 2) }).text;
  return text === "" ? heading : `${heading}\n\n${text}`;
}

async function issueStatement(github: MiningGitHub, numbers: number[]): Promise<{ number: number; statement: string } | undefined> {
  for (const number of numbers) {
    const issue = await ask(
      github,
      () => github.client.request("GET /repos/{owner}/{repo}/issues/{issue_number}", { owner: github.owner, repo: github.name, issue_number: number }),
      IssueText,
    );
    if (issue) return { number, statement: statementOf(issue.title, issue.body) };
  }
  return undefined;
}

/** The statement for the kept commit `sha` with commit message `message`; throws GitHubStopped when GitHub fails. */
export async function statementFromGitHub(github: MiningGitHub, sha: string, message: string): Promise<GitHubStatement> {
  const pulls = await ask(
    github,
    () =>
      github.client.request("GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls", { owner: github.owner, repo: github.name, commit_sha: sha, per_page: 100 }),
    z.array(PullOfCommit),
  );
  const pull = pulls?.find((item) => item.merged_at !== null && item.merge_commit_sha === sha);
  if (pull) {
    const issue = await issueStatement(
      github,
      issueReferences(pull.body ?? "", { any: false }).filter((number) => number !== pull.number),
    );
    if (issue) return { statement: issue.statement, source: "issue", pull: pull.number, issue: issue.number };
    return { statement: statementOf(pull.title, pull.body), source: "pull request", pull: pull.number, issue: undefined };
  }
  const issue = await issueStatement(github, issueReferences(message, { any: true }));
  if (issue) return { statement: issue.statement, source: "issue", pull: undefined, issue: issue.number };
  return { statement: message, source: "commit message", pull: undefined, issue: undefined };
}
