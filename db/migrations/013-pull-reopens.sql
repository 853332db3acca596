-- Reopened agent pull requests. A close is an append-only ledger row; when the PR is reopened, the reopen is
-- recorded here (append-only as well) and the earlier close stops counting: a PR's outcome is its latest
-- close, and none while it is open again. The Accountant's reads apply that rule (src/accountant/ledger.ts).

CREATE TABLE pull_reopens (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  pr_number integer NOT NULL,
  task_id bigint REFERENCES tasks (id),
  -- GitHub's time of the reopen (the delivery's pull_request.updated_at), comparable with the ledger's closed_at.
  reopened_at timestamptz NOT NULL,
  reopened_by text,
  delivery_id text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  -- One reopen is one event, however many deliveries (or redeliveries under a new id) report it.
  UNIQUE (installation_id, repo, pr_number, reopened_at)
);
CREATE INDEX outcome_ledger_pull ON outcome_ledger (installation_id, repo, pr_number, closed_at) WHERE pr_number IS NOT NULL;

CREATE TRIGGER pull_reopens_append_only BEFORE UPDATE OR DELETE ON pull_reopens
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER pull_reopens_no_truncate BEFORE TRUNCATE ON pull_reopens
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_app') THEN
    REVOKE UPDATE, DELETE ON pull_reopens FROM aura_app;
  END IF;
END $$;
