import { describe, expect, it } from "vitest";
import { COMMAND_REFERENCE, DIRECTOR_VERBS, HELP_MARKER, renderHelpText } from "../../src/director/help-text.js";
import { parseCommand } from "../../src/director/parse-command.js";

describe("renderHelpText", () => {
  const help = renderHelpText();

  it("lists every verb with its usage, a description and an example", () => {
    const rows = help.split("\n").filter((line) => line.startsWith("| `/aura"));

    expect(rows).toHaveLength(DIRECTOR_VERBS.length);
    for (const verb of DIRECTOR_VERBS) {
      const row = rows.find((line) => line.startsWith(`| \`/aura ${verb}`));
      expect(row, verb).toBeDefined();
      expect(row?.split(" | ")).toHaveLength(3);
    }
  });

  it("escapes the pipe in `<task|requirement>` so the table keeps three columns", () => {
    const row = help.split("\n").find((line) => line.startsWith("| `/aura budget"));

    expect(row).toContain("<task\\|requirement>");
  });

  it("carries a hidden marker and mentions the unknown verb when answering one", () => {
    const reply = renderHelpText({ unknownVerb: "merge`|" });

    expect(reply.startsWith(HELP_MARKER)).toBe(true);
    expect(reply).toContain("I don't know the command `merge`");
  });

  it("gives examples that the parser accepts as the verb they illustrate", () => {
    const parsed = DIRECTOR_VERBS.map((verb) => [verb, parseCommand(COMMAND_REFERENCE[verb].example)?.kind]);

    expect(parsed).toEqual(DIRECTOR_VERBS.map((verb) => [verb, verb]));
  });
});
