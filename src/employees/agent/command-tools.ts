// The agent's commands: run_command runs one shell command, run_tests the repository's setup and test
// commands. Every call is a new sandboxed process (runInSandbox), so nothing of the shell (cwd, exports,
// variables, /tmp) carries over between steps, as in mini-swe-agent. Commands run in the test phase: no
// network, the task's limits, a per-command timeout. Setup runs in the setup phase, as in the app's own run.
import { runInSandbox, type RepoCommands, type SandboxOptions, type SandboxResult, type SandboxRunInput } from "../../workspace/index.js";
import { cutMiddle } from "./observation.js";
import type { Step } from "./tree-read.js";

/** The task's per-run sandbox limits (memory, processes, tmpfs, work-tree growth). */
export type RunLimits = Pick<SandboxRunInput, "memoryMb" | "maxProcesses" | "tmpfsMb" | "workspaceMb">;

export type CommandContext = {
  root: string;
  sandbox: SandboxOptions;
  run: RunLimits;
  commandTimeoutMs: number;
  testTimeoutMs: number;
  observationBytes: number;
};

/** Output a test run keeps for its result (its summary is near the end); the model sees `observationBytes` of it. */
const TEST_LOG_BYTES = 256 * 1024;

export async function runCommandTool(context: CommandContext, command: string): Promise<Step> {
  const result = await runInSandbox(context.sandbox, {
    ...context.run,
    command,
    cwd: context.root,
    phase: "test",
    timeoutMs: context.commandTimeoutMs,
    // The sandbox keeps head and tail itself, so a flood of output never sits in memory.
    maxOutputBytes: context.observationBytes,
  });
  return {
    status: result.timedOut ? "error" : "ok",
    observation: describeResult(result, context.observationBytes),
    ...(result.exitCode === null ? {} : { exitCode: result.exitCode }),
    timedOut: result.timedOut,
  };
}

/**
 * Setup, then the tests, like the app's own check; setup runs again only until it has passed once, or after
 * an edit changed a dependency manifest (`setupStale`).
 */
export async function runTestsTool(context: CommandContext, commands: RepoCommands, setupNeeded: boolean): Promise<Step & { setupPassed: boolean }> {
  const input = { ...context.run, cwd: context.root, maxOutputBytes: TEST_LOG_BYTES };
  const parts: string[] = [];
  if (commands.setup && setupNeeded) {
    const setup = await runInSandbox(context.sandbox, { ...input, command: commands.setup, phase: "setup", timeoutMs: context.testTimeoutMs });
    if (setup.exitCode !== 0 || setup.timedOut) {
      return {
        status: "error",
        observation: `The setup command failed, so the tests did not run.\n${describeResult(setup, context.observationBytes)}`,
        ...(setup.exitCode === null ? {} : { exitCode: setup.exitCode }),
        timedOut: setup.timedOut,
        setupPassed: false,
      };
    }
    parts.push(`Setup (${setup.command}) passed.`);
  }
  if (!commands.test) {
    return { status: "ok", observation: [...parts, "This repository has no test command; check your change with run_command."].join("\n"), setupPassed: true };
  }
  const test = await runInSandbox(context.sandbox, { ...input, command: commands.test, phase: "test", timeoutMs: context.testTimeoutMs });
  const passed = test.exitCode === 0 && !test.timedOut;
  const counts = test.testCounts ? `; ${test.testCounts.passed} passed, ${test.testCounts.failed} failed` : "";
  parts.push(`Tests ${passed ? "passed" : "FAILED"}${counts}.`, describeResult(test, context.observationBytes));
  return {
    status: "ok",
    observation: parts.join("\n"),
    ...(test.exitCode === null ? {} : { exitCode: test.exitCode }),
    timedOut: test.timedOut,
    test,
    setupPassed: true,
  };
}

/** Exit code, timeout, memory and the output cut to the budget, in that order. */
export function describeResult(result: SandboxResult, budget: number): string {
  const lines = [`$ ${result.command}`];
  if (result.timedOut) {
    lines.push(
      `Timed out: stopped after ${Math.round(result.limits.timeoutMs / 1000)} s. Run something shorter, or narrow it (one test file, a smaller input).`,
    );
  } else if (result.exitCode === null) {
    lines.push(`Killed by signal ${result.signal ?? "unknown"}.`);
  } else {
    lines.push(`Exit code: ${result.exitCode}.`);
  }
  if (result.memoryExceeded) lines.push(`The memory limit (${result.limits.memoryMb ?? "?"} MiB) was reached and a process was killed.`);
  const cut = cutMiddle(result.log, budget);
  if (result.logBytes === 0) {
    lines.push("(no output)");
  } else {
    const shownNote = result.logTruncated || cut.cutBytes > 0 ? `, ${result.logBytes} bytes in all: the start and the end are shown` : "";
    lines.push(`Output (stdout and stderr${shownNote}):`, cut.text);
  }
  return lines.join("\n");
}
