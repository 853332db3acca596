// Starts one embedded PostgreSQL for the whole test run (or uses DATABASE_URL) and hands its admin URL to
// the test files, which each create a fresh database of their own.
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../../src/db/embedded.js";

declare module "vitest" {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const external = process.env.DATABASE_URL;
  if (external) {
    project.provide("adminDatabaseUrl", external);
    return;
  }
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "aura-test-pg-"));
  const database = await startEmbeddedPostgres({ dataDir, persistent: false, database: "postgres" });
  project.provide("adminDatabaseUrl", database.url);
  return async () => {
    await database.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
