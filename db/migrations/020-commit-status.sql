-- A commit status belongs to a commit, not to a pull request: the `aura/hnsc` status the gate posts on a SHA is
-- the strictest verdict over every open pull request whose head that SHA is (src/governor/commit-status.ts).
-- `governor_pulls` is the gate's record of each pull request it has judged: its current head, whether it is an
-- agent pull request, whether it is open, and whether an evaluation of that head is under way (then it counts
-- as `pending`). `governor_verdicts.agent` marks the verdicts given to agent pull requests, so a commit that
-- was ever the head of one is known for good and never gets "not governed" success.

ALTER TABLE governor_verdicts ADD COLUMN agent boolean NOT NULL DEFAULT false;

-- Verdicts stored before this migration: a pull request the work loop recorded for a task is an agent PR.
UPDATE governor_verdicts v SET agent = true
  FROM tasks t JOIN requirements r ON r.id = t.requirement_id
 WHERE r.installation_id = v.installation_id AND r.repo = v.repo AND t.pr_number = v.pull_number;

CREATE INDEX governor_verdicts_agent_sha ON governor_verdicts (installation_id, repo, head_sha) WHERE agent;

CREATE TABLE governor_pulls (
  installation_id bigint NOT NULL,
  repo text NOT NULL,
  pull_number integer NOT NULL,
  head_sha text NOT NULL,
  agent boolean NOT NULL,
  open boolean NOT NULL DEFAULT true,
  -- Set when the gate posts `pending` for this head, cleared when its verdict is stored.
  evaluating boolean NOT NULL DEFAULT false,
  html_url text,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (installation_id, repo, pull_number)
);
CREATE INDEX governor_pulls_head ON governor_pulls (installation_id, repo, head_sha) WHERE open;

-- Pull requests judged before this migration, at the head of their latest verdict. Whether they are still open
-- is not known here: they count as open (the stricter choice) until GitHub reports their close.
INSERT INTO governor_pulls (installation_id, repo, pull_number, head_sha, agent, open, evaluating, html_url)
SELECT DISTINCT ON (installation_id, repo, pull_number) installation_id, repo, pull_number, head_sha, agent, true, false, NULL
  FROM governor_verdicts
 ORDER BY installation_id, repo, pull_number, id DESC;
