// GitHub access for workers: one installation client per installation, cached so that Octokit's
// throttling plugin serialises that installation's writes, with the retry plugin for 5xx, both rate
// limits honoured (retry-after), the no-merge guard and the invisible-character cleaner installed on every client.
// With a shared pacer (write-pacer.ts), every write also waits for its slot from the database, so all processes
// together keep each installation under GitHub's secondary write limits.
import { createAppAuth } from "@octokit/auth-app";
import Bottleneck from "bottleneck";
import type { Logger } from "pino";
import { ProbotOctokit } from "probot";
import { traceGitHubRequests } from "../observability/observe.js";
import { useImmediateYields } from "./bottleneck-yield.js";
import { installGuard } from "./guard.js";
import { installTextCleaner } from "./text-cleaner.js";
import type { WritePacer } from "./write-pacer.js";

export type InstallationOctokit = InstanceType<typeof ProbotOctokit>;

export type GitHubAccess = {
  forInstallation: (installationId: number) => InstallationOctokit;
  /** The app itself (JWT): app-level endpoints such as its webhook deliveries. */
  forApp?: () => InstallationOctokit;
  /** The app's own login (`<slug>[bot]`), to ignore its own comments and recognise its own statuses. */
  appLogin?: string;
};

export function createGitHubAccess(options: {
  appId: number;
  privateKey: string;
  baseUrl: string;
  log: Logger;
  /** Maximum retries after a rate limit (primary or secondary) before the request fails. */
  rateLimitRetries?: number;
  /**
   * Pause between two content-creating requests of one installation. GitHub asks for at least a second to
   * stay clear of secondary rate limits; tests and benchmarks against a fake GitHub may lower it.
   */
  writeIntervalMs?: number;
  /** Unit of the wait before a retry (Retry-After seconds, or the retry plugin's backoff); tests shorten it. */
  retryUnitMs?: number;
  /** The pacer shared by every process on the database; without it writes are paced within this process only. */
  pacer?: WritePacer;
}): GitHubAccess {
  useImmediateYields();
  const clients = new Map<number, InstallationOctokit>();
  // One write limiter for the app; the throttling plugin keys it by installation (the client `id`), so
  // each installation's writes are serialised and paced without holding up the others.
  const writeIntervalMs = options.writeIntervalMs ?? 1_000;
  const write = new Bottleneck.Group({ maxConcurrent: 1, minTime: writeIntervalMs });
  // Writes that notify people (comments, issues, pull requests, reviews) are spaced three write intervals apart:
  // GitHub's 3 s with the default interval, the plugin's own figure. The group is this access's own, not the
  // plugin's process-wide default, and follows AURA_GITHUB_WRITE_INTERVAL_MS, so a run against a fake GitHub (0)
  // is not held 3 s before each pull request and review (it was ~1.2 s of every eval attempt).
  const notifications = new Bottleneck.Group({ maxConcurrent: 1, minTime: 3 * writeIntervalMs });
  const retries = options.rateLimitRetries ?? 2;
  const log = options.log.child({ component: "github" });
  // Installation 0 stands for the app itself (JWT authentication, app-level endpoints).
  const client = (installationId: number): InstallationOctokit => {
    const cached = clients.get(installationId);
    if (cached) return cached;
    const octokit = new ProbotOctokit({
      authStrategy: createAppAuth,
      auth: { appId: options.appId, privateKey: options.privateKey, ...(installationId > 0 ? { installationId } : {}) },
      baseUrl: options.baseUrl,
      log,
      retry: { retryAfterBaseValue: options.retryUnitMs ?? 1_000 },
      throttle: {
        id: `installation-${installationId}`,
        write: options.pacer ? pacedWriteGroup(write, options.pacer, installationId) : write,
        notifications,
        retryAfterBaseValue: options.retryUnitMs ?? 1_000,
        onRateLimit: (retryAfter: number, request: { method: string; url: string; request: { retryCount: number } }) => {
          log.warn({ retryAfter, method: request.method, url: request.url }, "GitHub rate limit reached");
          return request.request.retryCount < retries;
        },
        onSecondaryRateLimit: (retryAfter: number, request: { method: string; url: string; request: { retryCount: number } }) => {
          log.warn({ retryAfter, method: request.method, url: request.url }, "GitHub secondary rate limit reached");
          return request.request.retryCount < retries;
        },
      },
    });
    installGuard(octokit);
    installTextCleaner(octokit, log);
    traceGitHubRequests(octokit);
    clients.set(installationId, octokit);
    return octokit;
  };
  return { forInstallation: client, forApp: () => client(0) };
}

/**
 * The throttling plugin's `write` group with the shared pacer behind it. Before every request it counts as a
 * write (POST, PATCH, PUT, DELETE other than token requests, and every GraphQL request, queries included: it
 * cannot tell them apart, and counting a query is only cautious), and before each retry of one, the plugin
 * awaits `write.key(id).schedule(options, task)`; that is the whole of its use of the group, so only that is
 * implemented. The process's own group (maxConcurrent 1, the write interval) runs the slot-taking as its job:
 * a process waits for one slot of an installation at a time, so one killed while writes were queued spends at
 * most that slot. Reads never pass through here.
 */
function pacedWriteGroup(local: Bottleneck.Group, pacer: WritePacer, installationId: number): Bottleneck.Group {
  const group = {
    key: (id = "") => ({
      schedule: async <T>(jobOptions: Bottleneck.JobOptions, task: () => PromiseLike<T>): Promise<T> => {
        await local.key(id).schedule(jobOptions, () => pacer.take(installationId));
        return task();
      },
    }),
  };
  // The plugin's option is typed as a whole Bottleneck.Group; it calls only key(id).schedule (see above).
  return group as unknown as Bottleneck.Group;
}
