// The short names of the sandbox's limits, as an operator writes them in AURA_SANDBOX_ACCEPT_MISSING to let
// runs go ahead in bubblewrap without exactly those limits (sandbox-limits.ts says what each one is). Kept apart
// from the probes so the env schema can validate the list without loading them.

export const LIMIT_NAMES = ["cgroup", "tmpfs", "workspace", "uid", "seccomp", "userns"] as const;

export type LimitName = (typeof LIMIT_NAMES)[number];

function isLimitName(value: string): value is LimitName {
  return (LIMIT_NAMES as readonly string[]).includes(value);
}

/** A comma-separated list such as `cgroup,workspace,uid` (blank: none). Throws naming what is unknown. */
export function parseLimitNames(text: string): LimitName[] {
  const names = text
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  const unknown = names.filter((name) => !isLimitName(name));
  if (unknown.length > 0) {
    throw new Error(
      `names ${unknown.map((name) => JSON.stringify(name)).join(", ")}, which ${unknown.length === 1 ? "is not a limit" : "are not limits"} (allowed: ${LIMIT_NAMES.join(", ")})`,
    );
  }
  return [...new Set(names.filter(isLimitName))];
}
