// The parts of the webhook bodies the Director and the Accountant rely on, checked with zod before use, and
// a reader for a delivery's body from the inbox (jobs carry only the delivery id).
import type pg from "pg";
import { z } from "zod";
import { deliveryPayload } from "../queue/inbox.js";

const User = z.object({ login: z.string(), type: z.string().default("User") });
const Installation = z.object({ id: z.number().int() });
const Repository = z.object({ full_name: z.string().regex(/^[^/]+\/[^/]+$/), default_branch: z.string().optional() });

export const IssueCommentDelivery = z.object({
  action: z.string(),
  installation: Installation,
  repository: Repository,
  issue: z.object({ number: z.number().int(), pull_request: z.unknown().optional() }),
  comment: z.object({ id: z.number().int(), body: z.string().nullable().default(""), user: User }),
});
export type IssueCommentDelivery = z.infer<typeof IssueCommentDelivery>;

export const PullClosedDelivery = z.object({
  action: z.literal("closed"),
  installation: Installation,
  repository: Repository,
  pull_request: z.object({
    number: z.number().int(),
    merged: z.boolean().nullable().default(false),
    merged_by: User.nullable().optional(),
    closed_at: z.string().nullable(),
    created_at: z.string(),
    user: User.nullable().optional(),
    head: z.object({ ref: z.string(), sha: z.string() }),
  }),
  sender: User.optional(),
});
export type PullClosedDelivery = z.infer<typeof PullClosedDelivery>;

export const PullReopenedDelivery = z.object({
  action: z.literal("reopened"),
  installation: Installation,
  repository: Repository,
  pull_request: z.object({
    number: z.number().int(),
    state: z.string(),
    /** On a reopen, GitHub's time of the reopen. */
    updated_at: z.string(),
    head: z.object({ ref: z.string(), sha: z.string() }),
  }),
  sender: User.optional(),
});
export type PullReopenedDelivery = z.infer<typeof PullReopenedDelivery>;

export const ReviewSubmittedDelivery = z.object({
  action: z.literal("submitted"),
  installation: Installation,
  repository: Repository,
  review: z.object({ id: z.number().int(), state: z.string(), body: z.string().nullable().default(""), user: User, commit_id: z.string().optional() }),
  pull_request: z.object({ number: z.number().int(), head: z.object({ ref: z.string(), sha: z.string() }) }),
});
export type ReviewSubmittedDelivery = z.infer<typeof ReviewSubmittedDelivery>;

/** A job's delivery is gone or is not the event it should be: nothing to retry. */
export class DeliveryUnusable extends Error {
  override name = "DeliveryUnusable";
}

/** Reads a delivery's body from the inbox and checks it against `schema`. */
export async function readDelivery<S extends z.ZodType>(pool: Pick<pg.Pool, "query">, deliveryId: string, schema: S): Promise<z.infer<S>> {
  const row = await deliveryPayload(pool, deliveryId);
  if (!row) throw new DeliveryUnusable(`delivery ${deliveryId} is not in the inbox`);
  const parsed = schema.safeParse(row.payload);
  if (!parsed.success) throw new DeliveryUnusable(`delivery ${deliveryId} does not have the expected shape: ${parsed.error.message}`);
  return parsed.data;
}

export function splitRepo(fullName: string): { owner: string; repo: string } {
  const [owner = "", repo = ""] = fullName.split("/");
  return { owner, repo };
}

export const JobPayload = z.object({ deliveryId: z.string().min(1) });
