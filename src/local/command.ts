// `aura run <path> "<requirement>" [--employee ID] [--plan-only] [--json]`: parses the arguments, runs local mode,
// and turns a refused input into its one message and exit code 2 (nothing was started or changed).
import { parseArgs } from "node:util";
import { ConfigError } from "../config/env.js";
import { LocalRunInputError, runLocal, type LocalRunOptions } from "./run.js";

export const RUN_USAGE = `  run <path> "<requirement>" [--employee ID] [--plan-only] [--json]
                                        run the whole company on a local git repository, without GitHub:
                                        plan, routing, the employee in the sandbox, the Governor's verdict and
                                        the Auditor's test run; leaves an aura/… branch there and prints a
                                        report (see docs/local-mode.md)
`;

export async function runCommand(
  args: string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream; env: NodeJS.ProcessEnv },
  extra: Pick<LocalRunOptions, "timeoutMs" | "modelOverride"> = {},
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: { employee: { type: "string" }, "plan-only": { type: "boolean" }, json: { type: "boolean" } },
    });
  } catch (error) {
    io.stderr.write(`aura run: ${error instanceof Error ? error.message : String(error)}\nUsage:\n${RUN_USAGE}`);
    return 2;
  }
  const [repoPath, requirement, ...extraArgs] = parsed.positionals;
  if (repoPath === undefined || requirement === undefined || extraArgs.length > 0) {
    io.stderr.write(`aura run needs a repository path and the requirement text (quoted).\nUsage:\n${RUN_USAGE}`);
    return 2;
  }
  try {
    return await runLocal({
      repoPath,
      requirement,
      employee: parsed.values.employee,
      planOnly: parsed.values["plan-only"] === true,
      json: parsed.values.json === true,
      env: io.env,
      stdout: io.stdout,
      stderr: io.stderr,
      ...extra,
    });
  } catch (error) {
    if (error instanceof LocalRunInputError || error instanceof ConfigError) {
      io.stderr.write(`aura run: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
