// Authority that matches scope. `halt`, `resume`, `suspend`, `reinstate` and `trial` act on the whole installation.
// Stopping is always safe, so a director of any one repository may halt or suspend; releasing widens work
// in every repository, so `resume`, `reinstate` and `trial` (off probation) need a director of each repository
// that has Aura work.
import { isDirector } from "../github/permissions.js";
import type { Services } from "../services.js";
import { formatCount } from "../accountant/format.js";
import { splitRepo } from "./payloads.js";
import { directorConfig } from "./pull-closed.js";
import { reposWithAuraWork } from "./store.js";

/** Verbs that release work across the installation. (`budget` raises one task or requirement, in one repository.) */
export const WIDENING_VERBS = ["resume", "reinstate", "trial"] as const;
export type WideningVerb = (typeof WIDENING_VERBS)[number];

export function isWideningVerb(verb: string): verb is WideningVerb {
  return (WIDENING_VERBS as readonly string[]).includes(verb);
}

/**
 * The repositories with Aura work where `login` is not a director (each repository's own `.github/aura.yml`
 * and collaborator permission; permissions are cached briefly by getPermission). `checkedRepo` is where the
 * command was written: its authority was checked already. A repository the installation can no longer read
 * (deleted, or access withdrawn: GitHub answers 404) is `unreachable`, not a reason to refuse: nobody could
 * ever be its director through Aura again.
 */
export async function reposWithoutDirectorship(
  services: Services,
  target: { installationId: number; login: string; checkedRepo: string },
): Promise<{ missing: string[]; unreachable: string[] }> {
  const missing: string[] = [];
  const unreachable: string[] = [];
  for (const repo of await reposWithAuraWork(services.pool, target.installationId)) {
    if (repo.toLowerCase() === target.checkedRepo.toLowerCase()) continue;
    const config = await directorConfig(services, target.installationId, repo);
    const check = await isDirector(services, { installationId: target.installationId, ...splitRepo(repo), login: target.login, config });
    if (check.director) continue;
    if (await readable(services, target.installationId, repo)) missing.push(repo);
    else unreachable.push(repo);
  }
  return { missing, unreachable };
}

/** Whether the installation can still read the repository (a 404 says it cannot). */
async function readable(services: Services, installationId: number, repo: string): Promise<boolean> {
  try {
    await services.github.forInstallation(installationId).request("GET /repos/{owner}/{repo}", splitRepo(repo));
    return true;
  } catch (error) {
    if (typeof error === "object" && error !== null && "status" in error && error.status === 404) return false;
    throw error;
  }
}

export function wideningRefusal(login: string, verb: WideningVerb, repos: readonly string[]): string {
  const what =
    verb === "resume"
      ? "lifts the halt in every repository of this installation"
      : verb === "trial"
        ? "takes the employee off probation in every repository of this installation"
        : "lets the employee work in every repository of this installation";
  return `@${login}, \`/aura ${verb}\` ${what}, so it needs a director of each repository with Aura work. You are not a director of ${formatCount(repos.length, "repository", "repositories")}: ${repos.map((repo) => `\`${repo}\``).join(", ")}. Nothing was changed; a director of all of them can run it.`;
}
