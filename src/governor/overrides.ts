// Director overrides of a governor rule (`/aura override <rule-id> <reason>`; the Director role parses the
// command and replies). An override is stored bound to the rule AND the PR's current head SHA, so a new push
// is judged afresh; it is audited, the PR is re-evaluated (which re-posts the status and shows
// "overridden by @name: reason" in the Auditor's review). From anyone who is not a director it is refused
// and audited, and nothing changes.
import { appendEvents } from "../audit/append.js";
import { readRepoConfig } from "../github/repo-config-reader.js";
import { isDirector } from "../github/permissions.js";
import { inTransaction } from "../core/transitions.js";
import type { Services } from "../services.js";
import { enqueue } from "../queue/enqueue.js";
import { effectivePack } from "./effective-pack.js";
import { getPull, splitRepo } from "../github/pull.js";
import { repoRulesHash } from "./repo-rules-approval.js";
import { findRepoRulesApproval, insertOverride } from "./store.js";
import { sentence } from "../core/sentence.js";

export type OverrideRequest = {
  installationId: number;
  /** `owner/name`. */
  repo: string;
  pullNumber: number;
  ruleId: string;
  reason: string;
  /** The login of the person who asked. */
  by: string;
};

export type OverrideRefusal = "not-director" | "unknown-rule" | "empty-reason" | "invalid-config";

export type OverrideResult =
  { applied: true; headSha: string; ruleId: string; created: boolean; message: string } | { applied: false; refusal: OverrideRefusal; message: string };

/** Records a refused override in the audit log (the Director role replies to the person). */
export async function refuseOverride(
  services: Pick<Services, "audit">,
  request: OverrideRequest,
  refusal: OverrideRefusal,
  message: string,
): Promise<OverrideResult> {
  await services.audit.append({
    actor: request.by,
    action: "governor.override.refused",
    subject: `${request.repo}#${request.pullNumber}`,
    payload: { ruleId: request.ruleId, reason: request.reason, refusal, message },
  });
  return { applied: false, refusal, message };
}

/**
 * Applies a director's override to the PR's current head: checks (again) that `by` is a director and that the
 * rule exists in the pack the PR is judged by, stores it, audits it and enqueues a re-evaluation.
 */
export async function applyOverride(services: Pick<Services, "audit" | "github" | "policies" | "pool">, request: OverrideRequest): Promise<OverrideResult> {
  const reason = request.reason.trim();
  if (reason === "") {
    return refuseOverride(services, request, "empty-reason", "An override needs a reason: `/aura override <rule-id> <reason>`.");
  }
  const octokit = services.github.forInstallation(request.installationId);
  const pull = await getPull(octokit, request.repo, request.pullNumber);
  const { owner, repo } = splitRepo(request.repo);
  const config = await readRepoConfig(services, octokit, { owner, repo, ref: pull.base.sha });
  if (!config.ok) {
    return refuseOverride(
      services,
      request,
      "invalid-config",
      `The base branch's .github/aura.yml is invalid, so no override can be checked: ${config.message}`,
    );
  }
  const check = await isDirector(services, { installationId: request.installationId, owner, repo, login: request.by, config: config.config });
  if (!check.director) {
    return refuseOverride(
      services,
      request,
      "not-director",
      `@${request.by} is not a director of ${request.repo} (permission: ${check.permission}); only directors may override a rule.`,
    );
  }
  const rules = config.config.rules;
  const approval = rules.length > 0 ? await findRepoRulesApproval(services.pool, { ...request, rulesHash: repoRulesHash(rules) }) : undefined;
  const pack = effectivePack(config.config, { protectedPaths: services.policies.protectedPaths, approval });
  if (!pack.ok) {
    return refuseOverride(services, request, "invalid-config", `The policy for this pull request cannot be loaded: ${pack.error.message}`);
  }
  if (!pack.pack.rules.some((rule) => rule.id === request.ruleId)) {
    const ids = pack.pack.rules.map((rule) => rule.id).join(", ");
    return refuseOverride(services, request, "unknown-rule", `There is no rule \`${request.ruleId}\`; the rules are: ${ids}.`);
  }
  const headSha = pull.head.sha;
  const created = await inTransaction(services.pool, async (client) => {
    const inserted = await insertOverride(client, { ...request, headSha, reason, director: request.by });
    if (!inserted) return false;
    await appendEvents(client, [
      {
        actor: request.by,
        action: "governor.override.applied",
        subject: `${request.repo}#${request.pullNumber}`,
        payload: { ruleId: request.ruleId, reason, headSha, via: check.via, permission: check.permission },
      },
    ]);
    // Re-judged by the job the webhook starts (same key: a burst still collapses to one evaluation).
    await enqueue(client, "pull.evaluate", { installationId: request.installationId, repo: request.repo, pullNumber: request.pullNumber });
    return true;
  });
  const message = created
    ? `\`${request.ruleId}\` is overridden by @${request.by} for commit \`${headSha.slice(0, 7)}\`: ${sentence(reason)} Re-evaluating; a new push is judged afresh.`
    : `\`${request.ruleId}\` was already overridden for commit \`${headSha.slice(0, 7)}\`.`;
  return { applied: true, headSha, ruleId: request.ruleId, created, message };
}
