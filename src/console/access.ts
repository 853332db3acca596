// Who may see what in the console and through MCP: a person sees a repository when they are its director, the
// same decision `/aura` commands make (src/github/permissions.ts isDirector over the repository's
// `.github/aura.yml`, read as the Director reads it): GitHub permission admin or maintain, or listed under
// `directors:` while holding write. Decided at each use, never remembered beyond the permission cache, so a
// person who loses the role loses the view.
import { isDirector } from "../github/permissions.js";
import { directorConfig } from "../director/pull-closed.js";
import type { Services } from "../services.js";
import type { VisibleRepo } from "./visible.js";

export type AccessServices = Pick<Services, "pool" | "log" | "github" | "policies"> & Partial<Services>;

/** Whether `login` is a director of the repository (the `/aura` commands' own decision). */
export async function isRepositoryDirector(services: AccessServices, target: VisibleRepo & { login: string }): Promise<boolean> {
  const [owner = "", repo = ""] = target.repo.split("/");
  const config = () => directorConfig(services as Services, target.installationId, target.repo);
  const check = await isDirector(services, { installationId: target.installationId, owner, repo, login: target.login, config });
  return check.director;
}

/**
 * The repositories with Aura records (any requirement, in an installation the app was not removed from) that
 * `login` directs. A repository GitHub cannot answer for (removed, access withdrawn, an outage) is left out and
 * logged: an error never widens the view.
 */
export async function visibleRepositories(services: AccessServices, login: string): Promise<VisibleRepo[]> {
  const visible: VisibleRepo[] = [];
  for (const candidate of await candidateRepositories(services)) {
    try {
      if (await isRepositoryDirector(services, { ...candidate, login })) visible.push(candidate);
    } catch (error) {
      services.log.warn(
        { repo: candidate.repo, installationId: candidate.installationId, reason: errorText(error) },
        "could not check directorship; the repository is not shown",
      );
    }
  }
  return visible;
}

/** Every (installation, repository) with a requirement, in installations the app is still installed on. */
export async function candidateRepositories(services: Pick<Services, "pool">): Promise<VisibleRepo[]> {
  const { rows } = await services.pool.query<{ installation_id: string; repo: string }>(
    `SELECT DISTINCT r.installation_id, r.repo FROM requirements r LEFT JOIN installations i ON i.id = r.installation_id
      WHERE i.removed_at IS NULL ORDER BY r.installation_id, r.repo`,
  );
  return rows.map((row) => ({ installationId: Number(row.installation_id), repo: row.repo }));
}

/**
 * The installation of `repo` (`owner/name`) when the app is installed on it (asked of GitHub as the app), or
 * undefined. Submitting a requirement to a repository with no Aura records yet needs it.
 */
export async function findRepositoryInstallation(services: AccessServices, repo: string): Promise<VisibleRepo | undefined> {
  const [owner = "", name = ""] = repo.split("/");
  const app = services.github.forApp?.() ?? services.github.forInstallation(0);
  try {
    const { data } = await app.request("GET /repos/{owner}/{repo}/installation", { owner, repo: name });
    return { installationId: data.id, repo: `${owner}/${name}` };
  } catch (error) {
    if ((error as { status?: number }).status === 404) return undefined;
    throw error;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
