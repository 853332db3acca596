// The `installation.sync` job: records installations, creates the requirement label in each repository the app
// is installed on (an existing label is fine), and on uninstall marks the installation removed and stops its
// queued jobs; repositories removed from the installation have their unfinished requirements cancelled. Like
// intake, it applies every unprocessed installation delivery in order, so collapsing loses nothing.
import type { JobHelpers } from "graphile-worker";
import { z } from "zod";
import { appendEvents } from "../audit/append.js";
import { RepoConfig } from "../config/repo-config.js";
import { readRepoConfig } from "../github/repo-config-reader.js";
import type { Services } from "../services.js";
import { loadUnprocessedInstallationDeliveries, setDeliveryProcessed } from "./delivery-store.js";
import { markInstallationRemoved, recordInstallationPresent, stopInstallationJobs } from "./installation-store.js";
import { cancelRequirement } from "./lifecycle.js";
import { loadUnfinishedRequirements } from "./requirement-store.js";
import { inTransaction } from "../core/transitions.js";

export const INSTALLATION_TASK = "installation.sync" as const;

export const installationJobKey = (installationId: number) => `installation:${installationId}`;

export const InstallationPayload = z.object({ installationId: z.number().int().positive(), deliveryId: z.string().optional() });

const Repository = z.looseObject({ full_name: z.string() });

const InstallationDelivery = z.looseObject({
  action: z.string(),
  installation: z.looseObject({ id: z.number().int(), account: z.looseObject({ login: z.string() }).nullable().optional() }),
  repositories: z.array(Repository).nullable().optional(),
  repositories_added: z.array(Repository).optional(),
  repositories_removed: z.array(Repository).optional(),
  sender: z.looseObject({ login: z.string() }).optional(),
});
type Delivery = { deliveryId: string; body: z.infer<typeof InstallationDelivery> };

export const LABEL_COLOR = "5319e7";
export const LABEL_DESCRIPTION = "Aura Orchestra plans this issue and assigns its tasks";

function status(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "status" in error && typeof error.status === "number" ? error.status : undefined;
}

/** The installation's unprocessed installation deliveries, oldest first. */
async function pendingDeliveries(services: Services, installationId: number): Promise<Delivery[]> {
  const rows = await loadUnprocessedInstallationDeliveries(services.pool, installationId);
  return rows.flatMap((row) => {
    const parsed = InstallationDelivery.safeParse(row.payload);
    return parsed.success ? [{ deliveryId: row.delivery_id, body: parsed.data }] : [];
  });
}

/**
 * The job's halt scope: its installation when a delivery asks for writes (creating labels in the repositories
 * added). An uninstall or a repository removed only records and stops work, which a halt must not hold up.
 */
export async function installationHaltScope(services: Services, rawPayload: unknown): Promise<number | undefined> {
  const parsed = InstallationPayload.safeParse(rawPayload);
  if (!parsed.success) return undefined;
  const deliveries = await pendingDeliveries(services, parsed.data.installationId);
  return deliveries.some((d) => d.body.action === "created" || d.body.action === "added") ? parsed.data.installationId : undefined;
}

/** Applies each unprocessed installation delivery in order: an uninstall, repositories removed, or an install and repositories added. */
export async function runInstallationJob(services: Services, rawPayload: unknown, helpers: Pick<JobHelpers, "job">): Promise<void> {
  const payload = InstallationPayload.parse(rawPayload);
  for (const delivery of await pendingDeliveries(services, payload.installationId)) {
    if (delivery.body.action === "deleted") await onUninstalled(services, payload.installationId, delivery, String(helpers.job.id));
    else if (delivery.body.action === "removed") await onRepositoriesRemoved(services, payload.installationId, delivery);
    else await onInstalledOrAdded(services, payload.installationId, delivery);
  }
}

/** The app was uninstalled: the installation is marked removed and its waiting jobs (but this one) stop. */
async function onUninstalled(services: Services, installationId: number, { deliveryId, body }: Delivery, thisJobId: string): Promise<void> {
  await inTransaction(services.pool, async (client) => {
    await markInstallationRemoved(client, installationId, body.installation.account?.login ?? null);
    const stopped = await stopInstallationJobs(client, installationId, thisJobId);
    await appendEvents(client, [
      {
        actor: body.sender?.login ?? "github",
        action: "installation.removed",
        subject: `installation:${installationId}`,
        payload: { stoppedJobs: stopped, deliveryId },
      },
    ]);
    await setDeliveryProcessed(client, deliveryId);
  });
}

/**
 * Repositories were removed from the installation. The app can no longer read or write them: their unfinished
 * requirements end here (a director's `/aura resume` elsewhere must not wait for repositories nobody can act on
 * any more).
 */
async function onRepositoriesRemoved(services: Services, installationId: number, { deliveryId, body }: Delivery): Promise<void> {
  const removed = (body.repositories_removed ?? []).map((repository) => repository.full_name);
  const actor = body.sender?.login ?? "github";
  await inTransaction(services.pool, async (client) => {
    const cancelled: number[] = [];
    for (const requirement of await loadUnfinishedRequirements(client, installationId, removed)) {
      const result = await cancelRequirement(client, requirement.id, {
        actor,
        reason: `${requirement.repo} was removed from the installation`,
        noticeKey: `repository-removed:${deliveryId}`,
      });
      if (result.cancelled) cancelled.push(requirement.id);
    }
    await appendEvents(client, [
      {
        actor,
        action: "installation.repositories_removed",
        subject: `installation:${installationId}`,
        payload: { repositories: removed, cancelledRequirements: cancelled, deliveryId },
      },
    ]);
    await setDeliveryProcessed(client, deliveryId);
  });
}

/**
 * The app was installed, or repositories were added: the installation is recorded as present and each new
 * repository gets its requirement label. Any other action is only marked processed.
 */
async function onInstalledOrAdded(services: Services, installationId: number, { deliveryId, body }: Delivery): Promise<void> {
  const repositories = body.action === "created" ? (body.repositories ?? []) : body.action === "added" ? (body.repositories_added ?? []) : [];
  const account = body.installation.account?.login ?? null;
  if (body.action === "created" || body.action === "added") await recordInstallationPresent(services.pool, installationId, account);
  const labels: { repo: string; label: string; created: boolean }[] = [];
  for (const repository of repositories) labels.push(await ensureRequirementLabel(services, installationId, repository.full_name));
  await inTransaction(services.pool, async (client) => {
    if (body.action === "created" || body.action === "added") {
      await appendEvents(client, [
        {
          actor: body.sender?.login ?? "github",
          action: body.action === "created" ? "installation.recorded" : "installation.repositories_added",
          subject: `installation:${installationId}`,
          payload: { account, labels, deliveryId },
        },
      ]);
    }
    await setDeliveryProcessed(client, deliveryId);
  });
}

/** Creates the repository's requirement label (from its config, or the default when the config is invalid). */
export async function ensureRequirementLabel(
  services: Services,
  installationId: number,
  fullName: string,
): Promise<{ repo: string; label: string; created: boolean }> {
  const [owner = "", repo = ""] = fullName.split("/");
  const octokit = services.github.forInstallation(installationId);
  const config = await readRepoConfig(services, octokit, { owner, repo });
  const label = config.ok ? config.config.requirementLabel : RepoConfig.parse({}).requirementLabel;
  try {
    await octokit.request("POST /repos/{owner}/{repo}/labels", { owner, repo, name: label, color: LABEL_COLOR, description: LABEL_DESCRIPTION });
    return { repo: fullName, label, created: true };
  } catch (error) {
    // 422 already_exists: someone (or an earlier install) made it; that is all we wanted.
    if (status(error) === 422) return { repo: fullName, label, created: false };
    throw error;
  }
}
