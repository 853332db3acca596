-- GitHub write pacing shared by every process on this database (src/github/write-pacer.ts). GitHub's
-- secondary limits count content-creating requests per installation: at most 80 a minute and 500 an hour.
-- Each such request first takes a slot, a time at which it may be sent, from take_github_write_slot; the
-- process then waits until that time. Slots are times, not locks: a process killed while waiting for its slot
-- holds nothing (the slot is merely spent), and the row lock below lasts only for the function call.
--
-- The hour is a rolling window, not a fixed one: a fixed clock hour lets 2 x budget through around its
-- boundary (a full budget in its last minute, another in the next hour's first), whereas a new slot is placed
-- at least `hour` after the per_hour-th most recent slot, so no span of `hour` ever holds more than per_hour
-- slots. Within the hour, slots are at least `spacing` apart (a minute divided by the per-minute limit).

-- The installation's most recent slot; its row is also the lock that orders the installation's slot-takers.
CREATE TABLE github_write_pacing (
  installation_id bigint PRIMARY KEY,
  last_slot timestamptz NOT NULL
);

-- The slots of the last hour (older ones are pruned as new ones are taken). Slots of one installation are
-- strictly increasing, so (installation_id, slot_at) is unique and its index finds the per_hour-th newest.
CREATE TABLE github_write_slots (
  installation_id bigint NOT NULL,
  slot_at timestamptz NOT NULL,
  PRIMARY KEY (installation_id, slot_at)
);

-- Takes the installation's next slot: the earliest time that is now or later, at least p_spacing_ms after its
-- previous slot, and at least p_hour_ms after its p_per_hour-th most recent slot. Returns how long to wait
-- (ms, by the database's clock, so processes on hosts whose clocks differ still agree), the slot, and which
-- bound set it ('now', 'pace' or 'hour'). One call, one round trip; the database clock is read again after
-- the row lock is granted, so a caller that queued behind another never gets a slot in the past.
CREATE FUNCTION take_github_write_slot(p_installation bigint, p_spacing_ms double precision, p_per_hour integer, p_hour_ms double precision)
RETURNS TABLE (wait_ms double precision, slot timestamptz, bound text)
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
  v_now timestamptz;
  v_last timestamptz;
  v_oldest timestamptz;
  v_pace timestamptz;
  v_hour timestamptz;
  v_slot timestamptz;
BEGIN
  INSERT INTO github_write_pacing (installation_id, last_slot) VALUES (p_installation, '-infinity')
    ON CONFLICT (installation_id) DO NOTHING;
  SELECT p.last_slot INTO v_last FROM github_write_pacing p WHERE p.installation_id = p_installation FOR UPDATE;
  v_now := clock_timestamp();
  -- The per_hour-th newest slot: a new one must fall outside the hour that starts there.
  SELECT s.slot_at INTO v_oldest FROM github_write_slots s
    WHERE s.installation_id = p_installation ORDER BY s.slot_at DESC OFFSET p_per_hour - 1 LIMIT 1;
  v_pace := v_last + make_interval(secs => p_spacing_ms / 1000);
  v_hour := coalesce(v_oldest + make_interval(secs => p_hour_ms / 1000), '-infinity');
  v_slot := greatest(v_now, v_pace, v_hour);
  bound := CASE WHEN v_slot = v_now THEN 'now' WHEN v_slot = v_hour THEN 'hour' ELSE 'pace' END;
  INSERT INTO github_write_slots (installation_id, slot_at) VALUES (p_installation, v_slot);
  UPDATE github_write_pacing SET last_slot = v_slot WHERE installation_id = p_installation;
  -- Slots older than an hour before this one can never bound a later slot.
  DELETE FROM github_write_slots s
    WHERE s.installation_id = p_installation AND s.slot_at < v_slot - make_interval(secs => p_hour_ms / 1000);
  slot := v_slot;
  wait_ms := greatest(0, extract(epoch FROM v_slot - clock_timestamp()) * 1000);
  RETURN NEXT;
END $$;
