-- The retention period is the owner's decision, not the app's: retire_partitions (callable by the app role)
-- now refuses any cutoff newer than audit.settings.retention_days, which only the owner can change (the app
-- writes AURA_AUDIT_RETENTION_DAYS there at start while it still runs as the owner). A compromised app role
-- therefore cannot drop audit partitions earlier than the configured retention. Never less than 30 days.
CREATE TABLE audit.settings (
  id smallint PRIMARY KEY CHECK (id = 1),
  retention_days integer NOT NULL CHECK (retention_days >= 30)
);
INSERT INTO audit.settings VALUES (1, 30);
ALTER TABLE audit.settings OWNER TO aura_audit_owner;
REVOKE ALL ON audit.settings FROM PUBLIC;
GRANT SELECT ON audit.settings TO PUBLIC;

CREATE OR REPLACE FUNCTION audit.retire_partitions(p_cutoff timestamptz) RETURNS SETOF audit.checkpoints
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
DECLARE
  v_part audit.partitions%ROWTYPE;
  v_first bigint;
  v_last bigint;
  v_count bigint;
  v_hash bytea;
  v_checkpoint audit.checkpoints%ROWTYPE;
  v_days integer;
BEGIN
  SELECT retention_days INTO v_days FROM audit.settings WHERE id = 1;
  v_days := greatest(coalesce(v_days, 30), 30);
  IF p_cutoff > clock_timestamp() - make_interval(days => v_days) THEN
    RAISE EXCEPTION 'audit retention cutoff % is less than % days ago (the retention the owner set)', p_cutoff, v_days;
  END IF;
  PERFORM 1 FROM audit.head WHERE id = 1 FOR UPDATE;
  FOR v_part IN
    SELECT * FROM audit.partitions WHERE retired_at IS NULL AND range_to <= p_cutoff ORDER BY range_from
  LOOP
    EXECUTE format('SELECT min(seq), max(seq), count(*) FROM audit.%I', v_part.name) INTO v_first, v_last, v_count;
    IF v_count > 0 THEN
      IF v_last - v_first + 1 <> v_count THEN
        RAISE EXCEPTION 'audit partition % has gaps (% events for seq % to %); refusing to retire it',
          v_part.name, v_count, v_first, v_last;
      END IF;
      EXECUTE format('SELECT hash FROM audit.%I WHERE seq = $1', v_part.name) INTO v_hash USING v_last;
      INSERT INTO audit.checkpoints (partition_name, range_from, range_to, first_seq, last_seq, event_count, last_hash)
      VALUES (v_part.name, v_part.range_from, v_part.range_to, v_first, v_last, v_count, v_hash)
      RETURNING * INTO v_checkpoint;
      RETURN NEXT v_checkpoint;
    END IF;
    EXECUTE format('DROP TABLE audit.%I', v_part.name);
    -- audit.partitions is bookkeeping, not evidence; it is updated here and nowhere else.
    UPDATE audit.partitions SET retired_at = clock_timestamp() WHERE name = v_part.name;
  END LOOP;
END $$;
