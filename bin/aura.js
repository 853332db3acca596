#!/usr/bin/env node
// `npx aura …`: runs the TypeScript command line through tsx (no build step needed).
import { register } from "tsx/esm/api";

register();
// The same `.env` as `npm start` reads (a variable set in the environment wins).
const { loadEnvFile } = await import("../src/config/load-env-file.ts");
const { runCli } = await import("../src/cli.ts");
Promise.resolve()
  .then(() => loadEnvFile(process.env))
  .then(() => runCli(process.argv.slice(2)))
  .then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
