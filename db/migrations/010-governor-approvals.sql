-- Director approvals of a repository's relaxing `rules:` in .github/aura.yml, and the Auditor's advisory LLM
-- reviews. An approval is keyed by the sha256 of the canonical rules section it approved, so any later change to
-- the rules lapses it and needs a new `/aura override repo-rules <reason>`.

CREATE TABLE repo_rules_approvals (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  -- sha256 (hex) of the RFC 8785 canonical JSON of the `rules:` array the director approved.
  rules_hash text NOT NULL CHECK (rules_hash ~ '^[0-9a-f]{64}$'),
  -- What the rules relaxed when approved (e.g. "diff-size: maxFiles for feature raised from 40 to 80").
  relaxations jsonb NOT NULL DEFAULT '[]',
  director text NOT NULL,
  reason text NOT NULL CHECK (reason <> ''),
  -- The issue or pull request the command was written on.
  issue_number integer,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (installation_id, repo, rules_hash)
);

-- One advisory review per head SHA of an agent pull request (`auditor.reviewer`): posted (review_id set), or
-- skipped / failed with the reason, so a redelivered event neither posts twice nor pays for a second model call.
CREATE TABLE auditor_advisory_reviews (
  id bigserial PRIMARY KEY,
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  pull_number integer NOT NULL,
  head_sha text NOT NULL,
  reviewer text NOT NULL,
  state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'posted', 'skipped', 'failed')),
  detail text,
  findings integer,
  cost_usd numeric(14, 6),
  review_id bigint,
  review_url text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (installation_id, repo, pull_number, head_sha)
);
