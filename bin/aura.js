#!/usr/bin/env node
// `npx aura …`: runs the TypeScript command line through tsx (no build step needed).
import { register } from "tsx/esm/api";

register();
const { runCli } = await import("../src/cli.ts");
runCli(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
