// Local mode as a function for other commands (`aura eval run`): runs `aura run` for one requirement exactly as
// the command line does (runLocal, the same code paths) and returns its report instead of printing it. The report
// is runLocal's own `--json` output, read back; progress still goes to `stderr`.
import { Writable } from "node:stream";
import type { LocalReport } from "./report.js";
import { runLocal, type LocalRunOptions } from "./run.js";

export type LocalRunRequest = Omit<LocalRunOptions, "json" | "stdout" | "planOnly">;

/** Runs local mode on `request.repoPath` and returns the report (outcome "passed" or "not-passed"). */
export async function runLocalReport(request: LocalRunRequest): Promise<LocalReport> {
  const chunks: Buffer[] = [];
  const stdout = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      done();
    },
  });
  await runLocal({ ...request, json: true, stdout });
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as LocalReport;
}
