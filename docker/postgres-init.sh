#!/bin/bash
# Runs once, as the PostgreSQL superuser, when the postgres service of docker-compose.yml initialises an empty
# data volume (the image runs every file in /docker-entrypoint-initdb.d). It makes the roles Aura needs so
# that neither of them is a superuser:
#   aura_owner        LOGIN, owns the database $POSTGRES_DB and runs the migrations (MIGRATION_DATABASE_URL)
#   aura_audit_owner  NOLOGIN, owns the audit schema (migration 001); aura_owner may act as it
#   aura_app          LOGIN, the app's pool (DATABASE_URL): owns nothing, appends to the audit log only
#                     through audit.append_events (grants made by migration 011 and at every start)
# The superuser itself is used by nothing else. Safe to run again (it only creates what is missing and resets
# the two passwords), e.g. by hand on a volume initialised before this script existed.
set -eo pipefail

: "${AURA_DB_OWNER_PASSWORD:?set AURA_DB_OWNER_PASSWORD for the aura_owner role}"
: "${AURA_DB_APP_PASSWORD:?set AURA_DB_APP_PASSWORD for the aura_app role}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v db="$POSTGRES_DB" -v owner_password="$AURA_DB_OWNER_PASSWORD" -v app_password="$AURA_DB_APP_PASSWORD" <<'SQL'
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_owner') AS create_owner,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_audit_owner') AS create_audit_owner,
       NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'aura_app') AS create_app \gset
\if :create_owner
  CREATE ROLE aura_owner;
\endif
\if :create_audit_owner
  CREATE ROLE aura_audit_owner;
\endif
\if :create_app
  CREATE ROLE aura_app;
\endif
ALTER ROLE aura_owner WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD :'owner_password';
ALTER ROLE aura_audit_owner WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
ALTER ROLE aura_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD :'app_password';
-- Migration 001 hands the audit schema and tables to aura_audit_owner, which the migrating role must be able
-- to act as; a schema's new owner needs CREATE on the database.
GRANT aura_audit_owner TO aura_owner;
ALTER DATABASE :"db" OWNER TO aura_owner;
GRANT CREATE ON DATABASE :"db" TO aura_audit_owner;
SQL
