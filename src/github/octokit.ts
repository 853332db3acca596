// GitHub access for workers: one installation client per installation, cached so that Octokit's
// throttling plugin serialises that installation's writes, with the retry plugin for 5xx, both rate
// limits honoured (retry-after), and the no-merge guard installed on every client.
import { createAppAuth } from "@octokit/auth-app";
import type { Logger } from "pino";
import { ProbotOctokit } from "probot";
import { installGuard } from "./guard.js";

export type InstallationOctokit = InstanceType<typeof ProbotOctokit>;

export type GitHubAccess = {
  forInstallation: (installationId: number) => InstallationOctokit;
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
}): GitHubAccess {
  const clients = new Map<number, InstallationOctokit>();
  const retries = options.rateLimitRetries ?? 2;
  const log = options.log.child({ component: "github" });
  return {
    forInstallation(installationId) {
      const cached = clients.get(installationId);
      if (cached) return cached;
      const octokit = new ProbotOctokit({
        authStrategy: createAppAuth,
        auth: { appId: options.appId, privateKey: options.privateKey, installationId },
        baseUrl: options.baseUrl,
        log,
        throttle: {
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
      clients.set(installationId, octokit);
      return octokit;
    },
  };
}
