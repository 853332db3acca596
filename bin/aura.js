#!/usr/bin/env node
// `npx aura …`: the command line. A checkout with its development dependencies runs the TypeScript sources
// through tsx, so an edit counts at once and no build is needed (and a stale dist/ is never run by mistake);
// an install without them (the container: `npm ci --omit=dev`, no src/) runs the compiled dist/ of `npm run build`.
import { existsSync } from "node:fs";
import { URL } from "node:url";

const source = new URL("../src/cli.ts", import.meta.url);
const compiled = new URL("../dist/cli.js", import.meta.url);

/** tsx's loader when it is installed (a development install), else undefined. */
async function tsxLoader() {
  try {
    return await import("tsx/esm/api");
  } catch (error) {
    if (error?.code === "ERR_MODULE_NOT_FOUND") return undefined;
    throw error;
  }
}

async function loadCli() {
  const tsx = existsSync(source) ? await tsxLoader() : undefined;
  if (tsx) {
    tsx.register();
    const { loadEnvFile } = await import("../src/config/load-env-file.ts");
    const { runCli } = await import("../src/cli.ts");
    return { loadEnvFile, runCli };
  }
  if (existsSync(compiled)) {
    const { loadEnvFile } = await import("../dist/config/load-env-file.js");
    const { runCli } = await import("../dist/cli.js");
    return { loadEnvFile, runCli };
  }
  throw new Error(
    "aura: neither the TypeScript sources with tsx nor a build was found. Run `npm install` (development) or `npm run build` (compiled, into dist/).",
  );
}

loadCli()
  .then(({ loadEnvFile, runCli }) => {
    // The same `.env` as `npm start` reads (a variable set in the environment wins).
    loadEnvFile(process.env);
    return runCli(process.argv.slice(2));
  })
  .then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(1);
    },
  );
