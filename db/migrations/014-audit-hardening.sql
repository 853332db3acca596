-- Hardening found in review:
-- * Nobody but the owner creates objects in schema public (PostgreSQL 15 and later already default to this;
--   older servers let every role plant e.g. a public.convert_to that a careless search path would pick up).
-- * The chain head row is never removed: verification reports a missing head, and the table refuses it.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

CREATE TRIGGER refuse_statement BEFORE DELETE OR TRUNCATE ON audit.head
  FOR EACH STATEMENT EXECUTE FUNCTION audit.refuse_change();
