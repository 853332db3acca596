// Parses the `/aura <verb> …` command out of an issue or pull request comment. Pure: it only reads the text;
// who may run a command, and which comment events count, are decided by the callers around it.
import { COMMAND_REFERENCE, DIRECTOR_VERBS, type DirectorVerb } from "./help-text.js";

export type BudgetTarget = { kind: "requirement" } | { kind: "task"; ref: string };

export type DirectorCommand =
  | { kind: "help" }
  | { kind: "approve"; note: string | null }
  | { kind: "revise"; instructions: string }
  | { kind: "override"; ruleId: string; reason: string }
  | { kind: "reassign"; task: string; employee: string; note: string | null }
  | { kind: "suspend"; employee: string; reason: string }
  | { kind: "reinstate"; employee: string; note: string | null }
  | { kind: "trial"; employee: string; runId: number; note: string | null }
  | { kind: "budget"; target: BudgetTarget; amountCents: number; amountUsd: number; note: string | null }
  | { kind: "halt"; note: string | null }
  | { kind: "resume"; note: string | null }
  | { kind: "scoreboard" };

/** A known verb written without what it needs; `reason` is a sentence to send back to the director. */
export type InvalidCommand = { kind: "invalid"; verb: DirectorVerb; reason: string };

/** `/aura <something we do not know>`: the caller answers with the help text. */
export type UnknownCommand = { kind: "unknown"; verb: string };

export type ParsedCommand = DirectorCommand | InvalidCommand | UnknownCommand;

const COMMAND_TOKEN = "/aura";
// Ids are echoed into replies and audit records, so they are held to a plain character set.
const RULE_ID = /^[A-Za-z0-9][\w.:/-]{0,99}$/;
const EMPLOYEE_ID = /^[A-Za-z0-9][\w.:/@+-]{0,99}$/;
const TASK_REF = /^#?[A-Za-z0-9][\w.:/-]{0,99}$/;
const AMOUNT = /^\+\$?(\d{1,6})(?:\.(\d{1,2}))?$/;

/**
 * Finds the command in a comment body: the first line that is outside fenced code blocks (``` or ~~~), not
 * indented code (4+ columns), not quoted (`>`), and whose first token is `/aura`. Later commands in the same
 * comment are ignored. Returns null when the comment has no command.
 *
 * Free text (revise instructions, reasons, notes) runs from the end of the required arguments to the end of
 * the comment, so a director can write several lines.
 */
export function parseCommand(body: string): ParsedCommand | null {
  const lines = body.split(/\r\n|\r|\n/);
  const index = findCommandLine(lines);
  if (index === null) return null;
  const line = lines[index] ?? "";
  const afterToken = line.trimStart().slice(COMMAND_TOKEN.length);
  return parseArguments(afterToken, lines.slice(index + 1));
}

export type CommentEvent = {
  /** The webhook action: `created`, `edited`, `deleted`. */
  action: string;
  body: string;
  /** GitHub's `user.type` of the comment author: `User`, `Bot`, `Organization`. */
  authorType: string;
};

/**
 * The command carried by a comment webhook, if it should be acted on at all: only newly created comments
 * count (an edit must never fire a command a second time), and bots, including this app, are ignored so two
 * apps can never answer each other in a loop.
 */
export function parseCommentCommand(event: CommentEvent): ParsedCommand | null {
  if (event.action !== "created") return null;
  if (event.authorType === "Bot") return null;
  return parseCommand(event.body);
}

type Fence = { char: "`" | "~"; length: number };

function findCommandLine(lines: string[]): number | null {
  let fence: Fence | null = null;
  for (const [index, line] of lines.entries()) {
    if (fence !== null) {
      if (closesFence(line, fence)) fence = null;
      continue;
    }
    const opened = opensFence(line);
    if (opened !== null) {
      fence = opened;
      continue;
    }
    if (indentWidth(line) >= 4) continue;
    const trimmed = line.trimStart();
    if (trimmed.startsWith(">")) continue;
    const firstToken = trimmed.split(/\s/, 1)[0] ?? "";
    if (firstToken.toLowerCase() === COMMAND_TOKEN) return index;
  }
  return null;
}

// CommonMark fences: up to three spaces, then three or more ` or ~; a backtick fence's info string may not
// contain a backtick (otherwise it is inline code, not a fence).
function opensFence(line: string): Fence | null {
  const match = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
  if (match === null) return null;
  const marker = match[1] ?? "";
  const info = match[2] ?? "";
  const char = marker[0] === "~" ? "~" : "`";
  if (char === "`" && info.includes("`")) return null;
  return { char, length: marker.length };
}

function closesFence(line: string, fence: Fence): boolean {
  const match = /^ {0,3}(`{3,}|~{3,})[ \t]*$/.exec(line);
  const marker = match?.[1];
  return marker !== undefined && marker[0] === fence.char && marker.length >= fence.length;
}

function indentWidth(line: string): number {
  let width = 0;
  for (const char of line) {
    if (char === " ") width += 1;
    else if (char === "\t") width += 4 - (width % 4);
    else break;
  }
  return width;
}

/** Splits `count` whitespace-separated tokens off the start of `text`; the remainder keeps its inner spacing. */
function takeTokens(text: string, count: number): { tokens: string[]; rest: string } {
  const tokens: string[] = [];
  let rest = text.trimStart();
  while (tokens.length < count && rest !== "") {
    const match = /^(\S+)\s*/.exec(rest);
    if (match === null) break;
    tokens.push(match[1] ?? "");
    rest = rest.slice(match[0].length);
  }
  return { tokens, rest };
}

function freeText(restOfLine: string, followingLines: string[]): string {
  return [restOfLine, ...followingLines].join("\n").trim();
}

function isVerb(word: string): word is DirectorVerb {
  return (DIRECTOR_VERBS as readonly string[]).includes(word);
}

function invalid(verb: DirectorVerb, problem: string): InvalidCommand {
  return { kind: "invalid", verb, reason: `${problem} Usage: \`${COMMAND_REFERENCE[verb].usage}\`, for example \`${COMMAND_REFERENCE[verb].example}\`.` };
}

function parseArguments(afterToken: string, followingLines: string[]): ParsedCommand {
  const { tokens, rest } = takeTokens(afterToken, 1);
  const rawVerb = tokens[0];
  if (rawVerb === undefined) return { kind: "help" };
  // "/aura approve." and "/aura halt!" are what people type; the punctuation is not part of the verb.
  const verb = rawVerb.toLowerCase().replace(/[.,:;!?]+$/, "");
  if (!isVerb(verb)) return { kind: "unknown", verb };
  const text = (restOfLine: string) => freeText(restOfLine, followingLines);
  const optional = (restOfLine: string) => text(restOfLine) || null;

  switch (verb) {
    case "help":
    case "scoreboard":
      return { kind: verb };
    case "approve":
    case "halt":
    case "resume":
      return { kind: verb, note: optional(rest) };
    case "revise": {
      const instructions = text(rest);
      if (instructions === "") return invalid(verb, "Say what should change.");
      return { kind: verb, instructions };
    }
    case "override": {
      const args = takeTokens(rest, 1);
      const ruleId = args.tokens[0];
      if (ruleId === undefined) return invalid(verb, "Name the rule to override and give a reason.");
      if (!RULE_ID.test(ruleId)) return invalid(verb, `\`${printable(ruleId)}\` is not a rule id.`);
      const reason = text(args.rest);
      if (reason === "") return invalid(verb, "An override needs a reason, for the audit log.");
      return { kind: verb, ruleId, reason };
    }
    case "reassign": {
      const args = takeTokens(rest, 2);
      const [task, employee] = args.tokens;
      if (task === undefined || employee === undefined) return invalid(verb, "Name the task and the employee to give it to.");
      if (!TASK_REF.test(task)) return invalid(verb, `\`${printable(task)}\` is not a task reference.`);
      if (!EMPLOYEE_ID.test(employee)) return invalid(verb, `\`${printable(employee)}\` is not an employee id.`);
      return { kind: verb, task, employee, note: optional(args.rest) };
    }
    case "suspend": {
      const args = takeTokens(rest, 1);
      const employee = args.tokens[0];
      if (employee === undefined) return invalid(verb, "Name the employee and give a reason.");
      if (!EMPLOYEE_ID.test(employee)) return invalid(verb, `\`${printable(employee)}\` is not an employee id.`);
      const reason = text(args.rest);
      if (reason === "") return invalid(verb, "A suspension needs a reason, for the audit log.");
      return { kind: verb, employee, reason };
    }
    case "reinstate": {
      const args = takeTokens(rest, 1);
      const employee = args.tokens[0];
      if (employee === undefined) return invalid(verb, "Name the employee to reinstate.");
      if (!EMPLOYEE_ID.test(employee)) return invalid(verb, `\`${printable(employee)}\` is not an employee id.`);
      return { kind: verb, employee, note: optional(args.rest) };
    }
    case "trial": {
      const args = takeTokens(rest, 3);
      const [employee, word, run] = args.tokens;
      if (employee === undefined || word?.toLowerCase() !== "eval" || run === undefined)
        return invalid(verb, "Name the employee and the eval run to accept as its trial.");
      if (!EMPLOYEE_ID.test(employee)) return invalid(verb, `\`${printable(employee)}\` is not an employee id.`);
      if (!/^[1-9]\d{0,15}$/.test(run)) return invalid(verb, `\`${printable(run)}\` is not an eval run id (the number \`aura eval run\` prints).`);
      return { kind: verb, employee, runId: Number(run), note: optional(args.rest) };
    }
    case "budget":
      return parseBudget(rest, followingLines);
  }
}

function parseBudget(rest: string, followingLines: string[]): ParsedCommand {
  const args = takeTokens(rest, 2);
  const [targetToken, amountToken] = args.tokens;
  if (targetToken === undefined || amountToken === undefined) {
    return invalid("budget", "Name the task (or `requirement`) and the amount to add.");
  }
  let target: BudgetTarget;
  if (targetToken.toLowerCase() === "requirement") target = { kind: "requirement" };
  else if (TASK_REF.test(targetToken)) target = { kind: "task", ref: targetToken };
  else return invalid("budget", `\`${printable(targetToken)}\` is not a task reference.`);

  const amount = parseAmountCents(amountToken);
  if (typeof amount === "string") return invalid("budget", amount);
  return { kind: "budget", target, amountCents: amount, amountUsd: amount / 100, note: freeText(args.rest, followingLines) || null };
}

/** Cents for `+5`, `+2.50`, `+$3`; otherwise the sentence that explains what is wrong. */
function parseAmountCents(token: string): number | string {
  if (token.startsWith("-")) return "A budget can only be raised: write the amount to add, like `+5`.";
  if (!token.startsWith("+")) return "Write the amount to add with a plus sign, like `+5` or `+2.50`.";
  const match = AMOUNT.exec(token);
  if (match === null) return `\`${printable(token)}\` is not an amount in US dollars: use digits with at most two decimals, like \`+5\` or \`+2.50\`.`;
  const cents = Number(match[1]) * 100 + Number((match[2] ?? "").padEnd(2, "0"));
  if (cents === 0) return "The amount to add must be more than $0.";
  return cents;
}

// Echoed user text stays short and cannot close the inline code span it is shown in.
function printable(token: string): string {
  const clean = token.replaceAll("`", "");
  return clean.length > 40 ? `${clean.slice(0, 40)}…` : clean;
}
