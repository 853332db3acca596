// Soak benchmark (issue 17): three app processes (`src/main.ts`) on one PostgreSQL (embedded, or a fresh database
// on DATABASE_URL's server) behind the fake GitHub edge on loopback, 200 requirements with a zero-latency model,
// one process killed with SIGKILL every 20 s and started again, 3 % of GitHub requests answered 502 and 3 % with
// a secondary rate limit. Reports requirements per hour, GitHub reads and content-creating writes per
// requirement, database work per requirement, and the checks (no duplicate PR, comment or review; no
// requirement lost or stuck; the audit chain verifies; every budget reservation settled). Exits 1 when a check
// fails. The CI version is test/soak/soak.test.ts (the same runSoak, smaller).
//
// npm run bench:soak -- [--requirements 200] [--kill-every 20] [--processes 3] [--share-502 0.03]
//                       [--share-secondary 0.03] [--share-502-after-apply 0] [--timeout-minutes 60] [--json]
// --share-502-after-apply: a share of writes applied by the edge and then answered 502 (a retry repeats them).
import { parseArgs } from "node:util";
import { benchDatabase, machine } from "./database.js";
import { runSoak } from "./soak/run.js";

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      requirements: { type: "string", default: "200" },
      "kill-every": { type: "string", default: "20" },
      processes: { type: "string", default: "3" },
      "share-502": { type: "string", default: "0.03" },
      "share-secondary": { type: "string", default: "0.03" },
      "share-502-after-apply": { type: "string", default: "0" },
      "timeout-minutes": { type: "string", default: "60" },
      json: { type: "boolean", default: false },
    },
  });
  const db = await benchDatabase();
  try {
    process.stderr.write(`soak on ${machine()}\n`);
    const report = await runSoak({
      databaseUrl: db.url,
      requirements: Number(values.requirements),
      processes: Number(values.processes),
      killEveryMs: Number(values["kill-every"]) * 1000,
      faults: {
        share502: Number(values["share-502"]),
        shareSecondary: Number(values["share-secondary"]),
        share502AfterApply: Number(values["share-502-after-apply"]),
      },
      timeoutMs: Number(values["timeout-minutes"]) * 60_000,
      idleSampleMs: 15_000,
      progress: (line) => process.stderr.write(`soak: ${line}\n`),
    });
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    if (!values.json) {
      const { github, checks } = report;
      process.stdout.write(
        [
          `${report.done} of ${report.requirements} requirements done in ${report.seconds} s by ${report.processes} processes (${report.kills} SIGKILLs): ${report.requirementsPerHour} requirements per hour`,
          `GitHub per requirement: ${github.readsPerRequirement} reads, ${github.writesPerRequirement} content-creating writes (${github.faulted502} answered 502, ${github.faultedSecondary} secondary limits, ${github.faulted502AfterApply} applied then answered 502)`,
          `database per requirement (idle work taken out): ${report.database.perRequirement.commits} commits, ${report.database.perRequirement.rowsWritten} rows written, ${report.database.perRequirement.blocksHit} blocks hit, ${report.database.perRequirement.blocksRead} read; idle: ${report.database.idlePerSecond.commits} commits/s`,
          `checks: ${checks.duplicates.length} duplicates, ${checks.lost.length} lost, ${checks.stuck.length} stuck, audit ${checks.audit.ok ? "verifies" : "FAILS"} (${checks.audit.events} events), reservations ${JSON.stringify(checks.reservations)}`,
          report.ok ? "OK" : "FAILED",
          "",
        ].join("\n"),
      );
    }
    return report.ok ? 0 : 1;
  } finally {
    await db.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench:soak failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(2);
  },
);
