import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "src/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    setupFiles: ["test/helpers/no-network.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Vitest runs one file at a time on a 2-core machine (its default is the CPU count less one); the tests wait
    // mostly on PostgreSQL, git and sandbox processes, so three files at once use the machine and keep CI short.
    maxWorkers: 3,
    env: { NO_SMEE_SETUP: "true", LOG_LEVEL: "silent" },
  },
});
