// The `/aura` command reference: one table that drives both the help reply posted in GitHub comments and the
// usage lines the parser quotes when a command is incomplete, so the two can never disagree.

export const DIRECTOR_VERBS = [
  "help",
  "approve",
  "revise",
  "override",
  "reassign",
  "suspend",
  "reinstate",
  "trial",
  "budget",
  "halt",
  "resume",
  "scoreboard",
] as const;

export type DirectorVerb = (typeof DIRECTOR_VERBS)[number];

export type CommandReference = {
  usage: string;
  description: string;
  example: string;
};

export const COMMAND_REFERENCE = {
  help: {
    usage: "/aura help",
    description: "Show this list of commands.",
    example: "/aura help",
  },
  approve: {
    usage: "/aura approve [note]",
    description: "Approve the plan posted on this requirement so its tasks can start.",
    example: "/aura approve",
  },
  revise: {
    usage: "/aura revise <instructions>",
    description: "Send the plan or this pull request back for another round; the instructions may span several lines.",
    example: "/aura revise Split the migration into its own task and keep the API unchanged.",
  },
  override: {
    usage: "/aura override <rule-id> <reason>",
    description: "Accept one failing policy rule on the current head commit of this pull request; a new push is checked again.",
    example: "/aura override protected-paths The lockfile change is intended: we upgrade pg.",
  },
  reassign: {
    usage: "/aura reassign <task> <employee> [note]",
    description: "Move a task to another employee (the router records it as a director decision).",
    example: "/aura reassign fix-login gemini-2.5-flash",
  },
  suspend: {
    usage: "/aura suspend <employee> <reason>",
    description: "Stop routing any work to an employee, in every repository of this installation, until a director reinstates it.",
    example: "/aura suspend qwen2.5-coder-7b Keeps editing files outside its task.",
  },
  reinstate: {
    usage: "/aura reinstate <employee> [note]",
    description:
      "Bring a suspended employee back, on probation, in every repository of this installation (needs a director of every repository with Aura work).",
    example: "/aura reinstate qwen2.5-coder-7b",
  },
  trial: {
    usage: "/aura trial <employee> eval <run-id> [note]",
    description:
      "Accept an `aura eval run` as the trial of an employee on probation: it becomes active when the eval's resolved share has a lower 95 % bound of at least 55 %, in every repository of this installation (needs a director of every repository with Aura work).",
    example: "/aura trial qwen2.5-coder-7b eval 12",
  },
  budget: {
    usage: "/aura budget <task|requirement> +<amount> [note]",
    description:
      "Raise the spending limit of one task, or of the whole requirement on this issue, by an amount in US dollars (capped by the app's daily limit).",
    example: "/aura budget fix-login +2.50",
  },
  halt: {
    usage: "/aura halt [note]",
    description: "Stop all work for this installation, in every repository: no new model call, test run or GitHub write starts until resumed.",
    example: "/aura halt Investigating a bad merge.",
  },
  resume: {
    usage: "/aura resume [note]",
    description: "Lift a halt; interrupted work continues from where it stopped (needs a director of every repository with Aura work).",
    example: "/aura resume",
  },
  scoreboard: {
    usage: "/aura scoreboard",
    description: "Post the employee scoreboard on this issue, or update the one posted here before.",
    example: "/aura scoreboard",
  },
} as const satisfies Record<DirectorVerb, CommandReference>;

/** Second forms of a verb, listed in the help right after the verb's own line. */
export const COMMAND_VARIANTS = [
  {
    verb: "override",
    usage: "/aura override repo-rules <reason>",
    description: "Accept the relaxations in this repository's `.github/aura.yml` rules (lapses when those rules change).",
    example: "/aura override repo-rules Our docs-only repository does not need the test gate.",
  },
] as const satisfies ReadonlyArray<CommandReference & { verb: DirectorVerb }>;

/** Hidden marker so the app can recognise its own help replies. */
export const HELP_MARKER = "<!-- aura:help -->";

/**
 * The markdown help reply. `unknownVerb` is set when the reply answers a command the parser did not recognise,
 * so the maintainer sees what went wrong before the list.
 */
export function renderHelpText(options: { unknownVerb?: string } = {}): string {
  const lines: string[] = [HELP_MARKER];
  if (options.unknownVerb !== undefined && options.unknownVerb !== "") {
    lines.push(`I don't know the command \`${inlineCode(options.unknownVerb)}\`. These are the ones I understand:`, "");
  } else {
    lines.push(
      "**Aura commands.** Directors (repository admins and maintainers, or people listed under `directors:` in `.github/aura.yml`) can write these in a new issue or pull request comment:",
      "",
    );
  }
  lines.push("| Command | What it does | Example |", "|---|---|---|");
  for (const verb of DIRECTOR_VERBS) {
    const refs: CommandReference[] = [COMMAND_REFERENCE[verb], ...COMMAND_VARIANTS.filter((variant) => variant.verb === verb)];
    for (const ref of refs) lines.push(`| \`${escapeCell(ref.usage)}\` | ${escapeCell(ref.description)} | \`${escapeCell(ref.example)}\` |`);
  }
  lines.push(
    "",
    "`halt`, `resume`, `suspend`, `reinstate` and `trial` act on every repository of this installation. Stopping is always safe, so a director of any one of its repositories may `halt` or `suspend`; `resume`, `reinstate` and `trial` widen work again, so they need a director of every repository that has Aura work in progress, and the refusal names the repositories where you are not one.",
    "",
    "The command must start a line of its own; quoted lines (`>`) and code blocks are ignored, and so are edits to a comment: write a new comment instead. `<…>` is required, `[…]` is optional. Free text (instructions, reasons, notes) runs to the end of the comment.",
  );
  return lines.join("\n");
}

// GitHub splits table cells on `|` even inside code spans unless it is escaped.
function escapeCell(text: string): string {
  return text.replaceAll("|", "\\|");
}

// A verb typed by someone else is echoed back inside inline code: strip what could break out of it.
function inlineCode(text: string): string {
  return text.replaceAll("`", "").replaceAll("|", "").slice(0, 40);
}
