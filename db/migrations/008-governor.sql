-- The HNSC Governor's and the Auditor's records: every verdict posted as the `aura/hnsc` commit status (so a
-- forged status can be answered with the true one), director overrides bound to a rule and a head SHA, the
-- Auditor's own test runs and the one review it posts per head SHA, and the one forgery comment per SHA.

CREATE TABLE governor_verdicts (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  pull_number integer NOT NULL,
  head_sha text NOT NULL,
  pack_revision text NOT NULL,
  conclusion text NOT NULL CHECK (conclusion IN ('success', 'failure', 'error', 'pending')),
  description text NOT NULL,
  target_url text,
  governed boolean NOT NULL,
  -- Every rule's state, summary, findings and override, as the evaluator returned them.
  rules jsonb NOT NULL DEFAULT '[]',
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX governor_verdicts_sha ON governor_verdicts (installation_id, repo, head_sha, id DESC);
CREATE INDEX governor_verdicts_pull ON governor_verdicts (installation_id, repo, pull_number, id DESC);

-- `/aura override <rule-id> <reason>`: binds to the head SHA it was given on, so a new push re-evaluates.
CREATE TABLE governor_overrides (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  pull_number integer NOT NULL,
  head_sha text NOT NULL,
  rule_id text NOT NULL,
  reason text NOT NULL,
  director text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (installation_id, repo, pull_number, head_sha, rule_id)
);

-- One row per head SHA the Auditor examined: its own test runs (head and base), the PR's claims, the
-- mismatches it found, and the review it posted (review_id set only once the review exists).
CREATE TABLE auditor_runs (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  pull_number integer NOT NULL,
  head_sha text NOT NULL,
  base_sha text,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'passed', 'failed')),
  counts jsonb,
  report jsonb,
  review_id bigint,
  review_url text,
  -- sha256 of the review body as last written; the body is edited only when the verdict it shows changes.
  review_digest text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (installation_id, repo, pull_number, head_sha)
);

-- The one comment to the directors per forged SHA (looked up before posting, so a retry posts no second).
CREATE TABLE governor_forgeries (
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  head_sha text NOT NULL,
  pull_number integer,
  comment_id bigint,
  forgeries integer NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (installation_id, repo, head_sha)
);
