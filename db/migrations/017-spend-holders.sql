-- Model spend knows who holds a reservation and until when, and planning is charged too.
--
-- A reservation is stale, and released, when the call that made it can no longer be running: the
-- graphile-worker job attempt that made it (job_id, job_attempt) is no longer that job's running attempt
-- (the job finished, failed, was retried or unlocked after its worker died), or its deadline passed
-- (expires_at: the call's own time limit for every attempt it may make, plus a margin).
--
-- Planning calls belong to a requirement, not a task: task_id is NULL for them. They count against the
-- requirement's cap and the daily caps like any other call.

ALTER TABLE model_spend ALTER COLUMN task_id DROP NOT NULL;
ALTER TABLE model_spend ADD COLUMN job_id bigint;
ALTER TABLE model_spend ADD COLUMN job_attempt integer;
ALTER TABLE model_spend ADD COLUMN expires_at timestamptz;
-- Reservations made before this migration: an hour is far beyond any call's time limit.
UPDATE model_spend SET expires_at = created_at + interval '1 hour' WHERE expires_at IS NULL;
ALTER TABLE model_spend ALTER COLUMN expires_at SET DEFAULT now() + interval '1 hour';
ALTER TABLE model_spend ALTER COLUMN expires_at SET NOT NULL;
ALTER TABLE model_spend ADD CONSTRAINT model_spend_job_attempt CHECK ((job_id IS NULL) = (job_attempt IS NULL));
CREATE INDEX model_spend_reserved ON model_spend (expires_at) WHERE state = 'reserved';

-- The one comment that tells an issue its planning was refused because a budget is used up.
ALTER TABLE intake_comments DROP CONSTRAINT intake_comments_kind_check;
ALTER TABLE intake_comments ADD CONSTRAINT intake_comments_kind_check CHECK (kind IN ('refusal', 'config-error', 'planning-budget'));
