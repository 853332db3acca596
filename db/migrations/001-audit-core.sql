-- Audit Core: a hash-chained, append-only event log.
--   canonical = RFC 8785 text of {"event": {"action","actor","payload","subject"}, "seq": n, "ts": "..."}
--   hash      = sha256(prev_hash || canonical)
-- The application canonicalises the payload (RFC 8785, with a library) and the database assembles the
-- event around it: keys in RFC 8785 order, strings escaped by to_json (the same escapes RFC 8785 uses).
-- actor, action, subject and payload are generated from the canonical text, so they cannot be edited
-- apart from it (PostgreSQL refuses to write a generated column); seq and ts are real columns (key and
-- partition key), and verification checks them against the canonical text.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_audit_owner') THEN
    CREATE ROLE aura_audit_owner NOLOGIN;
  END IF;
END $$;

CREATE SCHEMA audit;

CREATE TABLE audit.head (
  id smallint PRIMARY KEY CHECK (id = 1),
  seq bigint NOT NULL,
  hash bytea NOT NULL,
  ts timestamptz NOT NULL,
  partitioned_until timestamptz NOT NULL
);
INSERT INTO audit.head VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000', '-infinity', '-infinity');

CREATE TABLE audit.events (
  seq bigint NOT NULL,
  ts timestamptz NOT NULL,
  prev_hash bytea NOT NULL,
  hash bytea NOT NULL,
  canonical text NOT NULL,
  actor text GENERATED ALWAYS AS (canonical::json -> 'event' ->> 'actor') STORED,
  action text GENERATED ALWAYS AS (canonical::json -> 'event' ->> 'action') STORED,
  subject text GENERATED ALWAYS AS (canonical::json -> 'event' ->> 'subject') STORED,
  payload json GENERATED ALWAYS AS (canonical::json -> 'event' -> 'payload') STORED,
  PRIMARY KEY (seq, ts)
) PARTITION BY RANGE (ts);

-- Monthly partitions, recorded here so retention knows their ranges without parsing catalog expressions.
CREATE TABLE audit.partitions (
  name text PRIMARY KEY,
  range_from timestamptz NOT NULL,
  range_to timestamptz NOT NULL,
  retired_at timestamptz
);

-- What remains of a retired partition: enough to continue verification after the rows are gone.
CREATE TABLE audit.checkpoints (
  id bigserial PRIMARY KEY,
  partition_name text NOT NULL,
  range_from timestamptz NOT NULL,
  range_to timestamptz NOT NULL,
  first_seq bigint NOT NULL,
  last_seq bigint NOT NULL,
  event_count bigint NOT NULL,
  last_hash bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Head hashes recorded outside the database (status comments, exported files) so verify can check them.
CREATE TABLE audit.anchors (
  id bigserial PRIMARY KEY,
  seq bigint NOT NULL,
  hash bytea NOT NULL,
  location text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION audit.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit log is append-only: % on %.% is refused', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege',
          HINT = 'Audit events are never changed or removed; retention retires whole partitions after a checkpoint.';
END $$;

-- Row triggers on a partitioned table are cloned to every partition; statement triggers (TRUNCATE among
-- them) are not, so audit.ensure_partition adds those to each partition it creates.
CREATE TRIGGER refuse_row_change BEFORE UPDATE OR DELETE ON audit.events
  FOR EACH ROW EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER refuse_statement BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.events
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER refuse_statement BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
CREATE TRIGGER refuse_statement BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.anchors
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();

-- The chain's clock, in one place so that an operator (or a test) can see where time comes from.
CREATE FUNCTION audit.clock() RETURNS timestamptz LANGUAGE sql VOLATILE AS $$ SELECT clock_timestamp() $$;

CREATE FUNCTION audit.ensure_partition(p_ts timestamptz) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
DECLARE
  v_from timestamptz := date_trunc('month', p_ts AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  v_to timestamptz := (date_trunc('month', p_ts AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
  v_name text := 'events_' || to_char(p_ts AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
  IF NOT EXISTS (SELECT 1 FROM audit.partitions WHERE name = v_name) THEN
    EXECUTE format('CREATE TABLE audit.%I PARTITION OF audit.events FOR VALUES FROM (%L) TO (%L)', v_name, v_from, v_to);
    EXECUTE format('CREATE TRIGGER refuse_statement BEFORE UPDATE OR DELETE OR TRUNCATE ON audit.%I
                    FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change()', v_name);
    INSERT INTO audit.partitions (name, range_from, range_to) VALUES (v_name, v_from, v_to);
  END IF;
  UPDATE audit.head SET partitioned_until = greatest(partitioned_until, v_to) WHERE id = 1;
END $$;

-- The canonical text of one event.
CREATE FUNCTION audit.canonical_text(p_actor text, p_action text, p_subject text, p_payload text, p_seq bigint, p_ts timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT '{"event":{"action":' || to_json(p_action)::text || ',"actor":' || to_json(p_actor)::text
      || ',"payload":' || p_payload || ',"subject":' || to_json(p_subject)::text
      || '},"seq":' || p_seq || ',"ts":"' || to_char(p_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"}'
$$;

-- One call appends a batch in order. p_payloads hold RFC 8785 canonical JSON objects made by the
-- application. seq and ts are assigned here, under the head row lock that serialises all writers.
CREATE FUNCTION audit.append_events(p_actors text[], p_actions text[], p_subjects text[], p_payloads text[])
RETURNS TABLE (seq bigint, hash bytea)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
DECLARE
  v_head audit.head%ROWTYPE;
  v_n int := coalesce(array_length(p_actors, 1), 0);
  v_seq bigint;
  v_prev bytea;
  v_ts timestamptz;
  v_canon text;
  v_seqs bigint[] := '{}';
  v_prevs bytea[] := '{}';
  v_hashes bytea[] := '{}';
  v_canons text[] := '{}';
BEGIN
  IF v_n = 0 THEN RETURN; END IF;
  IF array_length(p_actions, 1) IS DISTINCT FROM v_n OR array_length(p_subjects, 1) IS DISTINCT FROM v_n
     OR array_length(p_payloads, 1) IS DISTINCT FROM v_n THEN
    RAISE EXCEPTION 'audit.append_events needs arrays of equal length';
  END IF;
  SELECT * INTO v_head FROM audit.head WHERE id = 1 FOR UPDATE;
  v_seq := v_head.seq;
  v_prev := v_head.hash;
  -- Never earlier than the previous event, so seq order and partition order agree.
  v_ts := date_trunc('milliseconds', greatest(audit.clock(), v_head.ts));
  IF v_ts >= v_head.partitioned_until THEN
    PERFORM audit.ensure_partition(v_ts);
  END IF;
  FOR i IN 1..v_n LOOP
    v_seq := v_seq + 1;
    IF json_typeof(p_payloads[i]::json) IS DISTINCT FROM 'object' THEN
      RAISE EXCEPTION 'audit payload % is not a JSON object', i;
    END IF;
    v_canon := audit.canonical_text(p_actors[i], p_actions[i], p_subjects[i], p_payloads[i], v_seq, v_ts);
    v_prevs[i] := v_prev;
    v_prev := sha256(v_prev || convert_to(v_canon, 'UTF8'));
    v_seqs[i] := v_seq;
    v_hashes[i] := v_prev;
    v_canons[i] := v_canon;
  END LOOP;
  INSERT INTO audit.events (seq, ts, prev_hash, hash, canonical)
  SELECT u.s, v_ts, u.p, u.h, u.c FROM unnest(v_seqs, v_prevs, v_hashes, v_canons) AS u(s, p, h, c);
  UPDATE audit.head SET seq = v_seq, hash = v_prev, ts = v_ts WHERE id = 1;
  RETURN QUERY SELECT * FROM unnest(v_seqs, v_hashes);
END $$;

-- Retires every month partition that ended before p_cutoff (never less than 30 days ago): writes a
-- checkpoint with the partition's range, first and last seq, count and last hash, then drops the partition.
CREATE FUNCTION audit.retire_partitions(p_cutoff timestamptz) RETURNS SETOF audit.checkpoints
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
DECLARE
  v_part audit.partitions%ROWTYPE;
  v_first bigint;
  v_last bigint;
  v_count bigint;
  v_hash bytea;
  v_checkpoint audit.checkpoints%ROWTYPE;
BEGIN
  IF p_cutoff > clock_timestamp() - interval '30 days' THEN
    RAISE EXCEPTION 'audit retention cutoff % is less than 30 days ago', p_cutoff;
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

CREATE FUNCTION audit.add_anchor(p_seq bigint, p_hash bytea, p_location text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
  INSERT INTO audit.anchors (seq, hash, location) VALUES (p_seq, p_hash, p_location);
$$;

ALTER SCHEMA audit OWNER TO aura_audit_owner;
ALTER TABLE audit.head OWNER TO aura_audit_owner;
ALTER TABLE audit.events OWNER TO aura_audit_owner;
ALTER TABLE audit.partitions OWNER TO aura_audit_owner;
ALTER TABLE audit.checkpoints OWNER TO aura_audit_owner;
ALTER TABLE audit.anchors OWNER TO aura_audit_owner;
ALTER FUNCTION audit.refuse_change() OWNER TO aura_audit_owner;
ALTER FUNCTION audit.clock() OWNER TO aura_audit_owner;
ALTER FUNCTION audit.ensure_partition(timestamptz) OWNER TO aura_audit_owner;
ALTER FUNCTION audit.append_events(text[], text[], text[], text[]) OWNER TO aura_audit_owner;
ALTER FUNCTION audit.canonical_text(text, text, text, text, bigint, timestamptz) OWNER TO aura_audit_owner;
ALTER FUNCTION audit.retire_partitions(timestamptz) OWNER TO aura_audit_owner;
ALTER FUNCTION audit.add_anchor(bigint, bytea, text) OWNER TO aura_audit_owner;

REVOKE ALL ON ALL TABLES IN SCHEMA audit FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA audit FROM PUBLIC;
GRANT USAGE ON SCHEMA audit TO PUBLIC;
GRANT SELECT ON audit.head, audit.events, audit.partitions, audit.checkpoints, audit.anchors TO PUBLIC;
GRANT EXECUTE ON FUNCTION audit.append_events(text[], text[], text[], text[]), audit.retire_partitions(timestamptz),
  audit.canonical_text(text, text, text, text, bigint, timestamptz),
  audit.add_anchor(bigint, bytea, text) TO PUBLIC;
