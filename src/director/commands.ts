// The `director.command` job: reads the comment from the inbox, parses the `/aura` command, checks that the
// commenter is a director of that repository (for `resume` and `reinstate`, which widen work across the
// installation, of every repository with Aura work: see authority.ts), runs the verb, and acknowledges it.
// Each command comment is recorded once (by installation and comment id), so a retried job neither acts nor
// replies twice. A person over the command limit (command-throttle.ts) is ignored before anything else is spent.
import { appendEvents } from "../audit/append.js";
import type { RepoConfig } from "../config/repo-config.js";
import { isDirector } from "../github/permissions.js";
import { inTransaction } from "../core/transitions.js";
import { markDeliveryProcessed } from "../queue/inbox.js";
import type { Services } from "../services.js";
import { isWideningVerb, reposWithoutDirectorship, wideningRefusal } from "./authority.js";
import { COMMAND_LIMIT, COMMAND_WINDOW_MS, countCommand, throttleNotice } from "./command-throttle.js";
import { postReply, react, REACTIONS, type Reaction } from "./github-replies.js";
import { renderHelpText } from "./help-text.js";
import { parseCommentCommand, type ParsedCommand } from "./parse-command.js";
import { IssueCommentDelivery, readDelivery, splitRepo } from "./payloads.js";
import { directorConfig } from "./pull-closed.js";
import { claimRefusalReply } from "./refusals.js";
import { upsertScoreboard } from "./scoreboard-comment.js";
import { runVerb, type CommandContext, type VerbResult } from "./verbs.js";

export type CommandOutcome = "ignored" | "done" | "refused" | "not_director" | "invalid" | "unknown" | "already_handled" | "throttled";

const NOT_DIRECTOR = (login: string) =>
  `@${login}, only a director of this repository can run Aura commands (repository admins and maintainers, or people with write access listed under \`directors:\` in \`.github/aura.yml\`). Nothing was changed.`;

type Recorded = { outcome: CommandOutcome; reply: string | null; reaction: Reaction | null; afterCommit?: () => Promise<void> };

export async function handleDirectorCommand(services: Services, deliveryId: string): Promise<CommandOutcome> {
  const delivery = await readDelivery(services.pool, deliveryId, IssueCommentDelivery);
  const author = delivery.comment.user;
  const command = parseCommentCommand({ action: delivery.action, body: delivery.comment.body ?? "", authorType: author.type });
  // The app's own comments are ignored even if GitHub reports its type differently (no loops, ever).
  if (command === null || author.login.toLowerCase() === services.config.botLogin.toLowerCase()) {
    await markDeliveryProcessed(services.pool, deliveryId);
    return "ignored";
  }
  const installationId = delivery.installation.id;
  const repoFullName = delivery.repository.full_name;
  const ctx: CommandContext = {
    services,
    installationId,
    repo: repoFullName,
    issueNumber: delivery.issue.number,
    isPull: delivery.issue.pull_request !== undefined && delivery.issue.pull_request !== null,
    login: author.login,
    commentId: delivery.comment.id,
  };

  const previous = await services.pool.query<{ verb: string; outcome: CommandOutcome; reply: string | null; reaction: string | null; replied_at: Date | null }>(
    "SELECT verb, outcome, reply, reaction, replied_at FROM director_commands WHERE installation_id = $1 AND comment_id = $2",
    [installationId, ctx.commentId],
  );
  const seen = previous.rows[0];
  if (seen) {
    // Recorded by an earlier run that may have died before acknowledging: finish only the acknowledgement.
    if (seen.replied_at === null && seen.verb === "scoreboard" && seen.outcome === "done") {
      await upsertScoreboard(services, { installationId, repo: repoFullName, issueNumber: ctx.issueNumber });
    }
    if (seen.replied_at === null) await acknowledge(services, ctx, { reply: seen.reply, reaction: asReaction(seen.reaction) });
    await markDeliveryProcessed(services.pool, deliveryId);
    return "already_handled";
  }

  // Over the per-person limit: ignored before any GitHub call (permission checks, reactions) is spent on it.
  if (await throttled(services, ctx, deliveryId, verbOf(command))) {
    await markDeliveryProcessed(services.pool, deliveryId);
    return "throttled";
  }

  const config = needsDirector(command) ? await directorConfig(services, installationId, repoFullName) : null;
  const authority = config ? await checkAuthority(services, ctx, config) : { director: false, permission: "none", via: null };
  // Releases across the installation also need a director of every other repository with Aura work.
  const scope =
    authority.director && isWideningVerb(command.kind)
      ? await reposWithoutDirectorship(services, { installationId, login: ctx.login, checkedRepo: repoFullName })
      : { missing: [], unreachable: [] };
  const notDirectorOf = scope.missing;

  const recorded = await inTransaction(services.pool, async (client): Promise<Recorded | null> => {
    const claimed = await client.query(
      `INSERT INTO director_commands (installation_id, comment_id, delivery_id, repo, issue_number, login, verb, outcome)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'started') ON CONFLICT DO NOTHING RETURNING 1`,
      [installationId, ctx.commentId, deliveryId, repoFullName, ctx.issueNumber, ctx.login, verbOf(command)],
    );
    if (claimed.rowCount === 0) return null;
    let result: Recorded;
    let details: Record<string, unknown> = {};
    if (command.kind === "unknown") {
      result = { outcome: "unknown", reply: null, reaction: "confused" };
      if (await claimRefusalReply(client, { installationId, repo: repoFullName, issueNumber: ctx.issueNumber, login: ctx.login, now: services.now() })) {
        result.reply = renderHelpText({ unknownVerb: command.verb });
      }
    } else if (command.kind === "help") {
      result = { outcome: "done", reply: null, reaction: null };
      // Help is for everyone, but a non-director gets it at most once per issue per hour like a refusal.
      if (await claimRefusalReply(client, { installationId, repo: repoFullName, issueNumber: ctx.issueNumber, login: ctx.login, now: services.now() })) {
        result.reply = renderHelpText();
      }
    } else if (!authority.director) {
      result = { outcome: "not_director", reply: null, reaction: "-1" };
      if (await claimRefusalReply(client, { installationId, repo: repoFullName, issueNumber: ctx.issueNumber, login: ctx.login, now: services.now() })) {
        result.reply = NOT_DIRECTOR(ctx.login);
      }
      details = { permission: authority.permission };
    } else if (notDirectorOf.length > 0 && isWideningVerb(command.kind)) {
      result = { outcome: "refused", reply: null, reaction: "-1" };
      if (await claimRefusalReply(client, { installationId, repo: repoFullName, issueNumber: ctx.issueNumber, login: ctx.login, now: services.now() })) {
        result.reply = wideningRefusal(ctx.login, command.kind, notDirectorOf);
      }
      details = { scope: "installation", notDirectorOf };
    } else if (command.kind === "invalid") {
      result = { outcome: "invalid", reply: command.reason, reaction: "confused" };
    } else {
      const verb: VerbResult = await runVerb(ctx, client, command);
      details = scope.unreachable.length > 0 ? { ...verb.details, unreachableRepos: scope.unreachable } : verb.details;
      result = { outcome: verb.outcome, reply: verb.reply, reaction: verb.reaction, ...(verb.afterCommit ? { afterCommit: verb.afterCommit } : {}) };
    }
    await client.query("UPDATE director_commands SET outcome = $3, reply = $4, reaction = $5 WHERE installation_id = $1 AND comment_id = $2", [
      installationId,
      ctx.commentId,
      result.outcome,
      result.reply,
      result.reaction,
    ]);
    await appendEvents(client, [
      {
        actor: ctx.login,
        action: result.outcome === "not_director" || notDirectorOf.length > 0 ? "director.command_refused" : `director.${verbOf(command)}`,
        subject: `${repoFullName}#${ctx.issueNumber}`,
        payload: { installationId, commentId: ctx.commentId, deliveryId, verb: verbOf(command), outcome: result.outcome, via: authority.via, ...details },
      },
    ]);
    return result;
  });

  if (recorded === null) {
    await markDeliveryProcessed(services.pool, deliveryId);
    return "already_handled";
  }
  await recorded.afterCommit?.();
  await acknowledge(services, ctx, recorded);
  await markDeliveryProcessed(services.pool, deliveryId);
  return recorded.outcome;
}

/**
 * Counts the command against its author's limit. Over it, the command is recorded as `throttled` (so a redelivery
 * is not counted again) with no reaction; only the first one over the limit in a window gets a notice and an
 * audit event. Returns whether the command was throttled.
 */
async function throttled(services: Services, ctx: CommandContext, deliveryId: string, verb: string): Promise<boolean> {
  const recorded = await inTransaction(services.pool, async (client): Promise<Recorded | null | false> => {
    const decision = await countCommand(client, { installationId: ctx.installationId, commentId: ctx.commentId, login: ctx.login, now: services.now() });
    if (!decision.throttled) return false;
    const reply = decision.notify ? throttleNotice(ctx.login) : null;
    const claimed = await client.query(
      `INSERT INTO director_commands (installation_id, comment_id, delivery_id, repo, issue_number, login, verb, outcome, reply, replied_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'throttled', $8, CASE WHEN $8::text IS NULL THEN now() END) ON CONFLICT DO NOTHING RETURNING 1`,
      [ctx.installationId, ctx.commentId, deliveryId, ctx.repo, ctx.issueNumber, ctx.login, verb, reply],
    );
    if (claimed.rowCount === 0) return null;
    if (decision.notify) {
      await appendEvents(client, [
        {
          actor: ctx.login,
          action: "director.commands_throttled",
          subject: `${ctx.repo}#${ctx.issueNumber}`,
          payload: {
            installationId: ctx.installationId,
            commentId: ctx.commentId,
            deliveryId,
            verb,
            limit: COMMAND_LIMIT,
            windowMs: COMMAND_WINDOW_MS,
            commandsInWindow: decision.commandsInWindow,
          },
        },
      ]);
    }
    return { outcome: "throttled", reply, reaction: null };
  });
  if (recorded === false) return false;
  if (recorded?.reply) await acknowledge(services, ctx, recorded);
  return true;
}

function needsDirector(command: ParsedCommand): boolean {
  return command.kind !== "help" && command.kind !== "unknown";
}

async function checkAuthority(services: Services, ctx: CommandContext, config: RepoConfig) {
  return isDirector(services, { installationId: ctx.installationId, ...splitRepo(ctx.repo), login: ctx.login, config });
}

function verbOf(command: ParsedCommand): string {
  return command.kind === "invalid" ? command.verb : command.kind === "unknown" ? "unknown" : command.kind;
}

function asReaction(value: string | null): Reaction | null {
  return value !== null && (REACTIONS as readonly string[]).includes(value) ? (value as Reaction) : null;
}

async function acknowledge(services: Services, ctx: CommandContext, recorded: Pick<Recorded, "reply" | "reaction">): Promise<void> {
  const octokit = services.github.forInstallation(ctx.installationId);
  const { owner, repo } = splitRepo(ctx.repo);
  if (recorded.reaction) await react(octokit, { owner, repo, commentId: ctx.commentId, content: recorded.reaction });
  if (recorded.reply) await postReply(octokit, { owner, repo, issueNumber: ctx.issueNumber, body: recorded.reply });
  await services.pool.query("UPDATE director_commands SET replied_at = now() WHERE installation_id = $1 AND comment_id = $2", [
    ctx.installationId,
    ctx.commentId,
  ]);
}
