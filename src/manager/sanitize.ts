// Cleans untrusted issue text before it reaches a model: removes what a human reviewer cannot see (HTML comments,
// markdown comment idioms, zero-width, bidi and tag characters) and bounds the length. This narrows prompt
// injection; it does not stop it. What a plan may do is decided by the rules in validate-plan.ts, not the model.

export type SanitizeOptions = {
  /** Maximum length of the result in code points, including the truncation notice. */
  maxChars?: number;
};

export type SanitizedText = {
  text: string;
  truncated: boolean;
  /** How much of each hidden kind was removed, for the audit record. */
  removed: {
    htmlComments: number;
    markdownComments: number;
    invisibleCharacters: number;
    controlCharacters: number;
  };
};

export const DEFAULT_MAX_ISSUE_CHARS = 20_000;

// HTML comments are hidden by GitHub's renderer; an unterminated one hides the rest of the text, so it goes too.
const HTML_COMMENT = /<!--[\s\S]*?(?:-->|$)/g;

// `[//]: # (text)` and `[x]: <> (text)` are the common "markdown comment" idioms: defined, never rendered.
const MARKDOWN_COMMENT = /^ {0,3}\[[^\]\n]*\]:[ \t]*(?:<>|#)(?:[ \t]+(?:\([^\n]*\)|"[^\n]*"|'[^\n]*'))?[ \t]*$/gm;

// Titles of ordinary link reference definitions are never shown either; the link itself is kept.
const LINK_DEFINITION_TITLE = /^( {0,3}\[[^\]\n]+\]:[ \t]*\S+)[ \t]+(?:"[^\n]*"|'[^\n]*'|\([^\n]*\))[ \t]*$/gm;

// Format characters (zero-width space/joiners, bidi embeddings, overrides and isolates, soft hyphen, word joiner,
// BOM, Unicode tag characters used for "ASCII smuggling"), variation selectors, and blank Hangul fillers.
const INVISIBLE = /[\p{Cf}\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}\u115F\u1160\u3164\uFFA0]/gu;

// C0/C1 control characters other than newline and tab (ANSI escapes, backspace tricks, NUL).
const CONTROL = /[^\P{Cc}\n\t]/gu;

function countMatches(text: string, pattern: RegExp): number {
  return text.match(pattern)?.length ?? 0;
}

/** Removes hidden content and invisible characters from untrusted text and bounds its length. */
export function sanitizeUntrustedText(input: string, options: SanitizeOptions = {}): SanitizedText {
  const maxChars = Math.max(64, options.maxChars ?? DEFAULT_MAX_ISSUE_CHARS);
  let text = input.replace(/\r\n?/g, "\n").replace(/[\u2028\u2029]/g, "\n");

  // Invisible characters go first so they cannot be used to break up `<!--` or the comment idioms.
  const invisibleCharacters = countMatches(text, INVISIBLE);
  text = text.replace(INVISIBLE, "");
  const controlCharacters = countMatches(text, CONTROL);
  text = text.replace(CONTROL, "");

  const htmlComments = countMatches(text, HTML_COMMENT);
  text = text.replace(HTML_COMMENT, "");
  let markdownComments = countMatches(text, MARKDOWN_COMMENT);
  text = text.replace(MARKDOWN_COMMENT, "");
  markdownComments += countMatches(text, LINK_DEFINITION_TITLE);
  text = text.replace(LINK_DEFINITION_TITLE, "$1");

  // NFKC folds look-alike forms (full-width letters, mathematical alphanumerics) into plain text a reviewer reads.
  text = text
    .normalize("NFKC")
    .replace(/[^\S\n\t]/gu, " ")
    .replace(/[ \t]+$/gm, "")
    .replace(/\n{3,}/g, "\n\n")
    .trim();

  const codePoints = Array.from(text);
  let truncated = false;
  if (codePoints.length > maxChars) {
    const notice = (kept: number) => `\n[… ${codePoints.length - kept} more characters removed by Aura: the text was too long]`;
    let keep = maxChars - notice(maxChars).length;
    keep = maxChars - notice(keep).length;
    text = codePoints.slice(0, keep).join("") + notice(keep);
    truncated = true;
  }

  return { text, truncated, removed: { htmlComments, markdownComments, invisibleCharacters, controlCharacters } };
}

/** Sanitises a one-line value (an issue title, a file name) and keeps it on one line. */
export function sanitizeUntrustedLine(input: string, maxChars = 300): string {
  return sanitizeUntrustedText(input.replace(/[\n\t]+/g, " "), { maxChars }).text.replace(/\n/g, " ");
}
