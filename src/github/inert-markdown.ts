// Model-written text (an employee's summary, a plan's titles and instructions, an advisory reviewer's findings)
// placed in markdown the app posts, rendered so that it can only ever be read, never act: no HTML comments or
// raw HTML (so no hidden `aura:` markers), no images (no requests to a URL the model chose), no clickable links,
// no @-mentions that notify people, no issue references (so no "fixes #12" that closes an issue, and no
// cross-reference events), and no way out of the quote, list item or table cell the app puts it in.
//
// How: every character that starts markdown syntax is backslash-escaped (inline syntax anywhere, block syntax
// at the start of a line), so the text is plain paragraphs; URLs, e-mail addresses, mentions and issue references become code spans, which GitHub shows as
// text and never links, mentions or cross-references; invisible characters are removed; each line keeps its
// line break (GitHub shows line breaks in comments and descriptions).
import { stripInvisibleCharacters } from "./invisible-characters.js";

// Bare URLs with any scheme, `www.` hosts, e-mail addresses, mentions (users, `org/team`), issue references
// (`#12`, `GH-12`, `owner/repo#12`). Backticks and pipes never belong to a token, so a code span needs one
// backtick fence and a table cell's pipe is always escaped.
const TOKEN = new RegExp(
  [
    String.raw`\b[a-z][a-z0-9+.-]*:\/\/[^\s<>\x60|]+`,
    String.raw`\b(?:mailto|xmpp|tel|sms|data|javascript|vbscript|file):[^\s<>\x60|]+`,
    String.raw`\bwww\.[^\s<>\x60|]+`,
    String.raw`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+`,
    String.raw`(?<!\w)@[A-Za-z0-9](?:[A-Za-z0-9-]*)(?:\/[A-Za-z0-9_.-]+)?`,
    String.raw`[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+#\d+`,
    String.raw`(?<![\w&])#\d+`,
    String.raw`\bGH-\d+`,
  ].join("|"),
  "giu",
);

// The characters that start markdown anywhere in a line: escapes, code, emphasis, links and images, HTML and
// autolinks, entities, table cells, strikethrough, math. (`(`, `:`, `.` and the like mean something only after
// one of these, and stay readable.) An underscore between two letters or digits stays as it is: GitHub's
// markdown never opens or closes emphasis inside a word, so `AURA_EDIT_MAX_FILE_BYTES` keeps its raw form.
const INLINE_SYNTAX = /[\\`*[\]<&|~$]|(?<![\p{L}\p{N}])_|_(?![\p{L}\p{N}])/gu;
// What starts a block only at the beginning of a line: headings, quotes, lists, setext underlines, rules.
const BLOCK_START = /^(?:[#>+=-]|\d{1,9}[.)])/;

// `<` becomes an entity rather than `\<`, so the raw text never holds `<!--` for any reader of the raw body.
function escapePlain(text: string): string {
  return text.replace(INLINE_SYNTAX, (character) => (character === "<" ? "&lt;" : `\\${character}`));
}

function escapeBlockStart(line: string): string {
  const match = BLOCK_START.exec(line);
  if (!match) return line;
  const marker = match[0];
  return `${marker.slice(0, -1)}\\${marker.slice(-1)}${line.slice(marker.length)}`;
}

/** A code span around a token: shown as text, never linked, mentioned or cross-referenced. */
function codeSpan(token: string): string {
  return `\`${token}\``;
}

// Sentence punctuation right after a URL is not part of it (as GitHub's own autolinker decides).
const TRAILING_PUNCTUATION = /[.,:;!?'")\]}*_~]+$/;

function inertLine(line: string): string {
  let out = "";
  let last = 0;
  for (const match of line.matchAll(TOKEN)) {
    const trailing = TRAILING_PUNCTUATION.exec(match[0])?.[0] ?? "";
    const token = match[0].slice(0, match[0].length - trailing.length);
    if (token === "") continue;
    out += escapePlain(line.slice(last, match.index)) + codeSpan(token);
    last = match.index + token.length;
  }
  // Leading spaces would make an indented code block out of the line; they carry no meaning in prose.
  return escapeBlockStart((out + escapePlain(line.slice(last))).replace(/^[ \t]+/, ""));
}

function normalise(text: string): string[] {
  const visible = stripInvisibleCharacters(text.replace(/\r\n?|[\u2028\u2029]/g, "\n")).text;
  return visible.split("\n").map((line) => line.replace(/[ \t]+$/, ""));
}

/**
 * Model text as inert markdown paragraphs. `prefix` starts every line (e.g. `"> "` keeps the text inside a
 * blockquote, including blank lines, so nothing can end the quote early).
 */
export function inertMarkdown(text: string, options: { prefix?: string } = {}): string {
  const prefix = options.prefix ?? "";
  const lines = normalise(text.trim()).map(inertLine);
  // Runs of blank lines collapse into one paragraph break.
  const kept = lines.filter((line, index) => line !== "" || (index > 0 && lines[index - 1] !== ""));
  return kept.map((line) => (line === "" ? prefix.trimEnd() : `${prefix}${line}`)).join("\n");
}

/** Model text on one line (a table cell, a list item, a heading): line breaks become spaces, pipes are escaped. */
export function inertInline(text: string): string {
  return normalise(text)
    .map(inertLine)
    .filter((line) => line !== "")
    .join(" ")
    .trim();
}

/**
 * Model text as one code span (a file path, a glob): shown exactly, never formatted or linked. The fence is
 * longer than any run of backticks inside, so the text cannot close it; in a table cell `|` is escaped too.
 */
export function inertCode(text: string, options: { table?: boolean } = {}): string {
  // A code span shows `<!--` as text, but the raw body would still hold one: it is broken up, visibly.
  let content = normalise(text).join(" ").replace(/<!--/g, "<! --");
  if (options.table) content = content.replace(/\|/g, "\\|");
  const longest = Math.max(0, ...Array.from(content.matchAll(/`+/g), (run) => run[0].length));
  const fence = "`".repeat(longest + 1);
  const padded = content.startsWith("`") || content.endsWith("`") || content === "" ? ` ${content} ` : content;
  return `${fence}${padded}${fence}`;
}

/**
 * Model text for a plain-text place GitHub still reads for references, a commit message: issue references lose
 * their `#` ("fixes #12" becomes "fixes issue 12"), so a merged commit closes nothing and links nowhere.
 */
export function withoutIssueReferences(text: string): string {
  return stripInvisibleCharacters(text)
    .text.replace(/\b([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)#(\d+)\b/g, "$1 issue $2")
    .replace(/(^|[^\w&])#(\d+)\b/g, "$1issue $2")
    .replace(/\bGH-(\d+)\b/gi, "issue $1");
}
