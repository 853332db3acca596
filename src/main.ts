// Process entry point for `npm start`: read `.env`, parse configuration, start Aura, stop cleanly on
// SIGINT/SIGTERM.
import { ConfigError, loadConfig } from "./config/env.js";
import { loadEnvFile } from "./config/load-env-file.js";
import { startAura } from "./server/start.js";

async function main(): Promise<void> {
  let config;
  try {
    loadEnvFile(process.env);
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const aura = await startAura(config);
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`Received ${signal}; stopping Aura Orchestra.\n`);
    aura.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

main().catch((error: unknown) => {
  process.stderr.write(`Aura Orchestra failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
