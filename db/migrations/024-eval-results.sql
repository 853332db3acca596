-- Eval results (`aura eval run`, src/eval/store.ts): one row per eval run (its task file's digest, its folder,
-- who ran it, when it started and ended) and one per graded attempt. They are offline measurements, kept apart
-- from the live ledgers: nothing here feeds the live posterior, HR's review or routing. The scoreboard shows
-- them labelled "eval", and a director may accept an employee's eval run as its trial (`/aura trial`,
-- employee_trials), which is the only way an eval touches an employee's standing.
CREATE TABLE eval_runs (
  id bigserial PRIMARY KEY,
  -- sha256 of the task file's bytes.
  tasks_digest text NOT NULL CHECK (tasks_digest ~ '^[0-9a-f]{64}$'),
  tasks_file text NOT NULL,
  -- The eval folder (results.jsonl, trajectories): a resumed eval is the same folder and task file.
  out_dir text NOT NULL,
  run_by text NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  UNIQUE (out_dir, tasks_digest)
);

CREATE TABLE eval_attempts (
  run_id bigint NOT NULL REFERENCES eval_runs (id),
  instance_id text NOT NULL,
  employee_id text NOT NULL,
  attempt integer NOT NULL CHECK (attempt >= 1),
  task_class text NOT NULL,
  resolved boolean NOT NULL,
  reason text NOT NULL,
  cost_usd double precision NOT NULL CHECK (cost_usd >= 0),
  seconds double precision NOT NULL CHECK (seconds >= 0),
  steps integer NOT NULL CHECK (steps >= 0),
  graded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, instance_id, employee_id, attempt)
);

CREATE INDEX eval_attempts_employee ON eval_attempts (employee_id, run_id);

-- A director's word that an employee's eval run counts as its trial (probation → active), with the figures it
-- was judged on. Append-only: a later trial is a new row.
CREATE TABLE employee_trials (
  installation_id bigint NOT NULL,
  employee_id text NOT NULL,
  run_id bigint NOT NULL REFERENCES eval_runs (id),
  attempts integer NOT NULL,
  resolved integer NOT NULL,
  lower_bound double precision NOT NULL,
  accepted_by text NOT NULL,
  accepted_at timestamptz NOT NULL DEFAULT now(),
  note text,
  PRIMARY KEY (installation_id, employee_id, run_id)
);

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_app') THEN
    REVOKE UPDATE, DELETE ON employee_trials FROM aura_app;
  END IF;
END $$;
