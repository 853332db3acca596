// The `director.command` job: reads the comment from the inbox, parses the `/aura` command, checks that the
// commenter is a director of that repository (for `resume` and `reinstate`, which widen work across the
// installation, of every repository with Aura work: see authority.ts), runs the verb, and acknowledges it.
// Each command comment is recorded once (by installation and comment id), so a retried job neither acts nor
// replies twice. A person over the command limit (command-throttle.ts) is ignored before anything else is spent.
// runConsoleCommand is the same decision for a signed-in person in the console: the same standing check, verb,
// refusal texts and audit record (its source is the console action instead of a comment), and no GitHub reply.
import type pg from "pg";
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
import { upsertScoreboard } from "./scoreboard-comment.js";
import {
  claimCommand,
  claimConsoleAction,
  claimRefusalReply,
  claimThrottledCommand,
  findRecordedCommand,
  markCommandAcknowledged,
  recordCommandOutcome,
  type CommandClaim,
  type CommandOutcome,
} from "./store.js";
import { runVerb, type CommandContext, type VerbResult } from "./verbs.js";

export type { CommandOutcome };

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
  const ctx: CommandContext = {
    services,
    installationId: delivery.installation.id,
    repo: delivery.repository.full_name,
    issueNumber: delivery.issue.number,
    isPull: delivery.issue.pull_request !== undefined && delivery.issue.pull_request !== null,
    login: author.login,
    commentId: delivery.comment.id,
  };

  if (await finishEarlierRun(services, ctx)) {
    await markDeliveryProcessed(services.pool, deliveryId);
    return "already_handled";
  }
  // Over the per-person limit: ignored before any GitHub call (permission checks, reactions) is spent on it.
  if (await throttled(services, ctx, deliveryId, verbOf(command))) {
    await markDeliveryProcessed(services.pool, deliveryId);
    return "throttled";
  }
  const standing = await checkStanding(services, ctx, command);
  const recorded = await inTransaction(services.pool, (client) => recordCommand(client, ctx, deliveryId, command, standing));
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
 * A command recorded by an earlier run, which may have died before acknowledging: finishes only the
 * acknowledgement. Returns whether the command had been recorded.
 */
async function finishEarlierRun(services: Services, ctx: CommandContext): Promise<boolean> {
  const seen = await findRecordedCommand(services.pool, ctx);
  if (!seen) return false;
  if (seen.replied_at === null && seen.verb === "scoreboard" && seen.outcome === "done") {
    await upsertScoreboard(services, { installationId: ctx.installationId, repo: ctx.repo, issueNumber: ctx.issueNumber });
  }
  if (seen.replied_at === null) await acknowledge(services, ctx, { reply: seen.reply, reaction: asReaction(seen.reaction) }, { earlierRun: true });
  return true;
}

type Standing = Awaited<ReturnType<typeof checkStanding>>;

/** Whether the commenter directs this repository and, for a widening verb, which other repositories they do not. */
async function checkStanding(services: Services, ctx: CommandContext, command: ParsedCommand) {
  const config = needsDirector(command) ? await directorConfig(services, ctx.installationId, ctx.repo) : null;
  const authority = config ? await checkAuthority(services, ctx, config) : { director: false, permission: "none", via: null };
  // Releases across the installation also need a director of every other repository with Aura work.
  const scope =
    authority.director && isWideningVerb(command.kind)
      ? await reposWithoutDirectorship(services, { installationId: ctx.installationId, login: ctx.login, checkedRepo: ctx.repo })
      : { missing: [], unreachable: [] };
  return { authority, scope };
}

/** Claims the command, decides it (running the verb), and records the outcome and its audit event; null when another run claimed it. */
async function recordCommand(
  client: pg.PoolClient,
  ctx: CommandContext,
  deliveryId: string,
  command: ParsedCommand,
  standing: Standing,
): Promise<Recorded | null> {
  if (!(await claimCommand(client, commandClaim(ctx, deliveryId, verbOf(command))))) return null;
  const { result, details } = await decideCommand(client, ctx, command, standing);
  await recordCommandOutcome(client, ctx, result);
  await appendCommandEvent(client, ctx, { command, standing, result, details, source: { commentId: ctx.commentId, deliveryId } });
  return result;
}

/** The command's one audit event: `director.<verb>`, or `director.command_refused` for a person without the standing. */
async function appendCommandEvent(
  client: pg.PoolClient,
  ctx: CommandContext,
  decided: { command: ParsedCommand; standing: Standing; result: Recorded; details: Record<string, unknown>; source: Record<string, unknown> },
): Promise<void> {
  const { command, standing, result } = decided;
  await appendEvents(client, [
    {
      actor: ctx.login,
      action: result.outcome === "not_director" || standing.scope.missing.length > 0 ? "director.command_refused" : `director.${verbOf(command)}`,
      subject: `${ctx.repo}#${ctx.issueNumber}`,
      payload: {
        installationId: ctx.installationId,
        ...decided.source,
        verb: verbOf(command),
        outcome: result.outcome,
        via: standing.authority.via,
        ...decided.details,
      },
    },
  ]);
}

/** Where a console action is aimed: the requirement's issue (or a task's pull request) it is about. */
export type ConsoleCommandTarget = { installationId: number; repo: string; issueNumber: number; login: string; actionId: string };

/**
 * A director's command given in the console by a signed-in person. The standing check, the verb, its refusals
 * and the audit event are those of the same `/aura` comment; the result is returned to be shown, not replied on
 * GitHub, and no refusal is rate-limited away (the person is looking at the page).
 */
export async function runConsoleCommand(
  services: Services,
  target: ConsoleCommandTarget,
  command: ParsedCommand,
): Promise<{ outcome: CommandOutcome; reply: string | null }> {
  const { actionId, ...where } = target;
  const ctx: CommandContext = { services, ...where, isPull: false, commentId: 0, consoleActionId: actionId };
  const standing = await checkStanding(services, ctx, command);
  const result = await inTransaction(services.pool, async (client): Promise<Recorded> => {
    if (!(await claimConsoleAction(client, actionId, target.login))) {
      return {
        outcome: "already_handled",
        reaction: null,
        reply: "This form was already sent, and its command ran then; nothing was done again. The audit page shows what it did.",
      };
    }
    const decided = await decideCommand(client, ctx, command, standing);
    await appendCommandEvent(client, ctx, { command, standing, ...decided, source: { source: "console", actionId } });
    return decided.result;
  });
  await result.afterCommit?.();
  return { outcome: result.outcome, reply: result.reply };
}

/** Unknown verb, help, not a director, refused widening, invalid, or the verb itself. */
async function decideCommand(
  client: pg.PoolClient,
  ctx: CommandContext,
  command: ParsedCommand,
  { authority, scope }: Standing,
): Promise<{ result: Recorded; details: Record<string, unknown> }> {
  // Refusals and help to the same person on the same issue are answered at most once an hour (on GitHub).
  const replyOnce = async (reply: () => string) =>
    ctx.consoleActionId !== undefined ||
    (await claimRefusalReply(client, {
      installationId: ctx.installationId,
      repo: ctx.repo,
      issueNumber: ctx.issueNumber,
      login: ctx.login,
      now: ctx.services.now(),
    }))
      ? reply()
      : null;
  const notDirectorOf = scope.missing;
  if (command.kind === "unknown") {
    return { result: { outcome: "unknown", reaction: "confused", reply: await replyOnce(() => renderHelpText({ unknownVerb: command.verb })) }, details: {} };
  }
  if (command.kind === "help") {
    // Help is for everyone, but a non-director gets it at most once per issue per hour like a refusal.
    return { result: { outcome: "done", reaction: null, reply: await replyOnce(() => renderHelpText()) }, details: {} };
  }
  if (!authority.director) {
    return {
      result: { outcome: "not_director", reaction: "-1", reply: await replyOnce(() => NOT_DIRECTOR(ctx.login)) },
      details: { permission: authority.permission },
    };
  }
  if (notDirectorOf.length > 0 && isWideningVerb(command.kind)) {
    const widening = command.kind;
    const reply = await replyOnce(() => wideningRefusal(ctx.login, widening, notDirectorOf));
    return { result: { outcome: "refused", reaction: "-1", reply }, details: { scope: "installation", notDirectorOf } };
  }
  if (command.kind === "invalid") return { result: { outcome: "invalid", reply: command.reason, reaction: "confused" }, details: {} };
  const verb: VerbResult = await runVerb(ctx, client, command);
  return {
    result: { outcome: verb.outcome, reply: verb.reply, reaction: verb.reaction, ...(verb.afterCommit ? { afterCommit: verb.afterCommit } : {}) },
    details: scope.unreachable.length > 0 ? { ...verb.details, unreachableRepos: scope.unreachable } : verb.details,
  };
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
    if (!(await claimThrottledCommand(client, commandClaim(ctx, deliveryId, verb), reply))) return null;
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

function commandClaim(ctx: CommandContext, deliveryId: string, verb: string): CommandClaim {
  return { installationId: ctx.installationId, commentId: ctx.commentId, deliveryId, repo: ctx.repo, issueNumber: ctx.issueNumber, login: ctx.login, verb };
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

/**
 * Reacts to the command and posts its reply (once: see github-replies.ts), then marks it acknowledged. A run that
 * claimed the command itself posts at once; `earlierRun` (the command was recorded by a run that may have died
 * between the post and the mark) looks for the reply first.
 */
async function acknowledge(
  services: Services,
  ctx: CommandContext,
  recorded: Pick<Recorded, "reply" | "reaction">,
  options: { earlierRun: boolean } = { earlierRun: false },
): Promise<void> {
  const octokit = services.github.forInstallation(ctx.installationId);
  const { owner, repo } = splitRepo(ctx.repo);
  if (recorded.reaction) await react(octokit, { owner, repo, commentId: ctx.commentId, content: recorded.reaction });
  if (recorded.reply) {
    const where = { owner, repo, issueNumber: ctx.issueNumber, commandId: ctx.commentId, botLogin: services.config.botLogin };
    await postReply(octokit, { ...where, body: recorded.reply, earlierRun: options.earlierRun });
  }
  await markCommandAcknowledged(services.pool, ctx);
}
