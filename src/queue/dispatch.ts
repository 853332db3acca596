// Which durable jobs a webhook delivery starts. Jobs carry only the delivery id and the subject's keys; the
// body stays in the inbox, so a job collapsed by its key loses nothing.
export type JobSpec = {
  task: string;
  /** Collapses bursts: one pending job per key (per issue, per pull request). */
  key?: string;
  payload: Record<string, string | number>;
};

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
