import { spawn } from "node:child_process";
import { builtinModules } from "node:module";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { getFreePort } from "../../src/db/embedded.js";

const root = path.resolve(".");
const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH ?? "",
  HOME: os.tmpdir(),
  LOG_LEVEL: "warn" as const,
  ...extra,
});

/** Runs a command to its end; resolves with its exit code and output. */
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, output }));
  });
}

async function waitFor(url: string, timeoutMs: number): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url);
      if (response.status === 200) return response;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

/** The packages a compiled file imports at run time (static and dynamic imports, createRequire calls). */
function importedPackages(code: string): string[] {
  const specifiers = [...code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|\bcreateRequire\([^)]*\)\(\s*)"([^"]+)"/g)].map(
    (match) => match[1] as string,
  );
  return specifiers
    .filter((specifier) => !specifier.startsWith(".") && !specifier.startsWith("node:") && !builtinModules.includes(specifier))
    .map((specifier) =>
      specifier
        .split("/")
        .slice(0, specifier.startsWith("@") ? 2 : 1)
        .join("/"),
    );
}

describe("the compiled build", () => {
  it("`npm run build` writes dist/ that needs production dependencies only, `node dist/main.js` serves /health and /ready, and `aura` runs from dist/", async () => {
    const build = await run("npm", ["run", "build"], { cwd: root, env: env() });
    expect(build.code, build.output).toBe(0);

    // The container installs `dependencies` only: nothing compiled may import a development package (tsx, types).
    const pkg = JSON.parse(readFileSync("package.json", "utf8")) as { dependencies: Record<string, string> };
    const compiled = filesUnder(path.join(root, "dist")).filter((file) => /\.m?js$/.test(file));
    const imported = new Set(compiled.flatMap((file) => importedPackages(readFileSync(file, "utf8"))));
    expect([...imported].filter((name) => !(name in pkg.dependencies))).toEqual([]);
    expect([...imported]).toEqual(expect.arrayContaining(["probot", "canonicalize", "pg-copy-streams", "@octokit/rest"]));
    // The scripts read beside the modules at run time are there.
    expect(compiled.map((file) => path.relative(root, file))).toEqual(
      expect.arrayContaining(["dist/main.js", "dist/cli.js", "dist/workspace/sandbox-forwarder.mjs", "dist/audit/verify-worker.js"]),
    );

    // Started from another directory, so migrations and policies are found from dist/ itself, not the working directory.
    const elsewhere = mkdtempSync(path.join(os.tmpdir(), "aura-build-"));
    chmodSync(elsewhere, 0o755);
    const port = await getFreePort();
    const app = spawn(process.execPath, [path.join(root, "dist", "main.js")], {
      cwd: elsewhere,
      env: env({ PORT: String(port), AURA_DATA_DIR: path.join(elsewhere, "data"), NO_SMEE_SETUP: "true", HOST: "127.0.0.1" }),
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    app.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => app.once("exit", (code) => resolve(code)));
    try {
      const health = await waitFor(`http://127.0.0.1:${port}/health`, 60_000);
      const ready = (await (await waitFor(`http://127.0.0.1:${port}/ready`, 30_000)).json()) as { status: string; database: string };

      expect(health.status).toBe(200);
      expect(ready).toMatchObject({ status: "ready", database: "ok" });
    } catch (error) {
      throw new Error(`${(error as Error).message}: ${stderr}`);
    } finally {
      app.kill("SIGTERM");
    }
    expect(await exited).toBe(0);

    // As in the image: bin/aura.js beside dist/ and no src/, so it runs the compiled command line.
    const image = mkdtempSync(path.join(os.tmpdir(), "aura-bin-"));
    mkdirSync(path.join(image, "bin"));
    copyFileSync(path.join(root, "bin", "aura.js"), path.join(image, "bin", "aura.js"));
    symlinkSync(path.join(root, "dist"), path.join(image, "dist"));
    const cli = await run(process.execPath, [path.join(image, "bin", "aura.js"), "help"], { cwd: image, env: env() });

    expect(cli.code, cli.output).toBe(0);
    expect(cli.output).toContain("audit verify");
  }, 180_000);
});
