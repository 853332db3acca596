// submit_requirement: files a GitHub issue with the repository's requirement label AS THE CALLING PERSON, with
// their own GitHub token. The app then sees an ordinary `issues.labeled` webhook from that person, so the
// Manager's intake applies its own permission check, plan rules and approvals; MCP never writes a requirement.
// The GitHub token must belong to the person the personal token names (checked with GET /user), so an issue is
// never filed in someone else's name; and the repository must be one the person directs (access.ts).
import { Octokit } from "@octokit/rest";
import { z } from "zod";
import { readRepoConfig } from "../github/repo-config-reader.js";
import type { Person } from "./tokens.js";
import type { AccessServices } from "./access.js";
import { isVisible, type Visibility } from "./visible.js";

export class SubmitRefused extends Error {
  override name = "SubmitRefused";
}

export const SubmitInput = z.object({
  repo: z.string().regex(/^[A-Za-z0-9-]{1,39}\/[A-Za-z0-9._-]{1,100}$/, "repo is owner/name, e.g. octo-org/widgets"),
  title: z.string().trim().min(1).max(256),
  body: z.string().max(60_000).default(""),
});
export type SubmitInput = z.infer<typeof SubmitInput>;

const CreatedIssue = z.object({
  number: z.number().int(),
  html_url: z.string(),
  labels: z.array(z.union([z.string(), z.object({ name: z.string().optional() })])),
});
const GitHubUser = z.object({ login: z.string(), id: z.number().int() });

export type Submitted = { repo: string; issueNumber: number; url: string; label: string; labelApplied: boolean };

/** The person a GitHub token belongs to (GET /user), or a refusal when GitHub does not accept it. */
export async function gitHubPerson(githubToken: string, baseUrl: string): Promise<Person> {
  try {
    const { data } = await new Octokit({ auth: githubToken, baseUrl }).request("GET /user");
    const user = GitHubUser.parse(data);
    return { login: user.login, userId: user.id };
  } catch (error) {
    if ((error as { status?: number }).status === 401) throw new SubmitRefused("GitHub refused this GitHub token (401): it is wrong, expired or revoked.");
    throw error;
  }
}

export async function submitRequirement(
  services: AccessServices & { config: { githubApiUrl: string } },
  caller: { person: Person; visible: Visibility; githubToken: string | undefined },
  input: SubmitInput,
): Promise<Submitted> {
  const target = caller.visible.find((entry) => isVisible([entry], entry.installationId, input.repo));
  if (!target) throw new SubmitRefused(`You are not a director of ${input.repo} here (or Aura does not know it), so nothing was filed there.`);
  if (!caller.githubToken) {
    throw new SubmitRefused(
      "submit_requirement files the issue as you, with your own GitHub token: send it in the X-GitHub-Token header (HTTP) or set GITHUB_TOKEN (aura mcp). Nothing was filed.",
    );
  }
  const tokenPerson = await gitHubPerson(caller.githubToken, services.config.githubApiUrl);
  if (tokenPerson.userId !== caller.person.userId) {
    throw new SubmitRefused(
      `The GitHub token belongs to @${tokenPerson.login}, but your personal token is @${caller.person.login}'s; an issue is filed only in its author's own name. Nothing was filed.`,
    );
  }
  const [owner = "", repo = ""] = target.repo.split("/");
  const config = await readRepoConfig(services, services.github.forInstallation(target.installationId), { owner, repo });
  const label = config.ok ? config.config.requirementLabel : "aura:requirement";
  const person = new Octokit({ auth: caller.githubToken, baseUrl: services.config.githubApiUrl });
  const { data } = await person.request("POST /repos/{owner}/{repo}/issues", { owner, repo, title: input.title, body: input.body, labels: [label] });
  const issue = CreatedIssue.parse(data);
  const labelApplied = issue.labels.some((entry) => (typeof entry === "string" ? entry : entry.name) === label);
  return { repo: target.repo, issueNumber: issue.number, url: issue.html_url, label, labelApplied };
}
