// Which repositories a reader may see: the one argument every read of the console's read model takes. A
// repository is named with its installation, since the records are keyed by both (a repository re-installed
// under a new installation starts new records). `access.ts` computes the list; the read model only filters by it.
export type VisibleRepo = { installationId: number; repo: string };

/** The repositories a person directs, as computed by `visibleRepositories` (access.ts). */
export type Visibility = readonly VisibleRepo[];

/** The list as two parallel arrays for `unnest($1::bigint[], $2::text[])`, repositories lower-cased. */
export function visibilityParams(visible: Visibility): [number[], string[]] {
  return [visible.map((entry) => entry.installationId), visible.map((entry) => entry.repo.toLowerCase())];
}

/** Whether `repo` of `installationId` is in the list (repository names compare without case, as on GitHub). */
export function isVisible(visible: Visibility, installationId: number, repo: string): boolean {
  const wanted = repo.toLowerCase();
  return visible.some((entry) => entry.installationId === installationId && entry.repo.toLowerCase() === wanted);
}

/** The installations the list touches. */
export function visibleInstallations(visible: Visibility): number[] {
  return [...new Set(visible.map((entry) => entry.installationId))].sort((a, b) => a - b);
}
