// The `installation.sync` job: records installations, creates the requirement label in each repository the app
// is installed on (an existing label is fine), and on uninstall marks the installation removed and stops its
// queued jobs; repositories removed from the installation have their unfinished requirements cancelled. Like
// intake, it applies every unprocessed installation delivery in order, so collapsing loses nothing.
import type { JobHelpers } from "graphile-worker";
import type pg from "pg";
import { z } from "zod";
import { appendEvents } from "../audit/append.js";
import { RepoConfig } from "../config/repo-config.js";
import { readRepoConfig } from "../github/repo-config-reader.js";
import type { Services } from "../services.js";
import { cancelRequirement } from "./lifecycle.js";
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
type InstallationDelivery = z.infer<typeof InstallationDelivery>;

export const LABEL_COLOR = "5319e7";
export const LABEL_DESCRIPTION = "Aura Orchestra plans this issue and assigns its tasks";

function status(error: unknown): number | undefined {
  return typeof error === "object" && error !== null && "status" in error && typeof error.status === "number" ? error.status : undefined;
}

/** Removes an installation's waiting jobs (a running one finishes, and then finds the installation removed). */
export async function stopInstallationJobs(client: Pick<pg.PoolClient, "query">, installationId: number, exceptJobId?: string): Promise<number> {
  const { rows } = await client.query<{ id: string }>(
    `SELECT j.id::text AS id FROM queued_jobs q JOIN graphile_worker.jobs j ON j.id = q.job_id
     WHERE (q.payload->>'installationId' = $1::bigint::text
        OR (q.payload->>'taskId' IS NOT NULL AND (q.payload->>'taskId') IN (
              SELECT t.id::text FROM tasks t JOIN requirements r ON r.id = t.requirement_id WHERE r.installation_id = $1::bigint)))
       AND j.id::text IS DISTINCT FROM $2 AND j.locked_at IS NULL`,
    [installationId, exceptJobId ?? null],
  );
  if (rows.length === 0) return 0;
  const ids = rows.map((row) => row.id);
  await client.query("SELECT graphile_worker.complete_jobs($1::bigint[])", [ids]);
  return ids.length;
}

/** The installation's unprocessed installation deliveries, oldest first. */
async function pendingDeliveries(services: Services, installationId: number) {
  const { rows } = await services.pool.query<{ delivery_id: string; payload: unknown }>(
    `SELECT delivery_id, payload FROM webhook_deliveries
     WHERE processed_at IS NULL AND installation_id = $1 AND event IN ('installation', 'installation_repositories')
     ORDER BY received_at, delivery_id`,
    [installationId],
  );
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

export async function runInstallationJob(services: Services, rawPayload: unknown, helpers: Pick<JobHelpers, "job">): Promise<void> {
  const payload = InstallationPayload.parse(rawPayload);
  const deliveries = await pendingDeliveries(services, payload.installationId);

  for (const delivery of deliveries) {
    const { body } = delivery;
    if (body.action === "deleted") {
      await inTransaction(services.pool, async (client) => {
        await client.query(
          `INSERT INTO installations (id, account, removed_at) VALUES ($1, $2, now())
           ON CONFLICT (id) DO UPDATE SET removed_at = now()`,
          [payload.installationId, body.installation.account?.login ?? null],
        );
        const stopped = await stopInstallationJobs(client, payload.installationId, String(helpers.job.id));
        await appendEvents(client, [
          {
            actor: body.sender?.login ?? "github",
            action: "installation.removed",
            subject: `installation:${payload.installationId}`,
            payload: { stoppedJobs: stopped, deliveryId: delivery.deliveryId },
          },
        ]);
        await client.query("UPDATE webhook_deliveries SET processed_at = now() WHERE delivery_id = $1", [delivery.deliveryId]);
      });
      continue;
    }
    if (body.action === "removed") {
      // The app can no longer read or write those repositories: their unfinished requirements end here (a
      // director's `/aura resume` elsewhere must not wait for repositories nobody can act on any more).
      const removed = (body.repositories_removed ?? []).map((repository) => repository.full_name);
      await inTransaction(services.pool, async (client) => {
        const { rows } = await client.query<{ id: number; repo: string }>(
          `SELECT id, repo FROM requirements WHERE installation_id = $1 AND repo = ANY($2::text[]) AND state <> ALL('{done,failed,cancelled}'::text[]) ORDER BY id`,
          [payload.installationId, removed],
        );
        const cancelled: number[] = [];
        for (const requirement of rows) {
          const result = await cancelRequirement(client, requirement.id, {
            actor: body.sender?.login ?? "github",
            reason: `${requirement.repo} was removed from the installation`,
            noticeKey: `repository-removed:${delivery.deliveryId}`,
          });
          if (result.cancelled) cancelled.push(requirement.id);
        }
        await appendEvents(client, [
          {
            actor: body.sender?.login ?? "github",
            action: "installation.repositories_removed",
            subject: `installation:${payload.installationId}`,
            payload: { repositories: removed, cancelledRequirements: cancelled, deliveryId: delivery.deliveryId },
          },
        ]);
        await client.query("UPDATE webhook_deliveries SET processed_at = now() WHERE delivery_id = $1", [delivery.deliveryId]);
      });
      continue;
    }
    const repositories = body.action === "created" ? (body.repositories ?? []) : body.action === "added" ? (body.repositories_added ?? []) : [];
    if (body.action === "created" || body.action === "added") {
      await services.pool.query(
        `INSERT INTO installations (id, account) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET removed_at = NULL, account = coalesce(EXCLUDED.account, installations.account)`,
        [payload.installationId, body.installation.account?.login ?? null],
      );
    }
    const labels: { repo: string; label: string; created: boolean }[] = [];
    for (const repository of repositories) labels.push(await ensureRequirementLabel(services, payload.installationId, repository.full_name));
    await inTransaction(services.pool, async (client) => {
      if (body.action === "created" || body.action === "added") {
        await appendEvents(client, [
          {
            actor: body.sender?.login ?? "github",
            action: body.action === "created" ? "installation.recorded" : "installation.repositories_added",
            subject: `installation:${payload.installationId}`,
            payload: { account: body.installation.account?.login ?? null, labels, deliveryId: delivery.deliveryId },
          },
        ]);
      }
      await client.query("UPDATE webhook_deliveries SET processed_at = now() WHERE delivery_id = $1", [delivery.deliveryId]);
    });
  }
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
