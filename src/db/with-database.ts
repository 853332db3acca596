// The database a command-line tool works on: DATABASE_URL (or, as the owner, MIGRATION_DATABASE_URL first), or
// else the embedded server in AURA_DATA_DIR, started for the command and stopped after it (reused when the app
// is running).
import type { AppConfig } from "../config/env.js";
import { startEmbeddedPostgres } from "./embedded.js";
import { createPool } from "./pool.js";

/** Runs `fn` with the URL of the app's database (`as: "owner"`: the owner's, which may create and drop). */
export async function withDatabase<T>(config: AppConfig, fn: (url: string) => Promise<T>, as: "app" | "owner" = "app"): Promise<T> {
  const url = as === "owner" ? (config.MIGRATION_DATABASE_URL ?? config.DATABASE_URL) : config.DATABASE_URL;
  if (url) return fn(url);
  const embedded = await startEmbeddedPostgres({ dataDir: config.AURA_DATA_DIR, port: config.AURA_PG_PORT });
  try {
    return await fn(embedded.url);
  } finally {
    await embedded.stop();
  }
}

/** Runs `fn` with a small pool on the app's database, ended afterwards. */
export async function withPool<T>(config: AppConfig, fn: (pool: ReturnType<typeof createPool>) => Promise<T>): Promise<T> {
  return withDatabase(config, async (url) => {
    const pool = createPool(url, { max: 2 });
    try {
      return await fn(pool);
    } finally {
      await pool.end();
    }
  });
}
