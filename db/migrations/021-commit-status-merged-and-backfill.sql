-- Closes two gaps in the commit statuses of migration 020 (src/governor/commit-status.ts):
-- * `merged`: an agent pull request merged by a director keeps its final say at the commit it merged, so that
--   commit keeps its status instead of becoming "an agent commit without its open agent PR" (failure).
-- * `governed`: whether an evaluation under way (`evaluating`) is for a governed pull request. The says of pull
--   requests that are not governed are set aside at an agent's commit, so an outsider's pull request at an agent
--   PR's head can neither turn it green nor turn it to pending or error.
-- * `unconfirmed`: rows migration 020 backfilled as open without asking GitHub. An old closed agent PR counted
--   as open would keep speaking for its commit and suppress the agent-commit failure. Rows whose task says how
--   the pull request ended are closed here; the leader's reconciler asks GitHub once about each remaining row
--   (src/governor/confirm-pulls.ts) and clears the mark.

ALTER TABLE governor_pulls
  ADD COLUMN merged boolean NOT NULL DEFAULT false,
  ADD COLUMN governed boolean NOT NULL DEFAULT true,
  ADD COLUMN unconfirmed boolean NOT NULL DEFAULT false;

-- Migration 020's rows are the only ones without an html_url: the gate records GitHub's on every head it sees.
UPDATE governor_pulls SET unconfirmed = true WHERE open AND html_url IS NULL;

-- The task of an agent pull request knows how it ended: merged by a director, or closed unmerged (rejected).
-- A failed or cancelled task's pull request may still be open on GitHub; closing its row is still the stricter
-- choice (its commit then says the agent-commit failure), and the next evaluation of the pull request reopens it.
UPDATE governor_pulls p
   SET open = false, evaluating = false, merged = (t.state = 'merged'), unconfirmed = false, updated_at = now()
  FROM tasks t JOIN requirements r ON r.id = t.requirement_id
 WHERE p.unconfirmed AND p.agent
   AND r.installation_id = p.installation_id AND r.repo = p.repo AND t.pr_number = p.pull_number
   AND t.state IN ('merged', 'rejected', 'failed', 'cancelled');

CREATE INDEX governor_pulls_unconfirmed ON governor_pulls (installation_id, repo, pull_number) WHERE unconfirmed;
CREATE INDEX governor_pulls_merged_head ON governor_pulls (installation_id, repo, head_sha) WHERE merged;
