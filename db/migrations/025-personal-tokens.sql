-- Personal tokens for the console and the MCP server (src/console/tokens.ts): issued for one person (GitHub
-- login and user id), shown once and stored only as the sha256 of the token text. A token carries no scope of
-- its own: each use re-checks which repositories its person directs now. Revoking is final; issue and revoke
-- are audited (`console.token_issued`, `console.token_revoked`, subject `user:<github user id>`).
CREATE TABLE personal_tokens (
  id bigserial PRIMARY KEY,
  github_login text NOT NULL,
  github_user_id bigint NOT NULL,
  -- What the person called it ("laptop IDE"), shown in lists; never the token.
  label text NOT NULL DEFAULT '',
  token_sha256 text NOT NULL UNIQUE CHECK (token_sha256 ~ '^[0-9a-f]{64}$'),
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz,
  revoked_by text
);
CREATE INDEX personal_tokens_person ON personal_tokens (github_user_id, id);
