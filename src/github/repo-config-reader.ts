// Reads `.github/aura.yml` at a given ref (the default branch, or a pull request's BASE — never its head).
// A missing file means defaults; an invalid one is reported with every problem, and the caller fails closed.
import { parseRepoConfig, REPO_CONFIG_PATH, RepoConfigError, type RepoConfig } from "../config/repo-config.js";
import type { Services } from "../services.js";
import type { InstallationOctokit } from "./octokit.js";

export type RepoConfigResult = { ok: true; config: RepoConfig; found: boolean } | { ok: false; message: string };

export async function readRepoConfig(
  services: Pick<Services, "policies">,
  octokit: InstallationOctokit,
  target: { owner: string; repo: string; ref?: string },
): Promise<RepoConfigResult> {
  let text: string | null = null;
  try {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/contents/{path}", {
      owner: target.owner,
      repo: target.repo,
      path: REPO_CONFIG_PATH,
      ...(target.ref ? { ref: target.ref } : {}),
    });
    const file = data as { type?: string; content?: string; encoding?: string };
    if (file.type !== "file" || typeof file.content !== "string") {
      return { ok: false, message: `${REPO_CONFIG_PATH} is not a file.` };
    }
    text = Buffer.from(file.content, (file.encoding as BufferEncoding | undefined) ?? "base64").toString("utf8");
  } catch (error) {
    if ((error as { status?: number }).status !== 404) throw error;
  }
  try {
    const config = parseRepoConfig(text, { appBudgets: services.policies.budgets, registry: services.policies.employees });
    return { ok: true, config, found: text !== null };
  } catch (error) {
    if (error instanceof RepoConfigError) return { ok: false, message: error.message };
    throw error;
  }
}
