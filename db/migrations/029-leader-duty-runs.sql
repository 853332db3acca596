-- When each leader duty that asks for a first delay last ran, by any process (src/queue/leader.ts). A process
-- that takes the lead waits that delay before the duty's first run, unless the duty is already due by this
-- record: with leaders changing faster than the delay (processes restarting one after another), the duty would
-- otherwise never run. Written by the leader after each run, on the database's clock.
CREATE TABLE leader_duty_runs (
  duty text PRIMARY KEY,
  ran_at timestamptz NOT NULL
);
