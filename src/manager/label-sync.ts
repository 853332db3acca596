// The `label.sync` job: when someone deletes or renames the repository's requirement label, the app creates it
// again (people could not start a requirement without it) and records who removed it. Other labels cost one
// read of the repository config and no write. Like the installation job, it handles every unprocessed `label`
// delivery of the repository at once, so collapsed jobs lose nothing.
import { z } from "zod";
import { appendEvents } from "../audit/append.js";
import { RepoConfig } from "../config/repo-config.js";
import { readRepoConfig } from "../github/repo-config-reader.js";
import type { Services } from "../services.js";
import { loadUnprocessedLabelDeliveries, setDeliveriesProcessed } from "./delivery-store.js";
import { ensureRequirementLabel } from "./installation.js";
import { inTransaction } from "../core/transitions.js";

export const LABEL_SYNC_TASK = "label.sync" as const;

export const labelSyncJobKey = (repo: string) => `label:${repo}`;

const LabelSyncPayload = z.object({ installationId: z.number().int().positive(), repo: z.string().regex(/^[^/\s]+\/[^/\s]+$/) });

const LabelDelivery = z.looseObject({
  action: z.string(),
  label: z.looseObject({ name: z.string() }),
  changes: z.looseObject({ name: z.looseObject({ from: z.string() }).optional() }).optional(),
  sender: z.looseObject({ login: z.string() }).optional(),
});

/** The label name a delivery took away from the repository: the deleted name, or the old name of a rename. */
function removedName(delivery: z.infer<typeof LabelDelivery>): string | undefined {
  if (delivery.action === "deleted") return delivery.label.name;
  if (delivery.action === "edited") return delivery.changes?.name?.from;
  return undefined;
}

/** The repository's unprocessed `label` deliveries, and those that took a label name away, oldest first. */
async function labelRemovals(services: Services, payload: z.infer<typeof LabelSyncPayload>) {
  const rows = await loadUnprocessedLabelDeliveries(services.pool, payload.installationId, payload.repo);
  const removals = rows.flatMap((row) => {
    const parsed = LabelDelivery.safeParse(row.payload);
    const name = parsed.success ? removedName(parsed.data) : undefined;
    return name === undefined ? [] : [{ deliveryId: row.delivery_id, name, by: parsed.data?.sender?.login ?? "unknown" }];
  });
  return { deliveryIds: rows.map((row) => row.delivery_id), removals };
}

/** The job's halt scope: its installation when a label was taken away (putting it back is a GitHub write). */
export async function labelSyncHaltScope(services: Services, rawPayload: unknown): Promise<number | undefined> {
  const parsed = LabelSyncPayload.safeParse(rawPayload);
  if (!parsed.success) return undefined;
  return (await labelRemovals(services, parsed.data)).removals.length > 0 ? parsed.data.installationId : undefined;
}

export async function runLabelSyncJob(services: Services, rawPayload: unknown): Promise<void> {
  const payload = LabelSyncPayload.parse(rawPayload);
  const { deliveryIds, removals } = await labelRemovals(services, payload);
  if (removals.length > 0) {
    const [owner = "", repo = ""] = payload.repo.split("/");
    const config = await readRepoConfig(services, services.github.forInstallation(payload.installationId), { owner, repo });
    const label = config.ok ? config.config.requirementLabel : RepoConfig.parse({}).requirementLabel;
    // GitHub compares label names without regard to case.
    const removal = removals.find((candidate) => candidate.name.toLowerCase() === label.toLowerCase());
    if (removal) {
      const result = await ensureRequirementLabel(services, payload.installationId, payload.repo);
      if (result.created) {
        await appendEvents(services.pool, [
          {
            actor: "aura",
            action: "requirement_label.recreated",
            subject: payload.repo,
            payload: { label: result.label, removedBy: removal.by, deliveryId: removal.deliveryId },
          },
        ]);
      }
    }
  }
  await inTransaction(services.pool, (client) => setDeliveriesProcessed(client, deliveryIds));
}
