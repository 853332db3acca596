-- A console action runs once. Every action form carries a random id (src/console/views/forms.ts); the
-- Director claims it in the action's own transaction (runConsoleCommand), so a form sent twice — a double
-- click, a browser re-posting after "back" — runs its command once and the second answer says so. One row per
-- action a person took: small, kept like the audit events that record the actions themselves.
CREATE TABLE console_actions (
  action_id uuid PRIMARY KEY,
  github_login text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
