// Who may do what on a repository: the collaborator permission GitHub reports (cached briefly), and the
// Director rule: admin or maintain, or listed under `directors:` in the repo config while holding at least
// write (so a config entry cannot make a stranger a director).
import type { RepoConfig } from "../config/repo-config.js";
import type { Services } from "../services.js";
import type { InstallationOctokit } from "./octokit.js";

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

const RANK: Record<Permission, number> = { none: 0, read: 1, triage: 2, write: 3, maintain: 4, admin: 5 };
const CACHE_MS = 60_000;
const cache = new Map<string, { permission: Permission; at: number }>();

export function atLeast(permission: Permission, wanted: Permission): boolean {
  return RANK[permission] >= RANK[wanted];
}

/** Clears the permission cache (tests, and after a director's role may have changed). */
export function clearPermissionCache(): void {
  cache.clear();
}

export async function getPermission(octokit: InstallationOctokit, target: { owner: string; repo: string; username: string }): Promise<Permission> {
  const key = `${octokit.request.endpoint.DEFAULTS.baseUrl}|${target.owner}/${target.repo}|${target.username.toLowerCase()}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < CACHE_MS) return hit.permission;
  let permission: Permission;
  try {
    const { data } = await octokit.request("GET /repos/{owner}/{repo}/collaborators/{username}/permission", target);
    const role = (data as { role_name?: string; permission?: string }).role_name ?? data.permission;
    permission = normalise(role);
  } catch (error) {
    // 404: not a collaborator (or a user that does not exist): no permission at all.
    if ((error as { status?: number }).status === 404) permission = "none";
    else throw error;
  }
  cache.set(key, { permission, at: Date.now() });
  return permission;
}

function normalise(role: string | undefined): Permission {
  switch (role) {
    case "admin":
    case "maintain":
    case "write":
    case "triage":
    case "read":
      return role;
    case "push":
      return "write";
    case "pull":
      return "read";
    default:
      return "none";
  }
}

export type DirectorCheck = { director: boolean; permission: Permission; via: "permission" | "config" | null };

/**
 * `config` may be a loader: the repo config is read only when the permission alone does not decide (write, where
 * the `directors:` list counts), so checking many repositories reads few configs.
 */
export async function isDirector(
  services: Pick<Services, "github">,
  target: { installationId: number; owner: string; repo: string; login: string; config: RepoConfig | (() => Promise<RepoConfig>) },
): Promise<DirectorCheck> {
  const octokit = services.github.forInstallation(target.installationId);
  const permission = await getPermission(octokit, { owner: target.owner, repo: target.repo, username: target.login });
  if (atLeast(permission, "maintain")) return { director: true, permission, via: "permission" };
  if (!atLeast(permission, "write")) return { director: false, permission, via: null };
  const config = typeof target.config === "function" ? await target.config() : target.config;
  const listed = config.directors.some((name) => name.toLowerCase() === target.login.toLowerCase());
  return listed ? { director: true, permission, via: "config" } : { director: false, permission, via: null };
}
