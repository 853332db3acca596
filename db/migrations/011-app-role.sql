-- The application's own login role, aura_app: neither superuser nor owner of anything, so the protections
-- that owners and superusers can switch off (append-only triggers, ownership of the audit tables) hold
-- against the running app. Migrations keep running as the owner; the embedded default connects the app's
-- pool as aura_app (src/db/app-role.ts gives it LOGIN and a password kept in the data dir). With
-- DATABASE_URL the app uses that role as given and warns when it can write the audit log directly.
--
-- aura_app may read and write the application tables in schema public; it reads the audit schema and
-- appends only through audit.append_events (SECURITY DEFINER, owned by aura_audit_owner): it has no INSERT
-- on audit.events. graphile_worker's schema is created after these migrations, so its grants are made at
-- start, after graphile-worker's own migrations (src/db/app-role.ts).
--
-- Rule for later migrations: tables and sequences created in schema public by the migrating role get
-- aura_app's privileges automatically (the default privileges below). A table the app must not change
-- (append-only ledgers) revokes UPDATE and DELETE from aura_app in its own migration; a table in another
-- schema grants explicitly.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_app') THEN
    BEGIN
      CREATE ROLE aura_app NOLOGIN;
    EXCEPTION
      -- Roles belong to the whole cluster: another database's migration may create it at the same moment.
      WHEN duplicate_object OR unique_violation THEN NULL;
      WHEN insufficient_privilege THEN
        RAISE NOTICE 'aura_app was not created: the migrating role may not create roles. The app keeps using DATABASE_URL''s role.';
        RETURN;
    END;
  END IF;

  GRANT USAGE ON SCHEMA public TO aura_app;
  GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO aura_app;
  GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO aura_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO aura_app;
  ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO aura_app;

  -- The app reads which migrations ran (/ready) but never records one.
  REVOKE INSERT, UPDATE, DELETE ON aura_migrations FROM aura_app;
  -- Append-only ledgers: their triggers refuse changes, and the app has no right to try.
  REVOKE UPDATE, DELETE ON outcome_ledger, strike_ledger FROM aura_app;
END $$;
