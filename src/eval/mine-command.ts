// The command line of `aura eval mine <repo> [--limit N] [--since DATE] [--out FILE] [--json] [--github-token T]
// [--github-repo owner/name]`: checks its input (and, with a token, that GitHub accepts it for the repository)
// before anything runs, writes each kept task as a JSON line as soon as it is kept (to --out, else standard
// output), and ends with a summary (to standard output with --out, else standard error; as JSON with --json).
import { appendFileSync, existsSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { SandboxOptions } from "../workspace/index.js";
import { EvalInputError, orInputError } from "./errors.js";
import { mineRepository, type MineReport } from "./mine.js";
import { formatTaskLine } from "./task-file.js";

export const MINE_USAGE = "aura eval mine <repo> [--limit N] [--since DATE] [--out FILE] [--json] [--github-token TOKEN] [--github-repo owner/name]";

export type CommandIo = {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** GITHUB_TOKEN from the environment (--github-token wins) and the REST API's URL (GHE_HOST or github.com). */
  github?: { token: string | undefined; apiUrl: string; retryUnitMs?: number };
};

type MineArgs = {
  repo: string;
  limit: number | undefined;
  since: Date | undefined;
  out: string | undefined;
  json: boolean;
  githubToken: string | undefined;
  githubRepo: string | undefined;
};

function parseMineArgs(args: string[]): MineArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        limit: { type: "string" },
        since: { type: "string" },
        out: { type: "string" },
        json: { type: "boolean" },
        "github-token": { type: "string" },
        "github-repo": { type: "string" },
      },
    });
  } catch (error) {
    throw new EvalInputError(`${error instanceof Error ? error.message : String(error)}. Usage: ${MINE_USAGE}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new EvalInputError(`Give one repository path. Usage: ${MINE_USAGE}`);
  const limit = values.limit === undefined ? undefined : /^[1-9]\d{0,5}$/.test(values.limit) ? Number(values.limit) : NaN;
  if (Number.isNaN(limit)) throw new EvalInputError(`--limit ${values.limit} is not a whole number of tasks from 1 to 999999; use e.g. --limit 20.`);
  let since: Date | undefined;
  if (values.since !== undefined) {
    since = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(values.since) ? new Date(values.since) : undefined;
    if (since === undefined || Number.isNaN(since.getTime())) {
      throw new EvalInputError(`--since ${values.since} is not a date; use an ISO date such as 2026-01-31 (or 2026-01-31T12:00:00Z).`);
    }
  }
  if (values.out !== undefined) {
    const dir = path.dirname(path.resolve(values.out));
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new EvalInputError(`--out ${values.out}: the folder ${dir} does not exist.`);
  }
  if (values["github-token"] !== undefined && values["github-token"].trim() === "")
    throw new EvalInputError("--github-token is empty; give a token, or leave it out (and GITHUB_TOKEN unset) to use commit messages.");
  return {
    repo: positionals[0] ?? "",
    limit,
    since,
    out: values.out,
    json: values.json === true,
    githubToken: values["github-token"],
    githubRepo: values["github-repo"],
  };
}

function reasonCounts(report: MineReport): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { reason } of report.rejected) {
    // One line per kind of reason: test names differ from commit to commit.
    const kind = reason.replace(/:.*$/, "");
    counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

function summaryText(report: MineReport, out: string | undefined): string {
  const lines = [
    `Examined ${report.examined} commits of ${report.repo} in ${(report.scanMs / 1000).toFixed(2)} s; ${report.candidates} change tests and source together.`,
    ...Object.entries(report.skipped)
      .filter(([, count]) => count > 0)
      .map(([reason, count]) => `  not a candidate, ${reason}: ${count}`),
    `Kept ${report.kept.length} task${report.kept.length === 1 ? "" : "s"}${out && report.kept.length > 0 ? ` in ${out}` : ""}; rejected ${report.rejected.length}` +
      (report.notTried > 0 ? `; ${report.notTried} not tried (${report.stopped === null ? "--limit reached" : "GitHub stopped answering"})` : "") +
      `. ${report.sandboxRuns} sandbox runs took ${(report.sandboxMs / 1000).toFixed(1)} s.`,
    ...report.rejected.map((rejection) => `  rejected ${rejection.sha.slice(0, 12)}: ${rejection.reason}`),
    report.github === null
      ? "Problem statements are the commit messages: no GitHub token was given (--github-token or GITHUB_TOKEN), so issue and pull request text was not fetched."
      : `Problem statements from GitHub (${report.github}): ${report.statements.issue} from issues, ${report.statements["pull request"]} from pull requests, ${report.statements["commit message"]} from commit messages (no merged pull request or issue found).`,
  ];
  if (report.stopped !== null) lines.push(report.stopped);
  if (report.kept.length === 0) lines.push("No task was kept, so nothing was written.");
  return `${lines.join("\n")}\n`;
}

/**
 * Runs `aura eval mine`; the exit code is 0 with tasks kept, 1 with none or when GitHub stopped answering midway
 * (the tasks kept until then are written), 2 for input it cannot use.
 */
export async function runMineCommand(args: string[], io: CommandIo, sandbox: SandboxOptions): Promise<number> {
  const say = (message: string) => io.err.write(`${message}\n`);
  const parsed = await orInputError(() => parseMineArgs(args), say);
  if (!parsed) return 2;
  const input = parsed.value;
  const token = input.githubToken ?? io.github?.token;
  if (token === undefined && input.githubRepo !== undefined) {
    say("--github-repo needs a GitHub token: give --github-token or set GITHUB_TOKEN. Nothing was run.");
    return 2;
  }
  let written = 0;
  const mined = await orInputError(
    () =>
      mineRepository({
        repoPath: input.repo,
        limit: input.limit,
        since: input.since,
        sandbox,
        github:
          token === undefined
            ? undefined
            : {
                token,
                repo: input.githubRepo,
                apiUrl: io.github?.apiUrl ?? "https://api.github.com",
                ...(io.github?.retryUnitMs !== undefined ? { retryUnitMs: io.github.retryUnitMs } : {}),
                onWait: (text) => io.err.write(`${text}\n`),
              },
        onProgress: (text) => io.err.write(`${text}\n`),
        onTask: (task) => {
          const line = formatTaskLine(task);
          if (input.out === undefined) io.out.write(line);
          else if (written === 0) writeFileSync(input.out, line);
          else appendFileSync(input.out, line);
          written++;
        },
      }),
    say,
  );
  if (!mined) return 2;
  const report = mined.value;
  const summaryTo = input.out === undefined ? io.err : io.out;
  const { kept, ...figures } = report;
  summaryTo.write(
    input.json
      ? `${JSON.stringify({ ...figures, kept: kept.map((task) => task.instance_id), rejectedByReason: reasonCounts(report), out: input.out ?? null })}\n`
      : summaryText(report, input.out),
  );
  return report.kept.length > 0 && report.stopped === null ? 0 : 1;
}
