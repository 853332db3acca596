// Governor benchmark: the default policy pack over a synthetic agent PR of 3,000 files and 100,000 changed lines,
// 30 timed evaluations after a warm-up, with heap used after GC. Target: <= 200 ms per evaluation.
// Run: node --expose-gc --import tsx bench/governor.ts   (or npx tsx bench/governor.ts, without the heap figures)
import { readFileSync } from "node:fs";
import { evaluate } from "../src/governor/evaluate.js";
import { loadPolicyPack } from "../src/governor/policy-pack.js";
import type { ChangedFile, PullContext } from "../src/governor/pull-context.js";

const FILES = 3_000;
const CHANGED_LINES = 100_000;
const REPETITIONS = 30;
const WARM_UP = 3;
const TARGET_MS = 200;

const pack = loadPolicyPack(readFileSync(new URL("../policies/policy-pack.yml", import.meta.url), "utf8"));

/** One file's patch: hunks of 3 context lines around runs of added and removed lines, like `git diff`. */
function syntheticPatch(fileIndex: number, changed: number, isTest: boolean): { patch: string; additions: number; deletions: number } {
  const lines: string[] = [];
  let additions = 0;
  let deletions = 0;
  let oldLine = 1;
  let newLine = 1;
  let remaining = changed;
  while (remaining > 0) {
    const added = Math.min(remaining, 8);
    const removed = Math.min(remaining - added, 2);
    remaining -= added + removed;
    const body: string[] = [];
    for (let c = 0; c < 3; c++) body.push(` const context${fileIndex}_${oldLine + c} = load("${fileIndex}/${c}");`);
    for (let r = 0; r < removed; r++) body.push(`-  const previous${r} = compute(${fileIndex}, ${oldLine + r}); // replaced`);
    for (let a = 0; a < added; a++) {
      body.push(
        isTest
          ? `+    expect(compute(${fileIndex}, ${newLine + a})).toBe(${(fileIndex * 31 + a) % 97});`
          : `+  const value${a} = compute(${fileIndex}, ${newLine + a}, "label-${(fileIndex + a) % 53}"); // step ${a}`,
      );
    }
    for (let c = 0; c < 3; c++) body.push(` }`);
    const oldCount = 6 + removed;
    const newCount = 6 + added;
    lines.push(`@@ -${oldLine},${oldCount} +${newLine},${newCount} @@ function block${oldLine}() {`, ...body);
    oldLine += oldCount + 10;
    newLine += newCount + 10;
    additions += added;
    deletions += removed;
  }
  return { patch: lines.join("\n"), additions, deletions };
}

function syntheticContext(): PullContext {
  const files: ChangedFile[] = [];
  const perFile = Math.floor(CHANGED_LINES / FILES);
  let extra = CHANGED_LINES - perFile * FILES;
  for (let i = 0; i < FILES; i++) {
    const isTest = i % 8 === 0;
    const changed = perFile + (extra-- > 0 ? 1 : 0);
    const filename = isTest ? `test/module-${i % 40}/unit-${i}.test.ts` : `src/module-${i % 40}/file-${i}.ts`;
    files.push({ filename, status: "modified", ...syntheticPatch(i, changed, isTest) });
  }
  const headSha = "b".repeat(40);
  return {
    pullNumber: 1,
    headSha,
    baseSha: "a".repeat(40),
    headRef: "aura/1-t1",
    author: "aura-orchestra[bot]",
    isAgentPr: true,
    labels: [],
    files,
    totalChangedFiles: FILES,
    diffSource: "api",
    commits: [{ sha: "c".repeat(40), authorLogin: "aura-orchestra[bot]", authorEmail: undefined, committerLogin: undefined, message: "m", trailers: {} }],
    totalCommits: 1,
    task: {
      taskId: "T-1",
      taskClass: "refactor",
      scopeGlobs: ["src/**", "test/**"],
      assignedEmployee: "gpt-4.1",
      branch: "aura/1-t1",
      recordedCommitShas: ["c".repeat(40)],
    },
    evidence: { headSha, state: "passed", counts: { passed: 900, failed: 0, skipped: 0 } },
    directors: ["octo-director"],
    overrides: [],
  };
}

const gc = (globalThis as { gc?: () => void }).gc;
function heapAfterGc(): number | undefined {
  if (!gc) return undefined;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
const mb = (bytes: number | undefined) => (bytes === undefined ? "n/a (run node with --expose-gc)" : `${(bytes / 1024 / 1024).toFixed(1)} MB`);

const ctx = syntheticContext();
const changed = ctx.files.reduce((sum, file) => sum + file.additions + file.deletions, 0);
const added = ctx.files.reduce((sum, file) => sum + file.additions, 0);

const heapBefore = heapAfterGc();
let last = await evaluate(pack, ctx);
for (let i = 1; i < WARM_UP; i++) last = await evaluate(pack, ctx);
const heapAfterWarmUp = heapAfterGc();

const times: number[] = [];
// CPU time of this process per evaluation: less sensitive than wall time to other work on a shared machine.
const cpuStart = process.cpuUsage();
for (let i = 0; i < REPETITIONS; i++) {
  const start = performance.now();
  last = await evaluate(pack, ctx);
  times.push(performance.now() - start);
}
const cpu = process.cpuUsage(cpuStart);
const cpuMs = (cpu.user + cpu.system) / 1000 / REPETITIONS;
const heapAfterRuns = heapAfterGc();

const sorted = [...times].sort((a, b) => a - b);
const percentile = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
const mean = times.reduce((sum, t) => sum + t, 0) / times.length;
const p95 = percentile(95);

const states = last.rules.map((rule) => `${rule.ruleId}=${rule.state}`).join(", ");
console.log(
  [
    "Governor benchmark (default policy pack)",
    `  node ${process.version}, ${process.platform}/${process.arch}`,
    `  synthetic agent PR: ${ctx.files.length} files, ${changed} changed lines (${added} added, scanned as one buffer)`,
    `  evaluations: ${REPETITIONS} timed after ${WARM_UP} warm-up`,
    `  mean ${mean.toFixed(1)} ms · p50 ${percentile(50).toFixed(1)} ms · p95 ${p95.toFixed(1)} ms · min ${sorted[0]?.toFixed(1)} ms · max ${sorted.at(-1)?.toFixed(1)} ms`,
    `  CPU time per evaluation (user + system, all threads): ${cpuMs.toFixed(1)} ms`,
    `  heap used after GC: before ${mb(heapBefore)} · after warm-up ${mb(heapAfterWarmUp)} · after ${REPETITIONS} runs ${mb(heapAfterRuns)}`,
    `  verdict: ${last.conclusion} (${states})`,
    `  target <= ${TARGET_MS} ms per evaluation (mean): ${mean <= TARGET_MS ? "met" : "NOT met"}; p95 ${p95 <= TARGET_MS ? "within" : "above"} target`,
  ].join("\n"),
);
