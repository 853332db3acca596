import { describe, expect, it } from "vitest";
import { parseCommand, parseCommentCommand, type ParsedCommand } from "../../src/director/parse-command.js";

describe("parseCommand: finding the command line", () => {
  it.each<[string, string, ParsedCommand | null]>([
    ["a plain comment", "Looks good to me.", null],
    ["an empty comment", "", null],
    ["the command alone", "/aura approve", { kind: "approve", note: null }],
    ["a command on the second line", "Thanks, great plan.\n/aura approve", { kind: "approve", note: null }],
    ["a quoted command", "> /aura halt\n\nI disagree with the above.", null],
    ["a quoted command followed by a real one", "> /aura halt\n\n/aura scoreboard", { kind: "scoreboard" }],
    ["a command in a ``` fence", "Try:\n```\n/aura halt\n```", null],
    ["a command in a ~~~ fence", "~~~md\n/aura halt\n~~~", null],
    ["a command after a closed fence", "```sh\n/aura halt\n```\n/aura resume", { kind: "resume", note: null }],
    ["a command inside an unclosed fence", "```\n/aura halt", null],
    ["a longer fence not closed by a shorter one", "````\n```\n/aura halt\n````\n/aura resume", { kind: "resume", note: null }],
    ["a ~~~ fence not closed by backticks", "~~~\n```\n/aura halt\n~~~\n/aura help", { kind: "help" }],
    ["an indented code line", "Example:\n\n    /aura halt", null],
    ["a tab-indented code line", "\t/aura halt", null],
    ["up to three spaces of indent", "   /aura halt", { kind: "halt", note: null }],
    ["the token mid-sentence", "Please run /aura halt now", null],
    ["a longer token", "/aurora halt", null],
    ["CRLF line endings", "Hi\r\n/aura scoreboard\r\n", { kind: "scoreboard" }],
    ["upper case", "/AURA Approve", { kind: "approve", note: null }],
    ["trailing punctuation on the verb", "/aura approve.", { kind: "approve", note: null }],
    ["the bare token", "/aura", { kind: "help" }],
  ])("%s", (_name, body, expected) => {
    const parsed = parseCommand(body);

    expect(parsed).toEqual(expected);
  });

  it("acts only on the first command of a comment", () => {
    const parsed = parseCommand("/aura halt\n/aura resume");

    expect(parsed).toEqual({ kind: "halt", note: "/aura resume" });
  });
});

describe("parseCommand: verbs and arguments", () => {
  it.each<[string, ParsedCommand]>([
    ["/aura help", { kind: "help" }],
    ["/aura help me please", { kind: "help" }],
    ["/aura scoreboard", { kind: "scoreboard" }],
    ["/aura approve ship it", { kind: "approve", note: "ship it" }],
    ["/aura halt Investigating a bad merge.", { kind: "halt", note: "Investigating a bad merge." }],
    ["/aura resume", { kind: "resume", note: null }],
    [
      "/aura override protected-paths The lockfile change is intended.",
      { kind: "override", ruleId: "protected-paths", reason: "The lockfile change is intended." },
    ],
    ["/aura reassign T2 gemini-2.5-pro", { kind: "reassign", task: "T2", employee: "gemini-2.5-pro", note: null }],
    ["/aura reassign #41 ollama/qwen2.5-coder:7b too slow", { kind: "reassign", task: "#41", employee: "ollama/qwen2.5-coder:7b", note: "too slow" }],
    [
      "/aura suspend ollama-qwen Keeps editing files outside its task.",
      { kind: "suspend", employee: "ollama-qwen", reason: "Keeps editing files outside its task." },
    ],
    ["/aura reinstate ollama-qwen", { kind: "reinstate", employee: "ollama-qwen", note: null }],
    ["/aura trial ollama-qwen eval 12", { kind: "trial", employee: "ollama-qwen", runId: 12, note: null }],
    ["/aura trial ollama-qwen EVAL 3 measured on our history", { kind: "trial", employee: "ollama-qwen", runId: 3, note: "measured on our history" }],
    ["/aura budget T3 +5", { kind: "budget", target: { kind: "task", ref: "T3" }, amountCents: 500, amountUsd: 5, note: null }],
    ["/aura budget T3 +2.50", { kind: "budget", target: { kind: "task", ref: "T3" }, amountCents: 250, amountUsd: 2.5, note: null }],
    ["/aura budget T3 +0.5", { kind: "budget", target: { kind: "task", ref: "T3" }, amountCents: 50, amountUsd: 0.5, note: null }],
    [
      "/aura budget requirement +$12 tests are slow",
      { kind: "budget", target: { kind: "requirement" }, amountCents: 1200, amountUsd: 12, note: "tests are slow" },
    ],
  ])("%s", (body, expected) => {
    const parsed = parseCommand(body);

    expect(parsed).toEqual(expected);
  });

  it("takes revise instructions to the end of the comment, over several lines", () => {
    const body = "Close, but:\n/aura revise Keep the public API.\n\n- split the migration\n- add a test for `null`\n";

    const parsed = parseCommand(body);

    expect(parsed).toEqual({ kind: "revise", instructions: "Keep the public API.\n\n- split the migration\n- add a test for `null`" });
  });

  it("takes a reason from the following lines when the command line has none", () => {
    const parsed = parseCommand("/aura suspend ollama-qwen\nIt pushed a secret twice.");

    expect(parsed).toEqual({ kind: "suspend", employee: "ollama-qwen", reason: "It pushed a secret twice." });
  });
});

describe("parseCommand: incomplete and unknown commands", () => {
  it.each<[string, string, RegExp]>([
    ["/aura revise", "revise", /Say what should change/],
    ["/aura revise   \n\n  ", "revise", /Say what should change/],
    ["/aura override", "override", /Name the rule/],
    ["/aura override protected-paths", "override", /needs a reason/],
    ["/aura override `rm -rf` because", "override", /not a rule id/],
    ["/aura suspend ollama-qwen", "suspend", /needs a reason/],
    ["/aura suspend", "suspend", /Name the employee/],
    ["/aura reinstate", "reinstate", /Name the employee/],
    ["/aura trial ollama-qwen", "trial", /Name the employee and the eval run/],
    ["/aura trial ollama-qwen 12", "trial", /Name the employee and the eval run/],
    ["/aura trial ollama-qwen eval latest", "trial", /not an eval run id/],
    ["/aura trial ollama-qwen eval 0", "trial", /not an eval run id/],
    ["/aura reassign T2", "reassign", /Name the task and the employee/],
    ["/aura reassign T2 <script>", "reassign", /not an employee id/],
    ["/aura budget T3", "budget", /Name the task/],
    ["/aura budget T3 5", "budget", /plus sign/],
    ["/aura budget T3 -5", "budget", /can only be raised/],
    ["/aura budget T3 +abc", "budget", /not an amount in US dollars/],
    ["/aura budget T3 +1.234", "budget", /at most two decimals/],
    ["/aura budget T3 +1e3", "budget", /not an amount/],
    ["/aura budget T3 +0", "budget", /more than \$0/],
    ["/aura budget T3 +0.00", "budget", /more than \$0/],
    ["/aura budget T3 +1234567", "budget", /not an amount/],
  ])("%s is invalid", (body, verb, reason) => {
    const parsed = parseCommand(body);

    expect(parsed).toMatchObject({ kind: "invalid", verb });
    expect(parsed?.kind === "invalid" ? parsed.reason : "").toMatch(reason);
  });

  it("tells the director the usage of the verb they got wrong", () => {
    const parsed = parseCommand("/aura suspend ollama-qwen");

    expect(parsed?.kind === "invalid" ? parsed.reason : "").toContain("`/aura suspend <employee> <reason>`");
  });

  it("reports an unknown verb, lower-cased, for the help reply", () => {
    const parsed = parseCommand("/aura Merge now");

    expect(parsed).toEqual({ kind: "unknown", verb: "merge" });
  });
});

describe("parseCommentCommand: which comment events count", () => {
  it("acts on a newly created comment by a person", () => {
    const parsed = parseCommentCommand({ action: "created", body: "/aura halt", authorType: "User" });

    expect(parsed).toEqual({ kind: "halt", note: null });
  });

  it("ignores edits: an edited comment never fires, even when its body holds a command", () => {
    const body = "/aura halt";

    const parsed = parseCommentCommand({ action: "edited", body, authorType: "User" });

    expect(parsed).toBeNull();
    expect(parseCommand(body)).not.toBeNull();
  });

  it("ignores bots, the app itself included", () => {
    const parsed = parseCommentCommand({ action: "created", body: "/aura help", authorType: "Bot" });

    expect(parsed).toBeNull();
  });
});
