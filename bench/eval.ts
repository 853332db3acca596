// Eval mining benchmark: a synthetic repository of 2,000 first-parent commits (built with `git fast-import` in
// well under a second) holding a tiny node:test project, where every 100th commit changes a source file and its
// test together (20 candidates) and the rest change source alone or documentation. Reported apart:
// 1. the history pass: commits examined per second before any sandbox run (median of 9 passes);
// 2. the sandbox runs: `aura eval mine --limit 3` end to end, its sandbox runs and their time.
// Target: examining >= 500 commits/s. Run: npm run bench:eval (tsx bench/eval.ts).
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { scanHistory } from "../src/eval/history.js";
import { mineRepository } from "../src/eval/mine.js";
import { openRepository } from "../src/eval/repository.js";
import { probeBwrap } from "../src/workspace/sandbox.js";
import { hermeticGitEnv } from "../test/workspace/git-fixture.js";
import { machine } from "./database.js";

const COMMITS = 2_000;
const EVERY = 100;
const PASSES = 9;
const TARGET = 500;

function blob(file: string, content: string): string {
  return `M 100644 inline ${file}\ndata ${Buffer.byteLength(content)}\n${content}\n`;
}

/** A fast-import stream of the synthetic history, oldest first. */
function history(): string {
  const parts: string[] = [];
  for (let i = 1; i <= COMMITS; i++) {
    const message = i % EVERY === 0 ? `Fix feature ${i}` : i % 7 === 0 ? `Document ${i}` : `Change module ${i}`;
    parts.push(`commit refs/heads/main\ncommitter Bench <bench@example.com> ${1_700_000_000 + i * 60} +0000\ndata ${Buffer.byteLength(message)}\n${message}\n`);
    if (i === 1) {
      parts.push(blob(".github/aura.yml", "test: node --test\n"), blob("package.json", "{}\n"));
      parts.push(blob("test/base.test.js", 'require("node:test")("base", () => {});\n'));
    }
    if (i % EVERY === 0) {
      const feature = `src/feature-${i}.js`;
      parts.push(blob(feature, `exports.value = () => ${i};\n`));
      parts.push(
        blob(
          `test/feature-${i}.test.js`,
          `const assert = require("node:assert");\nrequire("node:test")("feature ${i}", () => assert.equal(require("../${feature}").value(), ${i}));\n`,
        ),
      );
    } else if (i % 7 === 0) {
      parts.push(blob(`docs/page-${i % 40}.md`, `# Page ${i}\n`));
    } else {
      parts.push(blob(`src/module-${i % 50}.js`, `exports.v = ${i};\n`));
    }
  }
  return parts.join("");
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const temp = mkdtempSync(path.join(os.tmpdir(), "aura-bench-eval-"));
  chmodSync(temp, 0o711);
  try {
    const repo = path.join(temp, "synthetic");
    const built = performance.now();
    execFileSync("git", ["init", "--quiet", "--initial-branch=main", repo], { env: hermeticGitEnv });
    execFileSync("git", ["fast-import", "--quiet"], { cwd: repo, env: hermeticGitEnv, input: history() });
    execFileSync("git", ["reset", "--quiet", "--hard", "main"], { cwd: repo, env: hermeticGitEnv });
    process.stdout.write(`machine: ${machine()}\nbuilt ${COMMITS} commits with git fast-import in ${((performance.now() - built) / 1000).toFixed(2)} s\n`);

    const opened = await openRepository(repo);
    const rates: number[] = [];
    let candidates = 0;
    for (let pass = 0; pass < PASSES; pass++) {
      const started = performance.now();
      const scan = await scanHistory(opened.target);
      const seconds = (performance.now() - started) / 1000;
      rates.push(scan.examined / seconds);
      candidates = scan.candidates.length;
    }
    const rate = median(rates);
    process.stdout.write(
      `history pass, ${COMMITS} commits: median of ${PASSES} ${Math.round(rate).toLocaleString("en")} commits/s ` +
        `(min ${Math.round(Math.min(...rates)).toLocaleString("en")}, max ${Math.round(Math.max(...rates)).toLocaleString("en")}); ${candidates} candidates; ` +
        `target >= ${TARGET}: ${rate >= TARGET ? "met" : "NOT met"}\n`,
    );

    const probe = probeBwrap();
    if (!probe.ok) {
      process.stdout.write(`sandbox runs skipped: bubblewrap does not work here (${probe.error})\n`);
      return;
    }
    const report = await mineRepository({ repoPath: repo, limit: 3, sandbox: { allowUnsandboxed: false } });
    process.stdout.write(
      `aura eval mine --limit 3: examined ${report.examined} in ${(report.scanMs / 1000).toFixed(3)} s; kept ${report.kept.length}, rejected ${report.rejected.length}; ` +
        `${report.sandboxRuns} sandbox runs in ${(report.sandboxMs / 1000).toFixed(2)} s (${(report.sandboxMs / report.sandboxRuns / 1000).toFixed(2)} s per run)\n`,
    );
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}

await main();
