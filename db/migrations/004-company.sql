-- The company's shared records: installations (tenancy, halt), requirements and their tasks, routing
-- decisions and the assignments they produce, and employee lifecycle status per installation.
-- Every state change is made through src/manager/transitions.ts, which checks the state machine and writes
-- the audit event in the same transaction.

CREATE TABLE installations (
  id bigint PRIMARY KEY,
  account text,
  halted_at timestamptz,
  halted_by text,
  halt_reason text,
  created_at timestamptz NOT NULL DEFAULT now(),
  removed_at timestamptz
);

CREATE TABLE requirements (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  repo_id bigint,
  private boolean NOT NULL DEFAULT false,
  issue_number integer NOT NULL,
  title text NOT NULL DEFAULT '',
  state text NOT NULL DEFAULT 'received',
  pre_halt_state text,
  labeled_by text,
  plan jsonb,
  plan_problems jsonb,
  status_comment_id bigint,
  default_branch text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (installation_id, repo, issue_number)
);
CREATE INDEX requirements_state ON requirements (state, updated_at);

CREATE TABLE tasks (
  id bigserial PRIMARY KEY,
  requirement_id bigint NOT NULL REFERENCES requirements (id),
  task_key text NOT NULL,
  title text NOT NULL,
  instructions text NOT NULL,
  task_class text NOT NULL,
  scope text[] NOT NULL,
  acceptance text[] NOT NULL DEFAULT '{}',
  depends_on text[] NOT NULL DEFAULT '{}',
  estimate_tokens integer NOT NULL DEFAULT 0,
  estimate_usd numeric(12, 4) NOT NULL DEFAULT 0,
  state text NOT NULL DEFAULT 'queued',
  attempt integer NOT NULL DEFAULT 0,
  branch text,
  pr_number integer,
  revision_rounds integer NOT NULL DEFAULT 0,
  cost_usd numeric(12, 6) NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (requirement_id, task_key)
);
CREATE INDEX tasks_state ON tasks (state, updated_at);

-- The router's full record: every candidate, why it was or was not eligible, its draw, and the seed.
CREATE TABLE routing_decisions (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES tasks (id),
  attempt integer NOT NULL,
  kind text NOT NULL CHECK (kind IN ('seeded-draw', 'director-override')),
  seed text NOT NULL,
  winner text,
  decision jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- An assignment exists only as the outcome of a routing decision for the same task naming the same
-- employee: the router is the only code path that creates one, and the database holds it to that.
CREATE TABLE assignments (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES tasks (id),
  employee_id text NOT NULL,
  routing_decision_id bigint NOT NULL UNIQUE REFERENCES routing_decisions (id),
  active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX assignments_one_active ON assignments (task_id) WHERE active;

CREATE FUNCTION check_assignment_decision() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  v_decision routing_decisions%ROWTYPE;
BEGIN
  SELECT * INTO v_decision FROM routing_decisions WHERE id = NEW.routing_decision_id;
  IF v_decision.task_id <> NEW.task_id OR v_decision.winner IS DISTINCT FROM NEW.employee_id THEN
    RAISE EXCEPTION 'assignment of % to task % does not match routing decision %', NEW.employee_id, NEW.task_id, NEW.routing_decision_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER assignment_matches_decision BEFORE INSERT OR UPDATE OF employee_id, task_id, routing_decision_id ON assignments
  FOR EACH ROW EXECUTE FUNCTION check_assignment_decision();

CREATE TABLE employee_states (
  installation_id bigint NOT NULL,
  employee_id text NOT NULL,
  status text NOT NULL DEFAULT 'probation' CHECK (status IN ('probation', 'active', 'suspended')),
  reason text,
  changed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (installation_id, employee_id)
);
