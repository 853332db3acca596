// Memory, process, file-size and core-dump limits for sandboxed commands, and the startup check of which
// mechanism actually applies them here. Without a working mechanism the sandbox fails closed: commands are
// refused unless the operator allowed unsandboxed runs, and the mode then says "(no resource limits)".
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { SandboxUnavailableError } from "./errors.js";

/** How limits are applied: util-linux `prlimit` around the sandbox, or not at all. */
export type LimitMechanism = "prlimit" | "none";

export type LimitProbe = { mechanism: "prlimit"; path: string } | { mechanism: "none"; reason: string };

export const LIMIT_DEFAULTS = { maxFileMb: 1024 } as const;

const PRLIMIT_CANDIDATES = ["/usr/bin/prlimit", "/bin/prlimit"];

function prlimitArgs(path: string, memoryMb: number, maxProcesses: number): string[] {
  return [
    path,
    `--as=${memoryMb * 1024 * 1024}`,
    `--nproc=${maxProcesses}`,
    `--fsize=${LIMIT_DEFAULTS.maxFileMb * 1024 * 1024}`,
    "--core=0",
    "--",
  ];
}

let cached: LimitProbe | undefined;

/**
 * Which limit mechanism works on this host (checked once per process): prlimit must exist AND set the
 * limits on a real child (a seccomp profile or an old util-linux can make it fail).
 */
export function probeLimits(): LimitProbe {
  if (cached) return cached;
  const path = PRLIMIT_CANDIDATES.find((candidate) => existsSync(candidate));
  if (!path) {
    cached = { mechanism: "none", reason: "prlimit (util-linux) is not installed" };
    return cached;
  }
  const [file = path, ...args] = prlimitArgs(path, 1024, 256);
  const result = spawnSync(file, [...args, "/bin/true"], { timeout: 10_000, encoding: "utf8", env: {} });
  cached =
    result.status === 0
      ? { mechanism: "prlimit", path }
      : { mechanism: "none", reason: `${path} failed: ${(result.stderr || result.error?.message || `exit ${result.status}`).trim()}` };
  return cached;
}

/** The argv prefix that applies the limits to the command after it (empty when there is no mechanism). */
export function limitPrefix(probe: LimitProbe, memoryMb: number, maxProcesses: number): string[] {
  return probe.mechanism === "prlimit" ? prlimitArgs(probe.path, memoryMb, maxProcesses) : [];
}

/** The sandbox starts, but nothing would bound its memory or process count: refused like no sandbox. */
export class SandboxLimitsUnavailableError extends SandboxUnavailableError {
  override name = "SandboxLimitsUnavailableError";
  constructor(reason: string) {
    super(`no resource-limit mechanism works: ${reason}`);
    this.message =
      `No memory or process limits can be applied here (${reason}); refusing to run repository commands. ` +
      "Install util-linux (prlimit), or set AURA_ALLOW_UNSANDBOXED=true to run them without limits (every PR will say so)";
  }
}
