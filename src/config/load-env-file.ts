// Reads `.env` into the process environment, which Probot does only inside its own `run()` (the app starts
// Probot's Server itself and never calls it). A variable already set in the real environment wins over the
// file. The file is parsed by node:util's parseEnv, the parser Probot uses to read and rewrite it, so what
// Probot's setup page writes (PRIVATE_KEY in double quotes with its newlines as \n) reads back unchanged.
import { readFileSync } from "node:fs";
import path from "node:path";
import { parseEnv } from "node:util";
import { ConfigError } from "./env.js";

/** Fills `env` from the file; returns the names it set. A missing file sets nothing. */
export function loadEnvFile(env: NodeJS.ProcessEnv, file = path.join(process.cwd(), ".env")): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return [];
    throw new ConfigError([
      {
        variable: file,
        problem: `cannot be read (${code ?? String(error)})`,
        fix: "make it readable by the user running Aura Orchestra, or remove it and set the variables in the environment",
      },
    ]);
  }
  const applied: string[] = [];
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    applied.push(name);
  }
  return applied;
}
