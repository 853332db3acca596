// The Probot app function: thin webhook handlers that record each delivery in the inbox and enqueue its
// jobs in one transaction. Nothing else happens on the webhook path; workers do the work.
import type { ApplicationFunction, Probot } from "probot";
import type pg from "pg";
import type { AuditLog } from "./audit/append.js";
import type { Dispatcher } from "./queue/dispatch.js";
import { recordDelivery } from "./queue/inbox.js";
import { observeDelivery } from "./observability/observe.js";

export type AppDeps = {
  pool: pg.Pool;
  audit: AuditLog;
  dispatch: Dispatcher;
};

type LooseRecord = Record<string, unknown>;

function field<T>(payload: LooseRecord, ...keys: string[]): T | undefined {
  let value: unknown = payload;
  for (const key of keys) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as LooseRecord)[key];
  }
  return value as T | undefined;
}

export function createApp(deps: AppDeps): ApplicationFunction {
  return (app: Probot) => {
    app.onAny(async (context) => {
      const payload = context.payload as LooseRecord;
      const log = app.log.child({ id: context.id });
      const installationId = field<number>(payload, "installation", "id");
      const result = await observeDelivery({ id: context.id, event: context.name, installationId }, () =>
        recordDelivery(
          deps.pool,
          {
            deliveryId: context.id,
            event: context.name,
            action: field<string>(payload, "action"),
            installationId,
            repository: field<string>(payload, "repository", "full_name"),
            payload,
          },
          deps.dispatch,
        ),
      );
      if (result.duplicate) {
        log.info({ event: context.name, requeued: result.requeued }, "duplicate delivery ignored");
        return;
      }
      log.debug({ event: context.name, jobs: result.jobs.map((j) => j.task) }, "delivery recorded");
    });
  };
}
