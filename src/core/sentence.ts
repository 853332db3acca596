// A reason a person wrote, closed as a sentence inside a message the app posts: "suspended `x`: <reason>. It …".
// A reason that already ends a sentence keeps its own mark ("flaky tests." or "why?"), so no message shows "..".

/** `text` trimmed, with a full stop added unless it already ends with `.`, `!`, `?` or `…`. */
export function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?…]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
