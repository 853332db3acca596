// Branch-name helpers: `aura/<issue>-<task-slug>` must be a valid, predictable git ref for any task title.

const MAX_SLUG = 48;

/** Lower-case ASCII words joined by hyphens, at most 48 characters; "task" when nothing usable is left. */
export function slugify(text: string): string {
  const slug = text
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_SLUG)
    .replace(/-+$/g, "");
  return slug === "" ? "task" : slug;
}

/** The branch (without `refs/heads/`) for one task of one requirement issue. */
export function taskBranchName(issueNumber: number, taskSlug: string): string {
  if (!Number.isSafeInteger(issueNumber) || issueNumber <= 0) {
    throw new RangeError(`issue number must be a positive integer, got ${issueNumber}`);
  }
  return `aura/${issueNumber}-${slugify(taskSlug)}`;
}
