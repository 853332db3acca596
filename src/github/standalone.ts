// GitHub access for short-lived commands (the `aura` CLI): a plain @octokit/rest client per installation,
// authenticated as the app. The server's clients (octokit.ts) add what a long-running writer needs — write pacing
// per installation, rate-limit retries, the no-merge guard, the text cleaner; a command that only reads has no
// use for them, and needs no Probot.
import { createAppAuth } from "@octokit/auth-app";
import { Octokit } from "@octokit/rest";

/** One client per installation, made on first use. */
export type InstallationClients = (installationId: number) => Octokit;

export function standaloneInstallationClients(options: { appId: number; privateKey: string; baseUrl: string }): InstallationClients {
  const clients = new Map<number, Octokit>();
  return (installationId) => {
    let client = clients.get(installationId);
    if (!client) {
      client = new Octokit({
        authStrategy: createAppAuth,
        auth: { appId: options.appId, privateKey: options.privateKey, installationId },
        baseUrl: options.baseUrl,
        userAgent: "aura-orchestra-cli",
      });
      clients.set(installationId, client);
    }
    return client;
  };
}
