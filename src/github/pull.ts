// Reads a pull request from GitHub for the governor and the Auditor: the pull request object, every changed
// file with its patch (paginated, up to the 3,000 the API lists), every commit (paginated) with its trailers.
// Every response passes a zod schema first; anything else is an error, never a guess.
import { z } from "zod";
import type { InstallationOctokit } from "./octokit.js";
import type { ChangedFile, PullCommit } from "./pull-types.js";

const RepoRef = z.object({ full_name: z.string(), clone_url: z.string().optional() }).nullable();

export const GitHubPull = z.object({
  number: z.number().int(),
  node_id: z.string(),
  state: z.string(),
  // GitHub always sends it; a closed pull request without it counts as closed unmerged (the stricter reading).
  merged: z.boolean().optional().default(false),
  draft: z.boolean().optional().default(false),
  html_url: z.string(),
  // Always present in GitHub's response; the default only keeps hand-written fixtures without one readable.
  title: z.string().default(""),
  body: z.string().nullable().default(null),
  user: z.object({ login: z.string() }).nullable(),
  head: z.object({ sha: z.string(), ref: z.string(), repo: RepoRef }),
  base: z.object({ sha: z.string(), ref: z.string(), repo: z.object({ full_name: z.string(), clone_url: z.string().optional() }) }),
  labels: z.array(z.object({ name: z.string() })).default([]),
  changed_files: z.number().int().nonnegative(),
  commits: z.number().int().nonnegative(),
  additions: z.number().int().nonnegative(),
  deletions: z.number().int().nonnegative(),
});
export type GitHubPull = z.infer<typeof GitHubPull>;

const FileStatus = z.enum(["added", "removed", "modified", "renamed", "copied", "changed", "unchanged"]);

const GitHubFile = z.object({
  filename: z.string(),
  status: FileStatus,
  additions: z.number().int(),
  deletions: z.number().int(),
  patch: z.string().optional(),
  previous_filename: z.string().optional(),
});

const GitHubCommit = z.object({
  sha: z.string(),
  author: z.object({ login: z.string() }).nullable(),
  committer: z.object({ login: z.string() }).nullable(),
  commit: z.object({
    message: z.string(),
    author: z.object({ email: z.string().optional() }).nullable(),
    verification: z.object({ verified: z.boolean() }).optional(),
  }),
});

/** GitHub's response did not have the shape the governor relies on. */
export class GitHubResponseInvalid extends Error {
  override name = "GitHubResponseInvalid";
  constructor(what: string, error: z.ZodError) {
    super(`GitHub returned an unexpected ${what}: ${error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`);
  }
}

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new GitHubResponseInvalid(what, result.error);
  return result.data;
}

export function splitRepo(fullName: string): { owner: string; repo: string } {
  const [owner, repo, ...rest] = fullName.split("/");
  if (!owner || !repo || rest.length > 0) throw new RangeError(`"${fullName}" is not a repository full name (owner/name)`);
  return { owner, repo };
}

export async function getPull(octokit: InstallationOctokit, fullName: string, pullNumber: number): Promise<GitHubPull> {
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", {
    ...splitRepo(fullName),
    pull_number: pullNumber,
  });
  return parse(GitHubPull, data, "pull request");
}

/** Every file GitHub lists for the pull request (100 per page; GitHub stops at 3,000). */
export async function listPullFiles(octokit: InstallationOctokit, fullName: string, pullNumber: number): Promise<ChangedFile[]> {
  const items = await octokit.paginate("GET /repos/{owner}/{repo}/pulls/{pull_number}/files", {
    ...splitRepo(fullName),
    pull_number: pullNumber,
    per_page: 100,
  });
  return parse(z.array(GitHubFile), items, "list of pull request files").map((file) => ({
    filename: file.filename,
    status: file.status,
    additions: file.additions,
    deletions: file.deletions,
    patch: file.patch,
    previousFilename: file.previous_filename,
  }));
}

/** Git trailers (`Key: value` lines) of the message's last paragraph. */
export function parseTrailers(message: string): Record<string, string> {
  const paragraphs = message.trim().split(/\r?\n\s*\r?\n/);
  const last = paragraphs.length > 1 ? (paragraphs[paragraphs.length - 1] ?? "") : "";
  const trailers: Record<string, string> = {};
  for (const line of last.split(/\r?\n/)) {
    const match = /^([A-Za-z0-9][A-Za-z0-9-]*):\s*(.+?)\s*$/.exec(line);
    if (!match) return {};
    trailers[match[1] as string] = match[2] as string;
  }
  return trailers;
}

/** Every commit of the pull request (GitHub lists at most 250; the caller compares with the PR's count). */
export async function listPullCommits(octokit: InstallationOctokit, fullName: string, pullNumber: number): Promise<PullCommit[]> {
  const items = await octokit.paginate("GET /repos/{owner}/{repo}/pulls/{pull_number}/commits", {
    ...splitRepo(fullName),
    pull_number: pullNumber,
    per_page: 100,
  });
  return parse(z.array(GitHubCommit), items, "list of pull request commits").map((item) => ({
    sha: item.sha,
    authorLogin: item.author?.login,
    authorEmail: item.commit.author?.email,
    committerLogin: item.committer?.login,
    message: item.commit.message,
    trailers: parseTrailers(item.commit.message),
    verified: item.commit.verification?.verified,
  }));
}

/** Open pull requests whose head is this commit (for a status event, which names only the SHA). */
export async function pullsForCommit(octokit: InstallationOctokit, fullName: string, sha: string): Promise<number[]> {
  const { data } = await octokit.request("GET /repos/{owner}/{repo}/commits/{commit_sha}/pulls", {
    ...splitRepo(fullName),
    commit_sha: sha,
  });
  const pulls = parse(z.array(z.object({ number: z.number().int(), state: z.string(), head: z.object({ sha: z.string() }) })), data, "list of pull requests");
  return pulls.filter((pull) => pull.head.sha === sha).map((pull) => pull.number);
}

/** An agent pull request: head branch `aura/…` in the same repository (a fork's `aura/` branch is not the app's). */
export function isAgentPull(pull: { head: { ref: string; repo: { full_name: string } | null }; base: { repo: { full_name: string } } }): boolean {
  return pull.head.ref.startsWith("aura/") && pull.head.repo?.full_name === pull.base.repo.full_name;
}
