-- The repository configuration a requirement was planned under (read once from the default branch), and
-- the notices shown in its status comment (budget warnings, HR announcements, governance incidents).
ALTER TABLE requirements ADD COLUMN repo_config jsonb;

CREATE TABLE requirement_notices (
  id bigserial PRIMARY KEY,
  requirement_id bigint NOT NULL REFERENCES requirements (id),
  kind text NOT NULL CHECK (kind IN ('info', 'warning', 'incident', 'hr')),
  body text NOT NULL,
  key text,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (requirement_id, key)
);
