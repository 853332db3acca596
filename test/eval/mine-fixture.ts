// A tiny node:test project with a real history for the mining tests: each commit is made by the system git
// with a fixed date, so nothing depends on today's date. Newest first, the commits are:
//   6 "Fix mul for negative numbers"  fixes mul (broken by 5) and adds a test: kept
//   5 "Add square"                    adds square and a test, but breaks mul: PASS_TO_PASS violated
//   4 "Tidy add"                      a comment in add and a test that passes before: rejected
//   3 "Document usage"                README only: not a candidate
//   2 "Fix add: it subtracted"        fixes add and adds its test: kept
//   1 "Start the math module"         the root commit
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { hermeticGitEnv } from "../workspace/git-fixture.js";

const AURA_YML = "test: node --test\n";

const math = (add: string, mul: string, extra = "") => `exports.add = (a, b) => ${add};\nexports.mul = (a, b) => ${mul};\n${extra}`;
const MUL_TEST = `const test = require("node:test");\nconst assert = require("node:assert");\nconst { mul } = require("../src/math.js");\ntest("multiplies", () => assert.equal(mul(2, 3), 6));\n`;
const ADD_TEST = `const test = require("node:test");\nconst assert = require("node:assert");\nconst { add } = require("../src/math.js");\ntest("adds", () => assert.equal(add(2, 3), 5));\n`;
const ADD_ZERO_TEST = `${ADD_TEST}test("adds zero", () => assert.equal(add(2, 0), 2));\n`;
const SQUARE_TEST = `const test = require("node:test");\nconst assert = require("node:assert");\nconst { square } = require("../src/math.js");\ntest("squares", () => assert.equal(square(3), 9));\n`;
const NEGATIVE_TEST = `${MUL_TEST}test("multiplies negatives", () => assert.equal(mul(-2, 3), -6));\n`;

export type MinedHistory = { repo: string; shas: Record<"root" | "fixAdd" | "docs" | "tidy" | "square" | "fixMul", string> };

function commit(repo: string, day: number, message: string, files: Record<string, string>): string {
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(repo, file)), { recursive: true });
    writeFileSync(path.join(repo, file), content);
  }
  const env = { ...hermeticGitEnv, GIT_AUTHOR_DATE: `2024-01-0${day}T12:00:00Z`, GIT_COMMITTER_DATE: `2024-01-0${day}T12:00:00Z` };
  const run = (...args: string[]) => execFileSync("git", args, { cwd: repo, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  run("add", "--all");
  run("commit", "--quiet", "-m", message);
  return run("rev-parse", "HEAD").trim();
}

/** Builds the history above in `parent/name` and returns the commits' SHAs; `messages` replaces the two fixes' messages. */
export function buildMinedHistory(parent: string, name = "calc", messages: { fixAdd?: string; fixMul?: string } = {}): MinedHistory {
  const repo = path.join(parent, name);
  mkdirSync(repo);
  execFileSync("git", ["init", "--quiet", "--initial-branch=main", repo], { env: hermeticGitEnv });
  const root = commit(repo, 1, "Start the math module", {
    ".github/aura.yml": AURA_YML,
    "package.json": "{}\n",
    "src/math.js": math("a - b", "a * b"),
    "test/mul.test.js": MUL_TEST,
  });
  const fixAdd = commit(repo, 2, messages.fixAdd ?? "Fix add: it subtracted\n\nadd(2, 3) returned -1.", {
    "src/math.js": math("a + b", "a * b"),
    "test/add.test.js": ADD_TEST,
  });
  const docs = commit(repo, 3, "Document usage", { "README.md": "# calc\n\n`add` and `mul`.\n" });
  const tidy = commit(repo, 4, "Tidy add", { "src/math.js": `// Sums.\n${math("a + b", "a * b")}`, "test/add.test.js": ADD_ZERO_TEST });
  const square = commit(repo, 5, "Add square", {
    "src/math.js": `// Sums.\n${math("a + b", "a * b + 1", "exports.square = (a) => a * a;\n")}`,
    "test/square.test.js": SQUARE_TEST,
  });
  const fixMul = commit(repo, 6, messages.fixMul ?? "Fix mul for negative numbers", {
    "src/math.js": `// Sums.\n${math("a + b", "a * b", "exports.square = (a) => a * a;\n")}`,
    "test/mul.test.js": NEGATIVE_TEST,
  });
  return { repo, shas: { root, fixAdd, docs, tidy, square, fixMul } };
}
