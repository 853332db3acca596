import { describe, expect, it } from "vitest";
import { COMMAND_REFERENCE, COMMAND_VARIANTS, DIRECTOR_VERBS, HELP_MARKER, renderHelpText } from "../../src/director/help-text.js";
import { parseCommand } from "../../src/director/parse-command.js";

describe("renderHelpText", () => {
  const help = renderHelpText();

  it("lists every verb with its usage, a description and an example", () => {
    const rows = help.split("\n").filter((line) => line.startsWith("| `/aura"));

    expect(rows).toHaveLength(DIRECTOR_VERBS.length + COMMAND_VARIANTS.length);
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

  it("lists the repo-rules override right after the rule override", () => {
    const rows = help.split("\n").filter((line) => line.startsWith("| `/aura"));
    const at = rows.findIndex((line) => line.startsWith("| `/aura override <rule-id>"));

    expect(rows[at + 1]).toContain(
      "`/aura override repo-rules <reason>` | Accept the relaxations in this repository's `.github/aura.yml` rules (lapses when those rules change).",
    );
  });

  it("says which installation-wide commands need a director of every repository", () => {
    expect(help).toContain("a director of any one of its repositories may `halt` or `suspend`");
    expect(help).toContain("`resume`, `reinstate` and `trial` widen work again, so they need a director of every repository that has Aura work");
  });

  it("gives examples of the variants that the parser accepts as their verb", () => {
    expect(COMMAND_VARIANTS.map((variant) => parseCommand(variant.example))).toEqual(
      COMMAND_VARIANTS.map((variant) => expect.objectContaining({ kind: variant.verb, ruleId: "repo-rules" })),
    );
  });

  it("gives examples that the parser accepts as the verb they illustrate", () => {
    const parsed = DIRECTOR_VERBS.map((verb) => [verb, parseCommand(COMMAND_REFERENCE[verb].example)?.kind]);

    expect(parsed).toEqual(DIRECTOR_VERBS.map((verb) => [verb, verb]));
  });
});
