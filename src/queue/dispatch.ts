// Which durable jobs a webhook delivery starts. Jobs carry only the delivery id and the subject's keys; the
// body stays in the inbox, so a job collapsed by its key loses nothing. Names and payloads are the enqueue
// module's (src/queue/enqueue.ts); the inbox adds the delivery id to each payload.
import type { JobName, JobPayloads } from "./enqueue.js";

export type JobSpec = {
  [N in JobName]: {
    task: N;
    /** Collapses bursts: one pending job per key (per issue, per pull request). Default: the job's own key. */
    key?: string;
    payload: Omit<JobPayloads[N], "deliveryId">;
  };
}[JobName];

export type DeliverySummary = {
  deliveryId: string;
  event: string;
  action: string | undefined;
  installationId: number | undefined;
  repository: string | undefined;
  payload: Record<string, unknown>;
};

export type Dispatcher = (delivery: DeliverySummary) => JobSpec[];

/** The foundation dispatches nothing; each role registers what it needs in `composeDispatchers`. */
export function composeDispatchers(...dispatchers: Dispatcher[]): Dispatcher {
  return (delivery) => dispatchers.flatMap((dispatch) => dispatch(delivery));
}
