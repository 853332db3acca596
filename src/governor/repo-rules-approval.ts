// A director's approval of a repository's relaxing `rules:` (`/aura override repo-rules <reason>`, on any issue or
// pull request of the repository). The approval is bound to the sha256 of the canonical rules section on the
// default branch, so the gate applies it only while the rules are exactly what the director read; any change
// lapses it. Approvals are audited, and every verdict that relies on one says who approved what and why.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { z } from "zod";
import { appendEvents } from "../audit/append.js";
import { readRepoConfig } from "../github/repo-config-reader.js";
import { inTransaction } from "../core/transitions.js";
import { enqueue } from "../queue/enqueue.js";
import type { Services } from "../services.js";
import { effectivePack } from "./effective-pack.js";
import { splitRepo } from "../github/pull.js";
import type { Relaxation } from "./repo-rules.js";
import { findRepoRulesApproval, insertRepoRulesApproval } from "./store.js";
import { governedPulls } from "./verdict-store.js";
import { sentence } from "../core/sentence.js";

// The package is CommonJS whose typings claim an ES default export; require gives the function itself.
const canonicalize = createRequire(import.meta.url)("canonicalize") as (input: unknown) => string | undefined;

/** The pseudo rule id a director names to approve the repository's relaxing rules. */
export const REPO_RULES_OVERRIDE = "repo-rules";

/** The exact command a director writes to approve the current rules; quoted in every refusal. */
export const REPO_RULES_COMMAND = `/aura override ${REPO_RULES_OVERRIDE} <reason>`;

/** sha256 (hex) of the RFC 8785 canonical JSON of a `rules:` section: equal content, equal hash. */
export function repoRulesHash(rules: readonly unknown[]): string {
  const text = canonicalize(rules);
  if (text === undefined) throw new TypeError("the repository's rules cannot be canonicalised");
  return createHash("sha256").update(text).digest("hex");
}

export type RepoRulesApprovalRequest = {
  installationId: number;
  /** `owner/name`. */
  repo: string;
  reason: string;
  /** The director's login (the command path has already checked it). */
  by: string;
  /** The issue or pull request the command was written on. */
  issueNumber: number;
  /** Written on a pull request: approve the rules on its base (what the gate reads), not the default branch. */
  onPull?: boolean;
};

export type RepoRulesApprovalResult =
  { ok: true; created: boolean; rulesHash: string; relaxations: Relaxation[]; reevaluated: number; message: string } | { ok: false; message: string };

const OpenPull = z.object({ number: z.number().int() });
const PullBase = z.looseObject({ base: z.looseObject({ ref: z.string(), sha: z.string() }) });

/** Open pull requests of the repository the governor has judged, so the approval takes effect on them now. */
async function governedOpenPulls(services: Pick<Services, "github" | "pool">, request: RepoRulesApprovalRequest): Promise<number[]> {
  const octokit = services.github.forInstallation(request.installationId);
  const items = await octokit.paginate("GET /repos/{owner}/{repo}/pulls", { ...splitRepo(request.repo), state: "open", per_page: 100 });
  const open = z
    .array(OpenPull)
    .parse(items)
    .map((pull) => pull.number);
  if (open.length === 0) return [];
  return governedPulls(services.pool, { installationId: request.installationId, repo: request.repo, pullNumbers: open });
}

/**
 * Records a director's approval of the `rules:` on the default branch (or, written on a pull request, on its
 * base), audits it, and re-judges the open
 * governed pull requests. Refuses (ok: false) when the config is invalid or its rules relax nothing.
 */
export async function approveRepoRules(
  services: Pick<Services, "github" | "policies" | "pool">,
  request: RepoRulesApprovalRequest,
): Promise<RepoRulesApprovalResult> {
  const reason = request.reason.trim();
  if (reason === "") return { ok: false, message: `An approval needs a reason: \`${REPO_RULES_COMMAND}\`.` };
  const octokit = services.github.forInstallation(request.installationId);
  // The gate reads the rules at the pull request's base commit; on an issue, the default branch is meant.
  const base = request.onPull
    ? PullBase.parse(
        (await octokit.request("GET /repos/{owner}/{repo}/pulls/{pull_number}", { ...splitRepo(request.repo), pull_number: request.issueNumber })).data,
      ).base
    : null;
  const where = base ? `this pull request's base (\`${base.ref}\` at ${base.sha.slice(0, 7)})` : "the default branch";
  const config = await readRepoConfig(services, octokit, { ...splitRepo(request.repo), ...(base ? { ref: base.sha } : {}) });
  if (!config.ok) return { ok: false, message: `The .github/aura.yml on ${where} is invalid, so there is nothing to approve: ${config.message}` };
  const rules = config.config.rules;
  const rulesHash = repoRulesHash(rules);
  // Merging with the approval in hand lists what it would allow, or says why the rules are unusable anyway.
  const merged = effectivePack(config.config, {
    protectedPaths: services.policies.protectedPaths,
    approval: { by: request.by, reason },
  });
  if (!merged.ok) return { ok: false, message: `The rules in .github/aura.yml cannot be used even with an approval: ${merged.error.message}` };
  if (merged.relaxations.length === 0) {
    return { ok: false, message: `The \`rules:\` in .github/aura.yml on ${where} relax nothing, so no approval is needed.` };
  }
  const listed = merged.relaxations.map((relaxation) => `\`${relaxation.ruleId}\`: ${relaxation.change}`);
  const created = await inTransaction(services.pool, async (client) => {
    const inserted = await insertRepoRulesApproval(client, {
      installationId: request.installationId,
      repo: request.repo,
      rulesHash,
      relaxations: merged.relaxations,
      director: request.by,
      reason,
      issueNumber: request.issueNumber,
    });
    if (!inserted) return false;
    await appendEvents(client, [
      {
        actor: request.by,
        action: "governor.repo-rules.approved",
        subject: request.repo,
        payload: { rulesHash, reason, relaxations: merged.relaxations, issueNumber: request.issueNumber },
      },
    ]);
    return true;
  });
  if (!created) {
    const existing = await findRepoRulesApproval(services.pool, { installationId: request.installationId, repo: request.repo, rulesHash });
    return {
      ok: true,
      created: false,
      rulesHash,
      relaxations: merged.relaxations,
      reevaluated: 0,
      message: `These repo rules were already approved by @${existing?.by ?? "a director"}: ${existing?.reason ?? ""}`.trim(),
    };
  }
  const pulls = await governedOpenPulls(services, request);
  for (const pullNumber of pulls) await enqueue(services.pool, "pull.evaluate", { installationId: request.installationId, repo: request.repo, pullNumber });
  return {
    ok: true,
    created: true,
    rulesHash,
    relaxations: merged.relaxations,
    reevaluated: pulls.length,
    message: [
      `Repo rules approved by @${request.by}: ${sentence(reason)} They relax ${listed.join("; ")}.`,
      `The approval holds for these exact rules (\`${rulesHash.slice(0, 12)}\`, as on ${where}), wherever a pull request's base has them; any change to \`rules:\` needs a new \`${REPO_RULES_COMMAND}\`.`,
      pulls.length > 0 ? `Re-evaluating ${pulls.length} open pull request${pulls.length === 1 ? "" : "s"}.` : "",
    ]
      .filter((line) => line !== "")
      .join(" "),
  };
}
