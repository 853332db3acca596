// `npm run bench`: every benchmark in turn, each in its own process so one cannot warm up or slow down the
// next. Name some to run only those: `npm run bench -- audit governor`.
import { spawnSync } from "node:child_process";

const all = ["audit", "governor", "intake", "task", "agent", "routing", "eval", "console", "soak"];
const chosen = process.argv.slice(2).filter((name) => all.includes(name));
let failed = 0;
for (const name of chosen.length > 0 ? chosen : all) {
  process.stdout.write(`\n=== bench:${name} ===\n`);
  const result = spawnSync("npm", ["run", "--silent", `bench:${name}`], { stdio: "inherit" });
  if (result.status !== 0) {
    failed += 1;
    process.stdout.write(`bench:${name} failed with exit code ${result.status}\n`);
  }
}
process.exit(failed === 0 ? 0 : 1);
