// The Auditor's own test run on one exact commit: a fresh detached checkout, the repository's setup and test
// commands (from .github/aura.yml on the base branch, else the npm defaults) in a fresh sandbox. It trusts no
// one's earlier run; what it could not do is reported as a problem, never as a pass. A sandbox that fails to
// start is an infrastructure failure, never a test result: it propagates and the audit job runs again.
import type { RepoConfig } from "../config/repo-config.js";
import type { Services } from "../services.js";
import { defaultRepoCommands, runInSandbox, SandboxUnavailableError, type SandboxResult } from "../workspace/index.js";
import { withDetachedCheckouts, type CommitSource } from "../workspace/commit-checkout.js";
import type { RunSummary } from "./evidence-store.js";

const LOG_TAIL_LINES = 30;

function tail(log: string): string {
  return log.trimEnd().split("\n").slice(-LOG_TAIL_LINES).join("\n");
}

function summary(result: SandboxResult, problem?: string): RunSummary {
  const counts = result.testCounts;
  return {
    command: result.command,
    exitCode: result.exitCode,
    timedOut: result.timedOut,
    sandbox: result.sandbox,
    mode: result.mode,
    limitsHeld: result.limits.held.join(", "),
    limitsMissing: result.limits.missing.join("; "),
    limitsAccepted: result.limits.accepted.join("; "),
    counts: counts ? { passed: counts.passed, failed: counts.failed, skipped: counts.skipped, total: counts.total, runner: counts.runner } : undefined,
    logSha256: result.logSha256,
    durationMs: result.durationMs,
    problem,
    logTail: tail(result.log),
  };
}

function notRun(command: string | null, problem: string): RunSummary {
  return { command, exitCode: null, timedOut: false, sandbox: null, counts: undefined, logSha256: null, durationMs: 0, problem, logTail: "" };
}

/**
 * Setup then tests on each of `shas`, in that order, in one work tree reset to each commit in turn (see
 * withDetachedCheckouts: name the base before the head, so only the repository's own code runs before the work
 * under audit); a summary per commit says what ran, where, and what came out.
 */
export async function runTestsAt(
  services: Pick<Services, "workspace" | "sandbox">,
  source: CommitSource,
  shas: readonly string[],
  config: Pick<RepoConfig, "setup" | "test">,
): Promise<RunSummary[]> {
  return withDetachedCheckouts(services.workspace, { ...source, shas }, async (tree) => {
    try {
      return await runIn(services, tree, config);
    } catch (error) {
      // A sandbox that could not start (SandboxStartError) is not a result: it fails the job, which is retried.
      if (error instanceof SandboxUnavailableError) {
        return notRun(config.test, `the sandbox is unavailable (${error.message}); the tests were not run`);
      }
      throw error;
    }
  });
}

async function runIn(services: Pick<Services, "sandbox">, tree: string, config: Pick<RepoConfig, "setup" | "test">): Promise<RunSummary> {
  const defaults = await defaultRepoCommands(tree);
  const setup = config.setup ?? defaults.setup ?? null;
  const test = config.test ?? defaults.test ?? null;
  if (test === null) return notRun(null, "no test command: set `test:` in .github/aura.yml on the base branch");
  const sandbox = { ...services.sandbox };
  if (setup !== null) {
    const prepared = await runInSandbox(sandbox, { command: setup, cwd: tree, phase: "setup" });
    if (prepared.exitCode !== 0 || prepared.timedOut) {
      const offline = sandbox.allowSetupNetwork
        ? ""
        : " (setup runs without network; AURA_SETUP_NETWORK=true lets setup reach the registry hosts in AURA_SETUP_REGISTRY_HOSTS through the allow-list proxy)";
      return summary(
        prepared,
        `setup \`${setup}\` ${prepared.timedOut ? "timed out" : `exited with ${String(prepared.exitCode)}`}${offline}; the tests did not run`,
      );
    }
  }
  return summary(await runInSandbox(sandbox, { command: test, cwd: tree, phase: "test" }));
}

/** The run passed: tests ran to the end, exited 0, and no summary reported a failure. */
export function runPassed(run: RunSummary): boolean {
  return run.problem === undefined && !run.timedOut && run.exitCode === 0 && (run.counts?.failed ?? 0) === 0;
}

/**
 * The head runs or passes fewer tests than its base commit: deleted or disabled tests are not a pass,
 * whatever the exit code says (issue 7 item 14). Unknown counts on either side decide nothing.
 */
export function fewerTestsThanBase(head: RunSummary, base: RunSummary | undefined | null): boolean {
  if (!base?.counts || !head.counts) return false;
  return head.counts.total < base.counts.total || head.counts.passed < base.counts.passed;
}
