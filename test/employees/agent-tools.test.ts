// The agent's toolbox on a real git work tree with the real bubblewrap sandbox: commands are bounded (output,
// time, network), nothing escapes the tree, no shell state leaks between calls, edits stay inside the scope
// until a grant widens it, and search, read, list and run_tests say what they show.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadProtectedPaths } from "../../src/config/policy-files.js";
import { createToolbox, type ToolboxOptions } from "../../src/employees/agent/tools.js";
import type { ScopeDecision } from "../../src/employees/agent/types.js";
import type { ToolCall } from "../../src/models/tool-calling.js";
import { probeBwrap, type SandboxOptions } from "../../src/workspace/sandbox.js";
import { hermeticGitEnv, makeTempDir } from "../workspace/git-fixture.js";

const probe = probeBwrap();
const sandbox: SandboxOptions = { allowUnsandboxed: false };
const protectedPaths = loadProtectedPaths().protected;

let temp: ReturnType<typeof makeTempDir>;
let tree: string;
let outside: string;
let calls = 0;

function call(name: string, args: Record<string, unknown>): ToolCall {
  calls++;
  return { id: `call-${calls}`, name, rawArguments: JSON.stringify(args), arguments: args };
}

function toolbox(overrides: Partial<ToolboxOptions> = {}) {
  return createToolbox({
    root: tree,
    sandbox,
    commands: { setup: undefined, test: undefined },
    rules: { scope: ["src/**"], protectedPaths, taskClass: "bugfix" },
    requestScope: () => Promise.resolve({ granted: [], refused: [] }),
    ...overrides,
  });
}

beforeEach(() => {
  temp = makeTempDir("aura-agent-tools-");
  tree = path.join(temp.dir, "tree");
  mkdirSync(path.join(tree, "src"), { recursive: true });
  mkdirSync(path.join(tree, "lib"), { recursive: true });
  writeFileSync(path.join(tree, "src", "math.js"), "export const add = (a, b) => a + b;\nexport const sub = (a, b) => a - b;\n");
  writeFileSync(path.join(tree, "lib", "other.js"), "module.exports = 1;\n");
  writeFileSync(path.join(tree, "package.json"), "{}\n");
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", tree], { env: hermeticGitEnv });
  execFileSync("git", ["add", "--all"], { cwd: tree, env: hermeticGitEnv });
  execFileSync("git", ["commit", "--quiet", "-m", "seed"], { cwd: tree, env: hermeticGitEnv });
  outside = path.join(temp.dir, "app-key.pem");
  writeFileSync(outside, "-----BEGIN PRIVATE KEY-----\n");
});

afterEach(() => {
  temp.cleanup();
});

describe("reading the tree", () => {
  it("numbers the lines of a range and says how to read on past the cap", async () => {
    writeFileSync(path.join(tree, "lib", "long.txt"), Array.from({ length: 50 }, (_, i) => `line ${i + 1}`).join("\n") + "\n");
    const tools = toolbox({ limits: { readMaxLines: 10 } });

    const range = await tools.run(call("read_file", { path: "lib/long.txt", start_line: 3, end_line: 5 }));
    const capped = await tools.run(call("read_file", { path: "lib/long.txt", start_line: 20 }));

    expect(range.status).toBe("ok");
    expect(range.observation).toBe("lib/long.txt (50 lines), lines 3-5:\n3\tline 3\n4\tline 4\n5\tline 5");
    expect(range.read).toEqual(["lib/long.txt"]);
    expect(capped.observation).toContain("20\tline 20");
    expect(capped.observation).toContain("29\tline 29");
    expect(capped.observation).not.toContain("30\tline 30");
    expect(capped.observation).toContain("read again with start_line=30");
  });

  it("refuses binary files and lists directories with a trailing slash, .git left out", async () => {
    writeFileSync(path.join(tree, "lib", "image.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
    const tools = toolbox();

    const binary = await tools.run(call("read_file", { path: "lib/image.png" }));
    const root = await tools.run(call("list_dir", {}));

    expect(binary.status).toBe("refused");
    expect(binary.observation).toMatch(/binary file/);
    expect(root.observation).toBe("./ (3 entries):\nlib/\npackage.json\nsrc/");
  });

  it("refuses to read or write outside the tree: parent paths, absolute paths, symbolic links, .git", async () => {
    symlinkSync(outside, path.join(tree, "src", "key.js"));
    mkdirSync(path.join(temp.dir, "elsewhere"));
    symlinkSync(path.join(temp.dir, "elsewhere"), path.join(tree, "src", "linked"));
    const tools = toolbox({ rules: { scope: ["**"], protectedPaths, taskClass: "bugfix" } });

    const outcomes = [
      await tools.run(call("read_file", { path: "../app-key.pem" })),
      await tools.run(call("read_file", { path: outside })),
      await tools.run(call("read_file", { path: "src/key.js" })),
      await tools.run(call("read_file", { path: ".git/config" })),
      await tools.run(call("list_dir", { path: "src/linked" })),
      await tools.run(call("search", { pattern: "PRIVATE", path: "src/linked" })),
      await tools.run(call("edit_file", { path: "src/key.js", search: "PRIVATE", replace: "PUBLIC" })),
      await tools.run(call("create_file", { path: "../app-key.pem", content: "pwned\n" })),
      await tools.run(call("create_file", { path: outside, content: "pwned\n" })),
      await tools.run(call("create_file", { path: "src/linked/planted.js", content: "pwned\n" })),
      await tools.run(call("create_file", { path: ".git/hooks/pre-commit", content: "#!/bin/sh\n" })),
      await tools.run(call("delete_file", { path: "src/key.js" })),
    ];
    const search = await tools.run(call("search", { pattern: "PRIVATE" }));

    expect(outcomes.map((outcome) => outcome.status)).toEqual(Array(outcomes.length).fill("refused"));
    expect(outcomes.map((outcome) => outcome.observation).join("\n")).not.toContain("BEGIN PRIVATE KEY");
    expect(search.observation).toBe('No matches for "PRIVATE".');
    expect(readFileSync(outside, "utf8")).toBe("-----BEGIN PRIVATE KEY-----\n");
    expect(existsSync(path.join(temp.dir, "elsewhere", "planted.js"))).toBe(false);
    expect(existsSync(path.join(tree, ".git", "hooks", "pre-commit"))).toBe(false);
    expect(tools.writes().size).toBe(0);
  });

  it("searches with a regular expression, finds new files, skips ignored ones, and says when it capped", async () => {
    for (let i = 0; i < 30; i++) writeFileSync(path.join(tree, "lib", `n${String(i).padStart(2, "0")}.js`), `const needle${i} = ${i};\n`);
    mkdirSync(path.join(tree, "node_modules"));
    writeFileSync(path.join(tree, "node_modules", "dep.js"), "const needle = 'dependency';\n");
    writeFileSync(path.join(tree, ".gitignore"), "node_modules/\n");
    const tools = toolbox({ limits: { searchMaxResults: 10 } });

    const capped = await tools.run(call("search", { pattern: "needle[0-9]+ =" }));
    const narrow = await tools.run(call("search", { pattern: "needle(7|17) =", glob: "*.js", path: "lib" }));
    const ignored = await tools.run(call("search", { pattern: "dependency" }));
    const invalid = await tools.run(call("search", { pattern: "(" }));

    expect(capped.observation.split("\n").filter((line) => /^lib\/n\d\d\.js:1: /.test(line))).toHaveLength(10);
    expect(capped.observation).toMatch(/capped at 10 matches; there are more/);
    expect(narrow.observation).toBe("2 matches in 2 file(s):\nlib/n07.js:1: const needle7 = 7;\nlib/n17.js:1: const needle17 = 17;");
    expect(narrow.read).toEqual(["lib/n07.js", "lib/n17.js"]);
    expect(ignored.observation).toBe('No matches for "dependency".');
    expect(invalid.status).toBe("error");
    expect(invalid.observation).toMatch(/The search failed: .*Unmatched/);
  });
});

describe("editing inside the scope", () => {
  it("refuses an edit outside the scope with a pointer to request_scope, and allows it after a grant", async () => {
    const requests: { paths: string[]; reason: string }[] = [];
    const requestScope = (paths: string[], reason: string): Promise<ScopeDecision> => {
      requests.push({ paths, reason });
      return Promise.resolve({
        granted: paths.filter((p) => p.startsWith("lib/")),
        refused: paths.filter((p) => !p.startsWith("lib/")).map((p) => ({ path: p, reason: "another task owns it" })),
      });
    };
    const tools = toolbox({ requestScope });
    const edit = call("edit_file", { path: "lib/other.js", search: "= 1;", replace: "= 2;" });

    const before = await tools.run(edit);
    const grant = await tools.run(call("request_scope", { paths: ["lib/other.js", "docs/x.md"], reason: "the bug is in lib/other.js" }));
    const after = await tools.run(edit);

    expect(before.status).toBe("refused");
    expect(before.observation).toMatch(/outside the task's scope/);
    expect(before.observation).toMatch(/request_scope/);
    expect(grant.status).toBe("ok");
    expect(grant.observation).toBe("Granted: lib/other.js. You may now edit these paths.\nRefused: docs/x.md: another task owns it");
    expect(grant.scope).toEqual({
      requested: ["lib/other.js", "docs/x.md"],
      reason: "the bug is in lib/other.js",
      decision: { granted: ["lib/other.js"], refused: [{ path: "docs/x.md", reason: "another task owns it" }] },
    });
    expect(requests).toEqual([{ paths: ["lib/other.js", "docs/x.md"], reason: "the bug is in lib/other.js" }]);
    expect(tools.scope()).toEqual(["src/**", "lib/other.js"]);
    expect(after.status).toBe("ok");
    expect(after.changed).toEqual(["lib/other.js"]);
    expect(readFileSync(path.join(tree, "lib", "other.js"), "utf8")).toBe("module.exports = 2;\n");
    expect(tools.writes()).toEqual(new Map([["lib/other.js", "module.exports = 2;\n"]]));
  });

  it("refuses scope requests for unsafe paths itself and asks the rule layer only about the rest", async () => {
    const asked: string[][] = [];
    const tools = toolbox({
      requestScope: (paths) => {
        asked.push(paths);
        return Promise.resolve({ granted: paths, refused: [] });
      },
    });

    const mixed = await tools.run(call("request_scope", { paths: ["../outside/**", ".git/hooks/*", "lib/other.js"], reason: "needed" }));
    const onlyUnsafe = await tools.run(call("request_scope", { paths: ["/etc/passwd"], reason: "needed" }));

    expect(asked).toEqual([["lib/other.js"]]);
    expect(mixed.scope?.decision.granted).toEqual(["lib/other.js"]);
    expect(mixed.scope?.decision.refused.map((entry) => entry.path)).toEqual(["../outside/**", ".git/hooks/*"]);
    expect(onlyUnsafe.status).toBe("refused");
    expect(onlyUnsafe.observation).toMatch(/^Refused: \/etc\/passwd: .*relative to the repository root/);
    expect(tools.scope()).toEqual(["src/**", "lib/other.js"]);
  });

  it("replaces exactly once: no match and two matches are errors that say how to fix the search", async () => {
    const tools = toolbox();

    const none = await tools.run(call("edit_file", { path: "src/math.js", search: "a * b", replace: "a + b" }));
    const twice = await tools.run(call("edit_file", { path: "src/math.js", search: "(a, b) =>", replace: "(x, y) =>" }));
    const once = await tools.run(call("edit_file", { path: "src/math.js", search: "a - b", replace: "a - b - 0" }));

    expect(none.status).toBe("error");
    expect(none.observation).toMatch(/does not occur in the file/);
    expect(twice.status).toBe("error");
    expect(twice.observation).toMatch(/occurs 2 times; include more surrounding lines so it matches exactly once \(at lines 1, 2\)/);
    expect(once.status).toBe("ok");
    expect(once.observation).toContain("2\texport const sub = (a, b) => a - b - 0;");
    expect(readFileSync(path.join(tree, "src", "math.js"), "utf8")).toBe("export const add = (a, b) => a + b;\nexport const sub = (a, b) => a - b - 0;\n");
  });

  it("creates and deletes files inside the scope and records the final content of each", async () => {
    const tools = toolbox();

    const created = await tools.run(call("create_file", { path: "src/new/util.js", content: "export const one = 1;\n" }));
    const deleted = await tools.run(call("delete_file", { path: "src/math.js" }));
    const missing = await tools.run(call("delete_file", { path: "src/nothing.js" }));

    expect(created.observation).toBe("Created src/new/util.js (1 lines, 22 bytes).");
    expect(deleted.changed).toEqual(["src/math.js"]);
    expect(missing.status).toBe("error");
    expect(existsSync(path.join(tree, "src", "math.js"))).toBe(false);
    expect(tools.writes()).toEqual(
      new Map([
        ["src/new/util.js", "export const one = 1;\n"],
        ["src/math.js", null],
      ]),
    );
  });
});

describe("calls the toolbox cannot run", () => {
  it("answers an unknown tool, arguments the provider flagged, and arguments that do not match the schema", async () => {
    const tools = toolbox();

    const unknown = await tools.run(call("rm_rf", {}));
    const flagged = await tools.run({ id: "x", name: "read_file", rawArguments: "{path:", argumentError: "the arguments are not JSON" });
    const mismatched = await tools.run(call("read_file", { path: "src/math.js", start_line: 0, extra: true }));
    const nullOptional = await tools.run(call("read_file", { path: "src/math.js", start_line: null, end_line: null }));

    expect(unknown.status).toBe("error");
    expect(unknown.observation).toMatch(/no tool named "rm_rf".*run_command, read_file/);
    expect(flagged.observation).toMatch(/not valid: the arguments are not JSON/);
    expect(mismatched.status).toBe("error");
    expect(mismatched.observation).toMatch(/start_line/);
    expect(nullOptional.status).toBe("ok");
  });

  it("gives the model a strict schema and a description for every tool, and ends the loop on submit", async () => {
    const tools = toolbox();

    const submitted = await tools.run(call("submit", { summary: "fixed", tested: "npm test", remaining: "" }));

    expect(tools.specs.map((spec) => spec.name)).toEqual([
      "run_command",
      "read_file",
      "search",
      "list_dir",
      "edit_file",
      "create_file",
      "delete_file",
      "run_tests",
      "request_scope",
      "submit",
    ]);
    expect(tools.specs.every((spec) => /^[a-z_]{1,64}$/.test(spec.name) && spec.description.length > 20)).toBe(true);
    expect(tools.specs.every((spec) => !spec.parameters.safeParse({ unexpected: 1 }).success)).toBe(true);
    expect(submitted.submission).toEqual({ summary: "fixed", tested: "npm test", remaining: "" });
  });
});

describe.skipIf(!probe.ok)("commands in the sandbox", () => {
  let server: net.Server;
  let port: number;

  beforeAll(async () => {
    server = net.createServer((socket) => socket.end("hello from the host\n"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  it("cuts a flood of output to its head and tail within the budget, and the process ends", async () => {
    const tools = toolbox({ limits: { observationBytes: 4096 } });

    const outcome = await tools.run(call("run_command", { command: "seq 1 300000" }));

    expect(outcome.exitCode).toBe(0);
    expect(outcome.timedOut).toBe(false);
    expect(
      outcome.observation.startsWith(
        "$ seq 1 300000\nExit code: 0.\nOutput (stdout and stderr, 1988895 bytes in all: the start and the end are shown):\n1\n2\n3\n",
      ),
    ).toBe(true);
    expect(outcome.observation.endsWith("299999\n300000\n")).toBe(true);
    expect(outcome.observation).toMatch(/bytes omitted|bytes cut from the middle/);
    expect(Buffer.byteLength(outcome.observation)).toBeLessThan(4096 + 400);
  });

  it("stops a command that hangs at the per-command timeout and says so", async () => {
    const tools = toolbox({ limits: { commandTimeoutMs: 1000 } });

    const outcome = await tools.run(call("run_command", { command: "echo started; sleep 600" }));

    expect(outcome.status).toBe("error");
    expect(outcome.timedOut).toBe(true);
    expect(outcome.observation).toMatch(/Timed out: stopped after 1 s/);
    expect(outcome.observation).toContain("started");
  });

  it("has no network: a server listening on the host is out of reach", async () => {
    const tools = toolbox();
    const script = `require('net').connect(${port}, '127.0.0.1').on('connect', () => { console.log('connected'); process.exit(0) }).on('error', (e) => { console.log('error', e.code); process.exit(3) })`;

    const outcome = await tools.run(call("run_command", { command: `node -e "${script}"` }));

    expect(outcome.exitCode).toBe(3);
    expect(outcome.observation).toMatch(/error ECONNREFUSED|error ENETUNREACH/);
    expect(outcome.observation).not.toMatch(/^connected$/m);
  });

  it("runs every command in a fresh process: cd, exports, variables and /tmp do not carry over", async () => {
    const tools = toolbox();

    const first = await tools.run(call("run_command", { command: "cd src && export AURA_X=exported && Y=set && echo note > /tmp/note && pwd" }));
    const second = await tools.run(call("run_command", { command: 'pwd; echo "x=${AURA_X:-unset} y=${Y:-unset}"; cat /tmp/note 2>&1 || true' }));

    expect(first.observation).toContain("/workspace/src");
    expect(second.observation).toMatch(/\n\/workspace\nx=unset y=unset\ncat: \/tmp\/note: No such file or directory/);
  });

  it("runs the repository's tests: a pass, then a failure after an edit; setup runs once", async () => {
    writeFileSync(path.join(tree, "src", "check.js"), "const ok = true;\nprocess.exit(ok ? 0 : 1);\n");
    const tools = toolbox({ commands: { setup: "echo setup >> setup.log", test: "node src/check.js && echo all good" } });

    const passed = await tools.run(call("run_tests", {}));
    await tools.run(call("edit_file", { path: "src/check.js", search: "const ok = true;", replace: "const ok = false;" }));
    const failed = await tools.run(call("run_tests", {}));

    expect(passed.test?.exitCode).toBe(0);
    expect(passed.observation).toMatch(/^Setup \(echo setup >> setup.log\) passed.\nTests passed./);
    expect(passed.observation).toContain("all good");
    expect(failed.test?.exitCode).toBe(1);
    expect(failed.exitCode).toBe(1);
    expect(failed.observation).toMatch(/^Tests FAILED/);
    expect(readFileSync(path.join(tree, "setup.log"), "utf8")).toBe("setup\n");
  });
});
