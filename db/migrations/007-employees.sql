-- The Employees' work-loop records: every commit the work loop made for a task (the Governor's assignment
-- rule passes only those and directors' commits), one execution snapshot per attempt (referenced by the
-- Aura-Snapshot commit trailer), model spend with worst-case reservations settled after each call, budget
-- raises granted by directors, revision requests, and the provider failures that moved a task to another
-- employee.

CREATE TABLE task_commits (
  task_id bigint NOT NULL REFERENCES tasks (id),
  sha text NOT NULL CHECK (sha ~ '^[0-9a-f]{40}$'),
  -- `work`: the employee's edits; `merge`: a merge the work loop made to keep a person's commits.
  kind text NOT NULL CHECK (kind IN ('work', 'merge')),
  employee_id text NOT NULL,
  snapshot_id text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, sha)
);

CREATE TABLE execution_snapshots (
  -- First 16 hex digits of sha256 over the snapshot's canonical JSON: the Aura-Snapshot trailer value.
  id text PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES tasks (id),
  attempt integer NOT NULL,
  revision_round integer NOT NULL DEFAULT 0,
  employee_id text NOT NULL,
  snapshot jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX execution_snapshots_task ON execution_snapshots (task_id, created_at);

-- One row per model call: the worst case is reserved before the call, the real usage settled after it.
-- Usage against a cap = settled amounts + reserved amounts of calls still in flight.
CREATE TABLE model_spend (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  requirement_id bigint NOT NULL REFERENCES requirements (id),
  task_id bigint NOT NULL REFERENCES tasks (id),
  employee_id text NOT NULL,
  purpose text NOT NULL,
  state text NOT NULL DEFAULT 'reserved' CHECK (state IN ('reserved', 'settled', 'released')),
  reserved_tokens bigint NOT NULL CHECK (reserved_tokens >= 0),
  reserved_usd numeric(14, 6) NOT NULL CHECK (reserved_usd >= 0),
  tokens bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
  usd numeric(14, 6) NOT NULL DEFAULT 0 CHECK (usd >= 0),
  -- The UTC day the call was made, for the per-day caps.
  day date NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  settled_at timestamptz
);
CREATE INDEX model_spend_task ON model_spend (task_id);
CREATE INDEX model_spend_requirement ON model_spend (requirement_id);
CREATE INDEX model_spend_day ON model_spend (installation_id, day, repo);

-- `/aura budget`: a director's one-off raise of a task's or a requirement's dollar cap.
CREATE TABLE budget_raises (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  scope text NOT NULL CHECK (scope IN ('task', 'requirement')),
  subject_id bigint NOT NULL,
  amount_usd numeric(14, 6) NOT NULL CHECK (amount_usd > 0),
  raised_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX budget_raises_subject ON budget_raises (installation_id, scope, subject_id);

-- `/aura revise` or a director's "changes requested" review: what to change, handled by the next work run.
CREATE TABLE revision_requests (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES tasks (id),
  round integer NOT NULL,
  instructions text NOT NULL,
  inline_comments jsonb NOT NULL DEFAULT '[]',
  requested_by text NOT NULL,
  -- The command comment or review id: a redelivered request is recorded once.
  source_key text UNIQUE,
  handled_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revision_requests_task ON revision_requests (task_id, id);

-- A model call that failed for provider reasons (not quality): the task fails over to another employee.
CREATE TABLE task_provider_failures (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES tasks (id),
  employee_id text NOT NULL,
  kind text NOT NULL,
  message text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_provider_failures_task ON task_provider_failures (task_id);
