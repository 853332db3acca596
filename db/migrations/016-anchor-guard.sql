-- Anchors record a hash the chain really has, and only the app's own roles record them.
-- Until now audit.add_anchor was executable by PUBLIC and stored whatever hash it was given: one bogus row made
-- `aura audit verify` fail for good (anchors are append-only, so the row could never be removed). Now:
-- * the function compares the hash with the stored event's hash at that seq (or, for an event retention has
--   retired, with the checkpoint's last hash) and refuses anything else, saying which hashes differ;
-- * PUBLIC loses EXECUTE: aura_app (the app's pool: status comments, `aura audit anchor`) and the role that
--   runs migrations (the owner; with a single DATABASE_URL it is also the app's role) keep it. Superusers and
--   aura_audit_owner, the function's owner, can call it as before.
CREATE OR REPLACE FUNCTION audit.add_anchor(p_seq bigint, p_hash bytea, p_location text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
DECLARE
  v_stored bytea;
BEGIN
  IF p_seq IS NULL OR p_hash IS NULL OR p_location IS NULL OR p_location = '' THEN
    RAISE EXCEPTION 'audit anchor refused: seq, hash and location are all required'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT e.hash INTO v_stored FROM audit.events e WHERE e.seq = p_seq;
  IF NOT FOUND THEN
    SELECT c.last_hash INTO v_stored FROM audit.checkpoints c WHERE c.last_seq = p_seq ORDER BY c.id DESC LIMIT 1;
  END IF;
  IF v_stored IS NULL THEN
    RAISE EXCEPTION 'audit anchor refused: no stored audit event has seq %', p_seq
      USING ERRCODE = 'no_data_found',
            HINT = 'Anchor the chain head as it is stored (SELECT seq, hash FROM audit.head).';
  END IF;
  IF v_stored <> p_hash THEN
    RAISE EXCEPTION 'audit anchor refused: hash % is not the stored hash of audit event % (%)',
      encode(p_hash, 'hex'), p_seq, encode(v_stored, 'hex')
      USING ERRCODE = 'data_exception',
            HINT = 'An anchor records the hash the chain already has; read it from audit.head or audit.events.';
  END IF;
  INSERT INTO audit.anchors (seq, hash, location) VALUES (p_seq, p_hash, p_location);
END $$;

REVOKE EXECUTE ON FUNCTION audit.add_anchor(bigint, bytea, text) FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_app') THEN
    GRANT EXECUTE ON FUNCTION audit.add_anchor(bigint, bytea, text) TO aura_app;
  END IF;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    EXECUTE format('GRANT EXECUTE ON FUNCTION audit.add_anchor(bigint, bytea, text) TO %I', current_user);
  END IF;
END $$;
