// The `aura` command line: local runs, migrations, the Audit Core's verify, export and anchor commands, tokens,
// MCP over stdio, trajectories and evaluations.
// It uses DATABASE_URL (`migrate`: MIGRATION_DATABASE_URL when set), or the embedded PostgreSQL in
// AURA_DATA_DIR (reusing it when the app is running).
import { createWriteStream } from "node:fs";
import os from "node:os";
import { parseArgs } from "node:util";
import pino from "pino";
import { writeAnchor, readAnchor } from "./audit/anchor.js";
import { exportAudit } from "./audit/export.js";
import { collectGitHubAnchors } from "./audit/github-anchors.js";
import { standaloneInstallationClients } from "./github/standalone.js";
import { verifyAudit } from "./audit/verify.js";
import { ConfigError, loadConfig, type AppConfig } from "./config/env.js";
import { migrate } from "./db/migrate.js";
import { createPool } from "./db/pool.js";
import { withDatabase, withPool } from "./db/with-database.js";
import { MINE_USAGE, runMineCommand } from "./eval/mine-command.js";
import { EVAL_RUN_USAGE, runEvalCommand } from "./eval/run-command.js";
import { sandboxOptions } from "./server/start.js";
import { runTrajectoryCommand, TRAJECTORY_USAGE } from "./employees/agent/trajectory-command.js";
import { runMcpStdio } from "./console/mcp-stdio.js";
import { runTokenCommand, TOKEN_USAGE } from "./console/token-command.js";
import { RUN_USAGE, runCommand } from "./local/command.js";
import { BACKUP_USAGE, RESTORE_USAGE, runBackupCommand, runRestoreCommand } from "./operations/command.js";

const usage = `Usage: aura <command>

${RUN_USAGE}  migrate                               apply pending database migrations
  audit verify [--anchor FILE ...] [--github] [--independent]
                                        check the hash chain, anchor files, and the anchors in the app's
                                        status comments on GitHub; exit 1 at the first bad event.
                                        --independent recomputes every hash here instead of in the
                                        database (slower; for an auditor who does not trust the server)
  audit export [--since DATE] [--out F] write audit events as JSON lines (default: standard output)
  audit anchor --out FILE               write the chain head to FILE (signed with the app key when set)
  ${BACKUP_USAGE}                   one consistent dump of the database with the audit anchor of the same
                                        moment (default FILE: aura-backup-<time>.aura-backup); see docs/operations.md
  ${RESTORE_USAGE}
                                        restore a backup into an empty database (DATABASE_URL) or an empty
                                        AURA_DATA_DIR, and write its anchor (default FILE.anchor.json)
  ${TOKEN_USAGE}
                                        issue (shown once), revoke or list personal tokens for the
                                        console's MCP endpoint; the audit records the operator
  mcp                                   serve MCP on stdin/stdout for an IDE, as the person of AURA_MCP_TOKEN
                                        (or GITHUB_TOKEN's user): see docs/mcp.md
  ${TRAJECTORY_USAGE}       print a task's work runs and every step (task: its id, or
                                        owner/repo#issue:task-key); --json prints everything stored
  ${MINE_USAGE}
                                        find commits that change tests and source together and keep, as
                                        SWE-bench tasks (JSON lines), those whose tests fail on the parent
                                        with only the test changes and pass with the whole change (sandbox)
  ${EVAL_RUN_USAGE}
                                        give each employee each task (local mode on a scratch checkout of
                                        the base commit), grade in the sandbox with the hidden test patch,
                                        and report resolved share with a 95 % interval, cost per resolved
                                        task, median time and steps (see docs/eval.md)
`;

type CommandInput = { config: AppConfig; sub: string | undefined; rest: string[]; args: string[]; out: NodeJS.WritableStream };

/** Logs of the sandbox runs a command starts: warnings and worse, on standard error. */
function commandLogger(): pino.Logger {
  return pino({ level: "warn" }, pino.destination(2));
}

function printUsage(out: NodeJS.WritableStream, command: string | undefined): number {
  out.write(usage);
  return command === undefined || command === "help" || command === "--help" ? 0 : 2;
}

async function migrateCommand({ config, out }: CommandInput): Promise<number> {
  return withDatabase(
    config,
    async (url) => {
      const applied = await migrate(url);
      out.write(applied.length === 0 ? "Database is up to date.\n" : `Applied ${applied.join(", ")}.\n`);
      return 0;
    },
    "owner",
  );
}

async function evalCommand({ config, sub, rest, out }: CommandInput): Promise<number> {
  if (sub === "mine")
    return runMineCommand(
      rest,
      { out, err: process.stderr, github: { token: config.GITHUB_TOKEN, apiUrl: config.githubApiUrl } },
      sandboxOptions(config, commandLogger()),
    );
  if (sub === "run") return runEvalCommand(rest, { out, err: process.stderr, env: process.env }, sandboxOptions(config, commandLogger()));
  return printUsage(out, "eval");
}

/** Every command but `run` (local mode reads the environment itself), by its first word. */
const COMMANDS: Record<string, (input: CommandInput) => Promise<number>> = {
  migrate: migrateCommand,
  eval: evalCommand,
  token: ({ config, args, out }) =>
    withPool(config, (pool) => runTokenCommand(pool, args, { out, githubApiUrl: config.githubApiUrl, operator: `cli:${os.userInfo().username}` })),
  mcp: ({ config, out }) => withDatabase(config, (url) => runMcpStdio(config, url, { stdin: process.stdin, stdout: out, stderr: process.stderr })),
  trajectory: ({ config, args, out }) => withPool(config, (pool) => runTrajectoryCommand(pool, args, out)),
  audit: auditCommand,
  backup: ({ config, args, out }) => runBackupCommand(config, args, out),
  restore: ({ config, args, out }) => runRestoreCommand(config, args, out),
};

export async function runCli(argv: string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  // Local mode sets its own GitHub and data settings, so it reads the environment itself.
  if (argv[0] === "run") return runCommand(argv.slice(1), { stdout: out, stderr: process.stderr, env: process.env });
  const config = loadConfig(process.env);
  const [command, sub, ...rest] = argv;
  // Own keys only: `aura toString` is a typo, not a command.
  const handler = command !== undefined && Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (!handler) return printUsage(out, command);
  return handler({ config, sub, rest, args: argv.slice(1), out });
}

type AuditOptions = { anchor?: string[]; github?: boolean; independent?: boolean; since?: string; out?: string };

async function auditCommand({ config, sub, rest, out }: CommandInput): Promise<number> {
  if (sub !== "verify" && sub !== "export" && sub !== "anchor") return printUsage(out, "audit");
  const { values } = parseArgs({
    args: rest,
    options: {
      anchor: { type: "string", multiple: true },
      github: { type: "boolean" },
      independent: { type: "boolean" },
      since: { type: "string" },
      out: { type: "string" },
    },
  });
  return withPool(config, (pool) => {
    if (sub === "verify") return auditVerify(config, pool, values, out);
    if (sub === "export") return auditExport(pool, values, out);
    return auditAnchor(config, pool, values, out);
  });
}

async function auditVerify(config: AppConfig, pool: ReturnType<typeof createPool>, values: AuditOptions, out: NodeJS.WritableStream): Promise<number> {
  const anchors = (values.anchor ?? []).map(readAnchor);
  if (values.github) {
    if (!config.hasCredentials) {
      out.write("--github needs APP_ID and PRIVATE_KEY (or PRIVATE_KEY_PATH) to read the status comments.\n");
      return 2;
    }
    const github = standaloneInstallationClients({ appId: Number(config.APP_ID), privateKey: config.privateKey ?? "", baseUrl: config.githubApiUrl });
    const collected = await collectGitHubAnchors(pool, github);
    anchors.push(...collected.anchors);
    for (const problem of collected.unreadable) out.write(`Could not read anchor ${problem}\n`);
  }
  const hashedBy = values.independent ? "verifier" : "database";
  const result = await verifyAudit(pool, anchors, { hashedBy });
  out.write(
    `Audit chain: ${result.count} events checked after seq ${result.startedAfterSeq}; ` +
      `head seq ${result.headSeq}, hash ${result.headHash}; ${result.anchorsChecked} anchors checked` +
      (result.anchorsRetired > 0 ? ` (${result.anchorsRetired} more name events retention has retired and cannot be checked)` : "") +
      "; " +
      `hashes recomputed by ${hashedBy === "verifier" ? "this verifier" : "the database server"}.\n`,
  );
  if (!result.ok && result.firstBad) {
    out.write(`FAILED at seq ${result.firstBad.seq}: ${result.firstBad.reason}\n`);
    return 1;
  }
  out.write("OK: the chain is intact.\n");
  return 0;
}

async function auditExport(pool: ReturnType<typeof createPool>, values: AuditOptions, out: NodeJS.WritableStream): Promise<number> {
  const since = values.since ? new Date(values.since) : undefined;
  if (since && Number.isNaN(since.getTime())) {
    out.write(`--since ${values.since} is not a date; use an ISO date such as 2026-01-31.\n`);
    return 2;
  }
  const target = values.out ? createWriteStream(values.out) : out;
  const count = await exportAudit(pool, target as NodeJS.WritableStream & import("node:stream").Writable, since);
  if (values.out) {
    await new Promise((resolve) => (target as import("node:fs").WriteStream).end(resolve));
    out.write(`Exported ${count} events to ${values.out}.\n`);
  }
  return 0;
}

async function auditAnchor(config: AppConfig, pool: ReturnType<typeof createPool>, values: AuditOptions, out: NodeJS.WritableStream): Promise<number> {
  if (!values.out) {
    out.write("audit anchor needs --out FILE.\n");
    return 2;
  }
  const anchor = await writeAnchor(pool, values.out, config.privateKey);
  out.write(`Anchored seq ${anchor.seq} (${anchor.hash}) in ${values.out}${anchor.signature ? ", signed" : ""}.\n`);
  return 0;
}

const isMain = process.argv[1] !== undefined && /cli\.ts$/.test(process.argv[1]);
if (isMain) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(error instanceof ConfigError ? `${error.message}\n` : `aura: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
}
