// The Manager's reads and writes of the webhook inbox (`webhook_deliveries`): the unprocessed deliveries each of
// its jobs applies (an issue's, an installation's, a repository's label events), marking them processed, and
// the reconciler's record of deliveries it dispatched again. Recording deliveries is the queue's (queue/inbox.ts).
import type { Queryable } from "../db/queryable.js";
import { jobWaitingFor } from "../queue/inbox.js";
import type { IssueKey } from "./requirement-store.js";

/** A delivery's id and its payload as GitHub sent it (not yet checked against a schema). */
export type StoredDelivery = { delivery_id: string; payload: unknown };

/** The issue's unprocessed `issues` deliveries, in arrival order. */
export async function loadUnprocessedIssueDeliveries(db: Queryable, issue: IssueKey): Promise<StoredDelivery[]> {
  const { rows } = await db.query<StoredDelivery>(
    `SELECT delivery_id, payload FROM webhook_deliveries
     WHERE processed_at IS NULL AND event = 'issues' AND installation_id = $1 AND repository = $2 AND payload #>> '{issue,number}' = $3
     ORDER BY received_at, delivery_id`,
    [issue.installationId, issue.repo, String(issue.issueNumber)],
  );
  return rows;
}

/** The payload of the issue's newest `issues` delivery, processed or not. */
export async function loadLatestIssuePayload(db: Queryable, issue: IssueKey): Promise<unknown> {
  const { rows } = await db.query<{ payload: unknown }>(
    `SELECT payload FROM webhook_deliveries
     WHERE event = 'issues' AND installation_id = $1 AND repository = $2 AND payload #>> '{issue,number}' = $3
     ORDER BY received_at DESC LIMIT 1`,
    [issue.installationId, issue.repo, String(issue.issueNumber)],
  );
  return rows[0]?.payload;
}

/** The installation's unprocessed `installation` and `installation_repositories` deliveries, in arrival order. */
export async function loadUnprocessedInstallationDeliveries(db: Queryable, installationId: number): Promise<StoredDelivery[]> {
  const { rows } = await db.query<StoredDelivery>(
    `SELECT delivery_id, payload FROM webhook_deliveries
     WHERE processed_at IS NULL AND installation_id = $1 AND event IN ('installation', 'installation_repositories')
     ORDER BY received_at, delivery_id`,
    [installationId],
  );
  return rows;
}

/** The repository's unprocessed `label` deliveries, in arrival order. */
export async function loadUnprocessedLabelDeliveries(db: Queryable, installationId: number, repo: string): Promise<StoredDelivery[]> {
  const { rows } = await db.query<StoredDelivery>(
    `SELECT delivery_id, payload FROM webhook_deliveries
     WHERE processed_at IS NULL AND installation_id = $1 AND repository = $2 AND event = 'label'
     ORDER BY received_at, delivery_id`,
    [installationId, repo],
  );
  return rows;
}

/** Marks a delivery processed now (with no note, unlike queue/inbox.ts's markDeliveryProcessed). */
export async function setDeliveryProcessed(db: Queryable, deliveryId: string): Promise<void> {
  await db.query("UPDATE webhook_deliveries SET processed_at = now() WHERE delivery_id = $1", [deliveryId]);
}

/** Marks the deliveries processed now; one already processed keeps its time. */
export async function setDeliveriesProcessed(db: Queryable, deliveryIds: string[]): Promise<void> {
  await db.query("UPDATE webhook_deliveries SET processed_at = now() WHERE delivery_id = ANY($1::text[]) AND processed_at IS NULL", [deliveryIds]);
}

/** A recorded delivery as the dispatchers take it. */
export type MissedDelivery = {
  delivery_id: string;
  event: string;
  action: string | null;
  installation_id: number | null;
  repository: string | null;
  payload: Record<string, unknown>;
};

/**
 * Deliveries unprocessed for `missedMs` that were never dispatched again and have no job waiting, oldest
 * first. Locked, skipping those another reconciler pass holds.
 */
export async function lockMissedDeliveries(db: Queryable, options: { missedMs: number; batch: number }): Promise<MissedDelivery[]> {
  const { rows } = await db.query<MissedDelivery>(
    `SELECT d.delivery_id, d.event, d.action, d.installation_id, d.repository, d.payload FROM webhook_deliveries d
     WHERE d.processed_at IS NULL AND d.received_at < now() - make_interval(secs => $1)
       AND NOT EXISTS (SELECT 1 FROM delivery_redispatches x WHERE x.delivery_id = d.delivery_id)
       AND NOT ${jobWaitingFor("d.delivery_id")}
     ORDER BY d.received_at LIMIT $2 FOR UPDATE OF d SKIP LOCKED`,
    [options.missedMs / 1000, options.batch],
  );
  return rows;
}

/** Records that the delivery was dispatched again (to `jobs` jobs): it never is a second time. */
export async function recordRedispatch(db: Queryable, deliveryId: string, jobs: number): Promise<void> {
  await db.query("INSERT INTO delivery_redispatches (delivery_id, jobs) VALUES ($1, $2)", [deliveryId, jobs]);
}
