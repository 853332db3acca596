-- The base sync (issue 7 item 12): the base SHA whose merge conflicted with a task's branch when the sync handed
-- the task to a director. Set only when the conflict is what moved the task to needs_director, so a later sync
-- that finds the branch merging cleanly again returns exactly those tasks to pr_open; cleared when it does, and
-- when the work loop starts on the task again.
ALTER TABLE tasks ADD COLUMN base_conflict_sha text CHECK (base_conflict_sha ~ '^[0-9a-f]{40}$');
