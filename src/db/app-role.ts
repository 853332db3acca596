// The app's database role. On the embedded default, migrations run as the cluster's superuser and the app's
// pool then connects as aura_app (made by migration 011): not superuser, owner of nothing, able to append to
// the audit log only through audit.append_events. With MIGRATION_DATABASE_URL (docker-compose.yml) the owner
// runs the migrations and DATABASE_URL must be aura_app, made outside Aura (docker/postgres-init.sh). With
// DATABASE_URL alone the role is the operator's choice; the check here says when that role could write the
// audit log directly, so /ready and the log can warn.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { openClient } from "./pool.js";

export const APP_ROLE = "aura_app";

/** Where the embedded default keeps aura_app's generated password (0600, next to the superuser's). */
export function appRolePasswordFile(dataDir: string): string {
  return path.join(path.resolve(dataDir), "aura_app.password");
}

export class AppRoleError extends Error {
  override name = "AppRoleError";
}

function readOrCreatePassword(file: string): string {
  if (existsSync(file)) {
    const stored = readFileSync(file, "utf8").trim();
    if (stored !== "") return stored;
  }
  const password = randomBytes(24).toString("base64url");
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  return password;
}

/**
 * Run as the owner after every migration (ours and graphile-worker's): gives aura_app LOGIN with the stored
 * password (created on first use) and no elevated attributes, grants it graphile-worker's schema, and
 * returns the connection string the app's pool uses.
 */
export async function prepareAppRole(ownerUrl: string, options: { dataDir: string }): Promise<string> {
  const password = readOrCreatePassword(appRolePasswordFile(options.dataDir));
  const client = await openClient(ownerUrl);
  try {
    const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [APP_ROLE]);
    if (exists.rowCount === 0) throw new AppRoleError(`the ${APP_ROLE} role does not exist: migration 011 should have created it`);
    const role = client.escapeIdentifier(APP_ROLE);
    // The password is a literal here (ALTER ROLE takes no parameters); it is random base64url text, and the
    // embedded server does not log statements.
    await client.query(
      `ALTER ROLE ${role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD ${client.escapeLiteral(password)}`,
    );
    await grantWorkerSchema(client);
  } finally {
    await client.end();
  }
  const url = new URL(ownerUrl);
  url.username = APP_ROLE;
  url.password = password;
  return url.toString();
}

/**
 * Run as the owner after every migration when the app's role was made outside Aura (MIGRATION_DATABASE_URL
 * and DATABASE_URL both set): grants aura_app graphile-worker's schema, and changes nothing about the role.
 */
export async function grantAppRole(ownerUrl: string): Promise<void> {
  const client = await openClient(ownerUrl);
  try {
    const exists = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [APP_ROLE]);
    if (exists.rowCount === 0) {
      throw new AppRoleError(
        `the ${APP_ROLE} role does not exist: create it before the first start (docker/postgres-init.sh does) or unset MIGRATION_DATABASE_URL`,
      );
    }
    await grantWorkerSchema(client);
  } finally {
    await client.end();
  }
}

async function grantWorkerSchema(client: pg.Client): Promise<void> {
  const role = client.escapeIdentifier(APP_ROLE);
  // graphile-worker creates its schema after our migrations and may add tables when it is upgraded: grant
  // on every start. The worker only reads graphile_worker.migrations once everything is applied.
  await client.query(`GRANT USAGE ON SCHEMA graphile_worker TO ${role};
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA graphile_worker TO ${role};
    GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA graphile_worker TO ${role};
    GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA graphile_worker TO ${role};
    REVOKE INSERT, UPDATE, DELETE ON graphile_worker.migrations FROM ${role}`);
  // graphile-worker turns on row-level security for its private tables (no policy: only owners and
  // superusers see rows). aura_app gets a policy on each of them instead of the cluster-wide BYPASSRLS.
  await client.query(`DO $$
    DECLARE t record;
    BEGIN
      FOR t IN SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'graphile_worker' AND c.relkind IN ('r', 'p') AND c.relrowsecurity
                 AND NOT EXISTS (SELECT 1 FROM pg_policies p WHERE p.schemaname = 'graphile_worker'
                                 AND p.tablename = c.relname AND p.policyname = 'aura_app_access')
      LOOP
        EXECUTE format('CREATE POLICY aura_app_access ON graphile_worker.%I FOR ALL TO ${APP_ROLE} USING (true) WITH CHECK (true)', t.relname);
      END LOOP;
    END $$`);
}

/**
 * With MIGRATION_DATABASE_URL set the operator has separated the owner from the app, so DATABASE_URL must be
 * aura_app (or a role that inherits it) and nothing stronger: anything else is refused at start, not warned about.
 */
export function requireSeparateAppRole(check: AppRoleCheck, isAppRole: boolean): void {
  // The last warning is the advice to use aura_app, which the error below gives in its own words.
  const problems = check.warnings.slice(0, -1);
  if (!isAppRole) problems.push(`the app's database role ${check.role} is not ${APP_ROLE} and does not inherit its privileges`);
  if (problems.length === 0) return;
  throw new AppRoleError(
    `MIGRATION_DATABASE_URL is set, so DATABASE_URL must connect as ${APP_ROLE}, which owns nothing: ${problems.join("; ")}. ` +
      `Point DATABASE_URL at ${APP_ROLE} (docker/postgres-init.sh creates it) and keep the owner in MIGRATION_DATABASE_URL.`,
  );
}

/** Whether the pool's role is aura_app or inherits its privileges (a superuser always does). */
export async function actsAsAppRole(db: Pick<pg.Pool, "query">): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>(
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) THEN pg_has_role(current_user, $1, 'USAGE') ELSE false END AS ok",
    [APP_ROLE],
  );
  return rows[0]?.ok === true;
}

export type AppRoleCheck = {
  role: string;
  superuser: boolean;
  /** The role owns audit.events, or is a member of its owner. */
  ownsAudit: boolean;
  /** The role may INSERT into audit.events directly (bypassing the chain function). */
  canInsertAudit: boolean;
  /** Why this role weakens the audit log, in words for /ready and the log (empty when it does not). */
  warnings: string[];
};

/** What the pool's role could do to the audit log outside audit.append_events. */
export async function checkAppRole(db: Pick<pg.Pool, "query">): Promise<AppRoleCheck> {
  const { rows } = await db.query<{ role: string; superuser: boolean; owns_audit: boolean; can_insert: boolean; creates_public: boolean }>(
    `SELECT current_user AS role,
            r.rolsuper AS superuser,
            pg_has_role(current_user, c.relowner, 'USAGE') AS owns_audit,
            has_table_privilege(current_user, c.oid, 'INSERT') AS can_insert,
            has_schema_privilege(current_user, 'public', 'CREATE') AS creates_public
     FROM pg_roles r, pg_class c
     WHERE r.rolname = current_user AND c.oid = 'audit.events'::regclass`,
  );
  const row = rows[0];
  if (!row) throw new AppRoleError("cannot inspect the database role: audit.events is missing");
  const warnings: string[] = [];
  if (row.superuser) warnings.push(`the app's database role ${row.role} is a superuser: it can disable the audit log's triggers`);
  if (row.owns_audit && !row.superuser) warnings.push(`the app's database role ${row.role} owns audit.events (or is a member of its owner)`);
  if (row.can_insert && !row.superuser && !row.owns_audit) warnings.push(`the app's database role ${row.role} may INSERT into audit.events directly`);
  if (row.creates_public && !row.superuser && !row.owns_audit) {
    warnings.push(`the app's database role ${row.role} may create objects in schema public (functions there could shadow built-ins for other roles)`);
  }
  if (warnings.length > 0) {
    warnings.push(`connect the app as a role like ${APP_ROLE} (see migration 011) and keep the owner for migrations`);
  }
  return { role: row.role, superuser: row.superuser, ownsAudit: row.owns_audit, canInsertAudit: row.can_insert, warnings };
}
