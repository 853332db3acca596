// The command line of `aura eval mine <repo> [--limit N] [--since DATE] [--out FILE] [--json]`: checks its input
// before anything runs, writes each kept task as a JSON line as soon as it is kept (to --out, else standard
// output), and ends with a summary (to standard output with --out, else standard error; as JSON with --json).
import { appendFileSync, existsSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { SandboxOptions } from "../workspace/index.js";
import { EvalInputError, orInputError } from "./errors.js";
import { mineRepository, type MineReport } from "./mine.js";
import { formatTaskLine } from "./task-file.js";

export const MINE_USAGE = "aura eval mine <repo> [--limit N] [--since DATE] [--out FILE] [--json]";

export type CommandIo = { out: NodeJS.WritableStream; err: NodeJS.WritableStream };

type MineArgs = { repo: string; limit: number | undefined; since: Date | undefined; out: string | undefined; json: boolean };

function parseMineArgs(args: string[]): MineArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { limit: { type: "string" }, since: { type: "string" }, out: { type: "string" }, json: { type: "boolean" } },
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
  return { repo: positionals[0] ?? "", limit, since, out: values.out, json: values.json === true };
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
      (report.notTried > 0 ? `; ${report.notTried} not tried (--limit reached)` : "") +
      `. ${report.sandboxRuns} sandbox runs took ${(report.sandboxMs / 1000).toFixed(1)} s.`,
    ...report.rejected.map((rejection) => `  rejected ${rejection.sha.slice(0, 12)}: ${rejection.reason}`),
    "Problem statements are the commit messages (issue and pull request text is not fetched).",
  ];
  if (report.kept.length === 0) lines.push("No task was kept, so nothing was written.");
  return `${lines.join("\n")}\n`;
}

/** Runs `aura eval mine`; the exit code is 0 with tasks kept, 1 with none, 2 for input it cannot use. */
export async function runMineCommand(args: string[], io: CommandIo, sandbox: SandboxOptions): Promise<number> {
  const say = (message: string) => io.err.write(`${message}\n`);
  const parsed = await orInputError(() => parseMineArgs(args), say);
  if (!parsed) return 2;
  const input = parsed.value;
  let written = 0;
  const mined = await orInputError(
    () =>
      mineRepository({
        repoPath: input.repo,
        limit: input.limit,
        since: input.since,
        sandbox,
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
  return report.kept.length > 0 ? 0 : 1;
}
