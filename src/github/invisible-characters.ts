// Removes the characters a reader of GitHub cannot see but that change what text says or how it is ordered:
// bidirectional controls (the "Trojan Source" trick), zero-width and other format characters, Unicode tag
// characters ("ASCII smuggling"), stacked variation selectors (data hidden behind an emoji) and C0/C1 control
// characters. Everything the app writes to GitHub passes through here (src/github/text-cleaner.ts).
//
// Kept, so that legitimate text is not broken:
// - U+200D ZERO WIDTH JOINER between two emoji (👩‍💻, 🏳️‍🌈, 👨‍👩‍👧) and U+200C/U+200D between letters of a
//   script that needs them (Persian, Arabic, Devanagari, Sinhala…): joiners change only how glyphs join there.
//   Between Latin, Greek or Cyrillic letters, or anywhere else, they are removed.
// - One variation selector right after a visible character (❤️, text-style ☺︎, CJK ideographic variants); a
//   second one in a row, or one at the start, carries nothing visible and is removed.
// - The prepended concatenation marks (U+0600–0605, U+06DD, U+070F, U+0890–0891, U+08E2, U+110BD, U+110CD),
//   which are format characters but are drawn.
// - Tab, line feed and carriage return.
// Removed although sometimes meaningful: tag characters also spell the subdivision flags (🏴 of England shows as
// a plain black flag afterwards), and U+00AD SOFT HYPHEN (a hyphenation hint only).

// Every format character, C0/C1 control (but tab, LF, CR), and variation selector: each match is then judged.
const CANDIDATE = /[\p{Cf}\p{Cc}\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/gu;

const DRAWN_FORMAT = /[\u0600-\u0605\u06DD\u070F\u0890\u0891\u08E2\u{110BD}\u{110CD}]/u;
const KEPT_CONTROL = /[\t\n\r]/;
const VARIATION_SELECTOR = /[\uFE00-\uFE0F\u{E0100}-\u{E01EF}]/u;
const JOINER = /[\u200C\u200D]/;
const FORMAT_OR_CONTROL = /^[\p{Cf}\p{Cc}]$/u;

const EMOJI = /\p{Extended_Pictographic}/u;
// Skin-tone modifiers and VS16 may sit between an emoji and the joiner (👩🏽‍💻, 🏳️‍🌈).
const EMOJI_SUFFIX = /^(?:[\u{1F3FB}-\u{1F3FF}]|\uFE0F)$/u;
const JOINING_SCRIPT_CHAR = /[\p{L}\p{M}]/u;
const SIMPLE_SCRIPT = /[\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}\p{Script=Common}\p{Script=Inherited}]/u;

/** The code point before `index` in `text` (surrogate pairs read whole), or "" at the start. */
function codePointBefore(text: string, index: number): string {
  if (index === 0) return "";
  const low = text.charCodeAt(index - 1);
  if (low >= 0xdc00 && low <= 0xdfff && index >= 2) {
    const high = text.charCodeAt(index - 2);
    if (high >= 0xd800 && high <= 0xdbff) return text.slice(index - 2, index);
  }
  return text.slice(index - 1, index);
}

function codePointAt(text: string, index: number): string {
  const point = text.codePointAt(index);
  return point === undefined ? "" : String.fromCodePoint(point);
}

function emojiBefore(text: string, index: number): boolean {
  let at = index;
  let previous = codePointBefore(text, at);
  while (previous !== "" && EMOJI_SUFFIX.test(previous)) {
    at -= previous.length;
    previous = codePointBefore(text, at);
  }
  return previous !== "" && EMOJI.test(previous);
}

/** A joiner is kept between two emoji, or between letters of a script that uses joiners in ordinary words. */
function joinerKept(text: string, index: number, joiner: string): boolean {
  const next = codePointAt(text, index + joiner.length);
  if (joiner === "\u200D" && emojiBefore(text, index) && EMOJI.test(next)) return true;
  const previous = codePointBefore(text, index);
  return JOINING_SCRIPT_CHAR.test(previous) && !SIMPLE_SCRIPT.test(previous) && JOINING_SCRIPT_CHAR.test(next);
}

function variationSelectorKept(text: string, index: number): boolean {
  const previous = codePointBefore(text, index);
  return previous !== "" && !VARIATION_SELECTOR.test(previous) && !FORMAT_OR_CONTROL.test(previous) && !/\s/u.test(previous);
}

/**
 * `text` without the invisible characters described above, and how many were removed. The judgement looks at
 * the original neighbours of each character, so removing one never makes another one look legitimate.
 */
export function stripInvisibleCharacters(text: string): { text: string; removed: number } {
  let removed = 0;
  const cleaned = text.replace(CANDIDATE, (match: string, index: number) => {
    if (KEPT_CONTROL.test(match) || DRAWN_FORMAT.test(match)) return match;
    if (JOINER.test(match) && joinerKept(text, index, match)) return match;
    if (VARIATION_SELECTOR.test(match) && variationSelectorKept(text, index)) return match;
    removed++;
    return "";
  });
  return { text: cleaned, removed };
}
