-- The agent's record (src/employees/agent/trajectory.ts): one row per work run of a task (the agent loop, the
-- action protocol, or the single-shot EditSet path), one row per step of that run (a model turn, a tool call, a
-- shortening of the conversation), and every request to widen a task's edit scope with what the rule layer
-- granted or refused. A run that ends writes its end reason and the sha256 digest of its steps; the digest also
-- goes to the audit chain (`task.trajectory`), so a changed step shows. A run whose process died mid-loop keeps
-- `ended_at` NULL until the next run of the task marks it `interrupted`.
CREATE TABLE work_runs (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES tasks (id),
  -- The routing attempt and the revision round the run worked for.
  attempt integer NOT NULL,
  revision_round integer NOT NULL DEFAULT 0,
  employee_id text NOT NULL,
  mode text NOT NULL CHECK (mode IN ('native', 'actions', 'single-shot')),
  max_steps integer,
  -- The graphile-worker job that ran it, when one did.
  job_id text,
  started_at timestamptz NOT NULL DEFAULT now(),
  ended_at timestamptz,
  -- submitted, a limit (step-cap, budget, wall-clock, idle, repetition), scope-refused, provider-failure,
  -- sandbox, single-shot, interrupted.
  end_reason text,
  -- What the agent said when it submitted: { summary, tested, remaining }.
  submission jsonb,
  -- Relative paths the run read and changed, and the repository guidance files it was given.
  files_read text[] NOT NULL DEFAULT '{}',
  files_changed text[] NOT NULL DEFAULT '{}',
  guidance text[] NOT NULL DEFAULT '{}',
  steps integer NOT NULL DEFAULT 0,
  digest text CHECK (digest IS NULL OR digest ~ '^[0-9a-f]{64}$')
);

CREATE INDEX work_runs_task ON work_runs (task_id, id);

CREATE TABLE work_steps (
  run_id bigint NOT NULL REFERENCES work_runs (id),
  step integer NOT NULL CHECK (step >= 1),
  kind text NOT NULL CHECK (kind IN ('turn', 'tool', 'shortening')),
  model text,
  input_tokens integer,
  output_tokens integer,
  cost_usd numeric(12, 6),
  latency_ms integer,
  tool text,
  -- The arguments as the model sent them (cut and redacted like the observation).
  arguments text,
  status text,
  exit_code integer,
  duration_ms integer,
  -- What the model saw next (or the model's own text, for a turn), cut to a size, secrets redacted.
  observation text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, step)
);

CREATE TABLE scope_grants (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES tasks (id),
  run_id bigint REFERENCES work_runs (id),
  path text NOT NULL,
  granted boolean NOT NULL,
  -- Why the agent asked, and (for a refusal) why the rule layer said no.
  request_reason text NOT NULL,
  refusal text,
  decided_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX scope_grants_task ON scope_grants (task_id, id);
