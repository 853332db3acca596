-- What Aura enqueued, by graphile-worker job id (src/queue/enqueue.ts). graphile-worker's public `jobs` view has
-- no payload column and its private tables are not an API, yet the app must answer "is a job still waiting for
-- this delivery / this installation / this requirement". Every enqueue writes this row in the same statement as
-- its `graphile_worker.add_job` call; a question joins it to the public view by id (a row whose job is gone is
-- ignored, and the leader's delivery pruning deletes it). `job_key` is the key as given: graphile-worker clears
-- the key of a running job that a newer job replaced, and the question "is any job for this key" must still see
-- the running one. A job updated in place by its key (replace mode) keeps its id and gets the newer payload here.
CREATE TABLE queued_jobs (
  job_id bigint PRIMARY KEY,
  task text NOT NULL,
  job_key text,
  payload jsonb NOT NULL,
  queued_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX queued_jobs_delivery ON queued_jobs ((payload->>'deliveryId')) WHERE payload ? 'deliveryId';
CREATE INDEX queued_jobs_installation ON queued_jobs ((payload->>'installationId')) WHERE payload ? 'installationId';
CREATE INDEX queued_jobs_task ON queued_jobs ((payload->>'taskId')) WHERE payload ? 'taskId';
CREATE INDEX queued_jobs_key ON queued_jobs (job_key) WHERE job_key IS NOT NULL;

-- Jobs queued before this migration have no row yet. Once, at upgrade, they are copied from graphile-worker
-- 0.17's tables (the only place their payload is); a fresh database has no graphile_worker schema yet and
-- nothing to copy. The app itself never reads those tables.
DO $$
BEGIN
  IF to_regclass('graphile_worker._private_jobs') IS NOT NULL AND to_regclass('graphile_worker._private_tasks') IS NOT NULL THEN
    INSERT INTO queued_jobs (job_id, task, job_key, payload)
    SELECT j.id, t.identifier, j.key, j.payload::jsonb
      FROM graphile_worker._private_jobs j JOIN graphile_worker._private_tasks t ON t.id = j.task_id
    ON CONFLICT (job_id) DO NOTHING;
  END IF;
END $$;
