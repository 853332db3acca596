-- The Accountant's ledgers (append-only: outcomes per employee and task class, and policy strikes), the
-- Director's command log and refusal throttle, scoreboard comments, and the date of a director's reinstatement
-- (HR judges only what happened after it). Everything is scoped per installation.

CREATE TABLE outcome_ledger (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  employee_id text NOT NULL,
  task_class text NOT NULL,
  task_id bigint NOT NULL REFERENCES tasks (id),
  requirement_id bigint NOT NULL REFERENCES requirements (id),
  result text NOT NULL CHECK (result IN ('merged', 'rejected', 'failed', 'provider_error')),
  -- A merge by someone who is not a director: recorded and reported, never scored as a success.
  incident boolean NOT NULL DEFAULT false,
  revision_rounds integer NOT NULL DEFAULT 0 CHECK (revision_rounds >= 0),
  cost_usd numeric(12, 6) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
  latency_ms bigint CHECK (latency_ms IS NULL OR latency_ms >= 0),
  assigned_at timestamptz NOT NULL,
  pr_opened_at timestamptz,
  closed_at timestamptz NOT NULL,
  repo text NOT NULL,
  pr_number integer,
  closed_by text,
  -- One row per event that ends an attempt: `pr:<installation>:<repo>#<n>:closed:<closed_at>` for a PR close,
  -- so a redelivered or retried close never counts twice.
  event_key text NOT NULL UNIQUE,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outcome_ledger_key ON outcome_ledger (installation_id, task_class, employee_id, closed_at, task_id);
CREATE INDEX outcome_ledger_employee ON outcome_ledger (installation_id, employee_id, closed_at);

CREATE TABLE strike_ledger (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  employee_id text NOT NULL,
  -- `<repo>#<n>`: a strike counts once per (PR, rule), however many pushes failed the rule.
  pull_request text NOT NULL,
  rule_id text NOT NULL,
  severity text NOT NULL CHECK (severity IN ('minor', 'major', 'critical')),
  head_sha text,
  task_id bigint REFERENCES tasks (id),
  recorded_at timestamptz NOT NULL,
  UNIQUE (installation_id, pull_request, rule_id)
);
CREATE INDEX strike_ledger_employee ON strike_ledger (installation_id, employee_id, recorded_at);

CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER outcome_ledger_append_only BEFORE UPDATE OR DELETE ON outcome_ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER outcome_ledger_no_truncate BEFORE TRUNCATE ON outcome_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER strike_ledger_append_only BEFORE UPDATE OR DELETE ON strike_ledger
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER strike_ledger_no_truncate BEFORE TRUNCATE ON strike_ledger
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

ALTER TABLE employee_states ADD COLUMN reinstated_at timestamptz;
ALTER TABLE employee_states ADD COLUMN changed_by text;

-- One row per `/aura` command comment: a retried job finds it and neither acts nor replies twice.
CREATE TABLE director_commands (
  installation_id bigint NOT NULL,
  comment_id bigint NOT NULL,
  delivery_id text NOT NULL,
  repo text NOT NULL,
  issue_number integer NOT NULL,
  login text NOT NULL,
  verb text NOT NULL,
  outcome text NOT NULL,
  reply text,
  reaction text,
  replied_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (installation_id, comment_id)
);

-- At most one refusal reply per user per issue per hour.
CREATE TABLE director_refusals (
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  issue_number integer NOT NULL,
  login text NOT NULL,
  replied_at timestamptz NOT NULL,
  PRIMARY KEY (installation_id, repo, issue_number, login)
);

CREATE TABLE scoreboard_comments (
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  issue_number integer NOT NULL,
  comment_id bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (installation_id, repo, issue_number)
);
