-- Every process that runs job workers says it is alive here; the leader unlocks the jobs of processes
-- that stopped saying so (a SIGKILL, a lost machine), so their work resumes within seconds.
CREATE TABLE aura_processes (
  process_id text PRIMARY KEY,
  hostname text NOT NULL,
  pid integer NOT NULL,
  worker_ids text[] NOT NULL DEFAULT '{}',
  started_at timestamptz NOT NULL DEFAULT now(),
  last_seen timestamptz NOT NULL DEFAULT now()
);
