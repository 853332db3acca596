-- Live updates for the Director's console (src/console/live.ts): one NOTIFY on channel aura_live per
-- statement that appends audit events or records agent steps, carrying only ids. pg_notify inside a
-- transaction is delivered when it commits (and never if it rolls back), so a listener sees only committed
-- rows; it reads the rows themselves from the tables. Payloads stay far below NOTIFY's 8,000-byte limit:
--   {"k":"a","from":F,"to":T}                  audit seq F..T appended (one audit.append_events call)
--   {"k":"s","runs":[[run_id,task_id,first_step,last_step],...]}   work_steps recorded
-- Statement triggers with a transition table: one notification per append batch, not one per row.

CREATE FUNCTION audit.notify_live() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, audit AS $$
DECLARE
  v_from bigint;
  v_to bigint;
BEGIN
  SELECT min(seq), max(seq) INTO v_from, v_to FROM appended;
  IF v_to IS NOT NULL THEN
    PERFORM pg_notify('aura_live', '{"k":"a","from":' || v_from || ',"to":' || v_to || '}');
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER notify_live AFTER INSERT ON audit.events
  REFERENCING NEW TABLE AS appended
  FOR EACH STATEMENT EXECUTE FUNCTION audit.notify_live();

ALTER FUNCTION audit.notify_live() OWNER TO aura_audit_owner;
REVOKE ALL ON FUNCTION audit.notify_live() FROM PUBLIC;

CREATE FUNCTION public.work_steps_notify_live() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
  v_runs text;
BEGIN
  -- At most 100 runs per notification keeps the payload small; a statement never records more in practice,
  -- and a listener that misses some reads a task's steps from its own cursor when that task's next step comes.
  SELECT string_agg(format('[%s,%s,%s,%s]', r.run_id, w.task_id, r.first_step, r.last_step), ',')
    INTO v_runs
    FROM (SELECT run_id, min(step) AS first_step, max(step) AS last_step FROM recorded GROUP BY run_id ORDER BY run_id LIMIT 100) r
    JOIN public.work_runs w ON w.id = r.run_id;
  IF v_runs IS NOT NULL THEN
    PERFORM pg_notify('aura_live', '{"k":"s","runs":[' || v_runs || ']}');
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER notify_live AFTER INSERT ON work_steps
  REFERENCING NEW TABLE AS recorded
  FOR EACH STATEMENT EXECUTE FUNCTION public.work_steps_notify_live();
