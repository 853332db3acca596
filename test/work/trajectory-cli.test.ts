// `aura trajectory` as a person runs it: the CLI in a child process (tsx, as `npm run aura` does) against the
// test database, a task named by its id or by owner/repo#issue:task-key, a readable text listing, --json with
// everything, and one clear message with a non-zero exit for a task that does not exist.
import { spawn } from "node:child_process";
import os from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../helpers/database.js";
import { recordRun, toolStep, trajectoryTask, turnStep } from "./trajectory-fixtures.js";

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db.drop();
});

function aura(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: os.tmpdir(), DATABASE_URL: db.url, LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

const LONG_OBSERVATION = `src/login.js:3: ${"x".repeat(500)}\nsecond line`;

describe("aura trajectory", () => {
  it("prints each run and its steps, by task id and by owner/repo#issue:task-key; --json gives everything", async () => {
    const { taskId } = await trajectoryTask(db, 501);
    await recordRun(
      db,
      taskId,
      [
        turnStep("search"),
        toolStep("search", { pattern: "login\\(" }, LONG_OBSERVATION),
        turnStep("run_command"),
        toolStep("run_command", { command: "node --test\n  test/login.test.js" }, "\n✖ 1 failing\nAssertionError", 1),
      ],
      { end: { endReason: "step-cap", guidance: ["AGENTS.md"] }, maxSteps: 2 },
    );
    await recordRun(db, taskId, [turnStep("read_file")], { employeeId: "gemini-2.5-flash" });

    const byId = await aura(["trajectory", String(taskId)]);
    const byName = await aura(["trajectory", "octo-org/widgets#501:fix-login"]);
    const json = await aura(["trajectory", "octo-org/widgets#501/fix-login", "--json"]);

    expect(byId.code, byId.stderr).toBe(0);
    const lines = byId.stdout.split("\n");
    expect(lines[0]).toBe(`Task ${taskId} · octo-org/widgets#501:fix-login · Fix login (queued)`);
    expect(byId.stdout).toMatch(/Run 1 \(id \d+\) · gpt-4\.1-mini · native · attempt 1, revision round 0/);
    expect(byId.stdout).toMatch(/started \S+Z, ended \S+Z \(\d+\.\d s\) · end: step-cap · 4 steps \(2 model turns of at most 2\)/);
    expect(byId.stdout).toMatch(/digest [0-9a-f]{64}/);
    expect(byId.stdout).toContain("guidance: AGENTS.md");
    const search = lines.find((line) => /^\s+2 {2}search/.test(line)) ?? "";
    expect(search).toContain("pattern=login\\(");
    expect(search).toContain("42");
    expect(search).toContain("src/login.js:3: xxx");
    expect(search).not.toContain("second line");
    expect(search.length).toBeLessThan(200);
    const command = lines.find((line) => /^\s+4 {2}run_command/.test(line)) ?? "";
    expect(command).toMatch(/run_command\s+node --test test\/login\.test\.js\s+1\s+42\s+✖ 1 failing/);
    const turn = lines.find((line) => /^\s+1 {2}\(turn\)/.test(line)) ?? "";
    expect(turn).toMatch(/gpt-4\.1-mini\s+900\s+1000\+50\s+\$0\.0012\s+\[calls: search\]/);
    expect(byId.stdout).toMatch(/Run 2 \(id \d+\) · gemini-2\.5-flash · native/);
    expect(byId.stdout).toContain("still open · end: none yet · 1 step (1 model turn of at most 50)");
    expect(byName.code).toBe(0);
    expect(byName.stdout).toBe(byId.stdout);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(json.stdout) as {
      task: { id: number };
      runs: { endReason: string; guidance: string[]; stepRecords: { observation: string }[] }[];
    };
    expect(parsed.task.id).toBe(taskId);
    expect(parsed.runs).toHaveLength(2);
    expect(parsed.runs[0]).toMatchObject({ endReason: "step-cap", guidance: ["AGENTS.md"] });
    expect(parsed.runs[0]?.stepRecords[1]?.observation).toBe(LONG_OBSERVATION);
  });

  it("says when a task has no runs yet", async () => {
    const { taskId } = await trajectoryTask(db, 502);

    const result = await aura(["trajectory", String(taskId)]);

    expect(result.code).toBe(0);
    expect(result.stdout).toContain("No work runs yet: no employee has started on this task.");
  });

  it("answers an unknown task with one message and exit code 1, and a malformed name with the usage and exit code 2", async () => {
    const unknownId = await aura(["trajectory", "999999"]);
    const unknownName = await aura(["trajectory", "octo-org/widgets#501:no-such-task"]);
    const malformed = await aura(["trajectory", "fix-login"]);

    expect(unknownId).toMatchObject({ code: 1, stderr: "" });
    expect(unknownId.stdout).toBe(
      'No task matches "999999". Name it by its id (aura trajectory 12) or as owner/repo#issue:task-key (aura trajectory octo-org/widgets#42:fix-login).\n',
    );
    expect(unknownName.code).toBe(1);
    expect(unknownName.stdout).toContain('No task matches "octo-org/widgets#501:no-such-task".');
    expect(malformed.code).toBe(2);
    expect(malformed.stdout).toContain('"fix-login" is not a task id or owner/repo#issue:task-key.');
    expect(malformed.stdout).toContain("Usage: aura trajectory <task> [--json]");
  });
});
