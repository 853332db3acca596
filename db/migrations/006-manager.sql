-- Manager intake and planning. A requirement remembers the label that started it (so unlabelling is
-- recognised even after the config changes) and counts its plans: a re-plan (after a cancel and relabel, or
-- a director's revise) creates a new revision of tasks, so task keys only need to be unique per revision.
-- The intake's one-per-issue comments (refusal, invalid config) are remembered so they are never posted twice,
-- and the reconciler re-dispatches a never-processed delivery at most once.
ALTER TABLE requirements ADD COLUMN requirement_label text;
ALTER TABLE requirements ADD COLUMN plan_revision integer NOT NULL DEFAULT 0;

ALTER TABLE tasks ADD COLUMN plan_revision integer NOT NULL DEFAULT 1;
-- How often the reconciler has retried this task after it stopped making progress (once, then a director).
ALTER TABLE tasks ADD COLUMN stuck_retries integer NOT NULL DEFAULT 0;
ALTER TABLE tasks DROP CONSTRAINT tasks_requirement_id_task_key_key;
ALTER TABLE tasks ADD CONSTRAINT tasks_requirement_revision_task_key UNIQUE (requirement_id, plan_revision, task_key);

CREATE TABLE intake_comments (
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  issue_number integer NOT NULL,
  kind text NOT NULL CHECK (kind IN ('refusal', 'config-error')),
  comment_id bigint NOT NULL,
  body_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (installation_id, repo, issue_number, kind)
);

CREATE TABLE delivery_redispatches (
  delivery_id text PRIMARY KEY REFERENCES webhook_deliveries (delivery_id),
  jobs integer NOT NULL,
  redispatched_at timestamptz NOT NULL DEFAULT now()
);

-- The intake job reads every unprocessed delivery of its issue, so a job collapsed by its key loses nothing.
CREATE INDEX webhook_deliveries_open_issue ON webhook_deliveries (installation_id, repository, ((payload #>> '{issue,number}')))
  WHERE processed_at IS NULL AND event = 'issues';
