-- What the Auditor compares its own test run with: the work loop's sandbox run as the app recorded it, one row
-- per pushed head (append-only), instead of a marker in the pull request body that model text could forge.
-- And the per-person throttle on `/aura` commands: every command comment seen (by installation and author) and
-- the one notice per window sent to someone over the limit.

CREATE TABLE task_run_claims (
  id bigserial PRIMARY KEY,
  task_id bigint NOT NULL REFERENCES tasks (id),
  -- The commit whose tree the run tested; NULL when the run pushed no new commit of its own.
  head_sha text CHECK (head_sha ~ '^[0-9a-f]{40}$'),
  -- {"exitCode": n|null, "passed"?, "failed"?, "skipped"?, "total"?, "headSha"?}: see src/auditor/claims.ts.
  claim jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_run_claims_task ON task_run_claims (task_id, id DESC);

CREATE TRIGGER task_run_claims_append_only BEFORE UPDATE OR DELETE ON task_run_claims
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER task_run_claims_no_truncate BEFORE TRUNCATE ON task_run_claims
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

-- One row per `/aura` command comment, kept for one throttle window (older rows are deleted as new ones come).
CREATE TABLE director_command_log (
  installation_id bigint NOT NULL,
  comment_id bigint NOT NULL,
  -- Lower-case login of the comment's author.
  login text NOT NULL,
  seen_at timestamptz NOT NULL,
  PRIMARY KEY (installation_id, comment_id)
);
CREATE INDEX director_command_log_person ON director_command_log (installation_id, login, seen_at);

-- The last "you are sending too many commands" notice per person: at most one per window.
CREATE TABLE director_throttle_notices (
  installation_id bigint NOT NULL,
  login text NOT NULL,
  noticed_at timestamptz NOT NULL,
  PRIMARY KEY (installation_id, login)
);

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_app') THEN
    REVOKE UPDATE, DELETE ON task_run_claims FROM aura_app;
  END IF;
END $$;
