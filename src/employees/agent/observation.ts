// What a tool shows the model is bounded: long text keeps its head and its tail (the start says what ran, the
// end holds the summary or the failure) and says plainly how much of the middle was cut, so the model knows
// the view is partial and can ask for a narrower one.

/** Text cut to at most `maxBytes` UTF-8 bytes (plus the marker), the middle dropped. */
export function cutMiddle(text: string, maxBytes: number): { text: string; cutBytes: number; totalBytes: number } {
  const bytes = Buffer.from(text, "utf8");
  if (bytes.length <= maxBytes) return { text, cutBytes: 0, totalBytes: bytes.length };
  const headBytes = Math.floor(maxBytes / 2);
  const tailBytes = maxBytes - headBytes;
  // Cut on line ends where one is near, so the model does not read half a line as if it were whole.
  const head = alignHead(bytes.subarray(0, headBytes));
  const tail = alignTail(bytes.subarray(bytes.length - tailBytes));
  const cutBytes = bytes.length - head.length - tail.length;
  const marker = `\n[… ${cutBytes} of ${bytes.length} bytes cut from the middle …]\n`;
  return { text: head.toString("utf8") + marker + tail.toString("utf8"), cutBytes, totalBytes: bytes.length };
}

function alignHead(head: Buffer): Buffer {
  const newline = head.lastIndexOf(0x0a);
  return newline >= head.length * 0.75 ? head.subarray(0, newline + 1) : head;
}

function alignTail(tail: Buffer): Buffer {
  const newline = tail.indexOf(0x0a);
  return newline !== -1 && newline <= tail.length * 0.25 ? tail.subarray(newline + 1) : tail;
}

/** Long single lines (minified code, data) cut to `maxChars`, saying how long they were. */
export function cutLine(line: string, maxChars: number): string {
  return line.length <= maxChars ? line : `${line.slice(0, maxChars)} [… line cut: ${line.length} characters]`;
}

/** A code fence longer than any backtick run in `text`, so the text cannot close it. */
export function fenced(text: string, info = ""): string {
  const longest = Math.max(2, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const ticks = "`".repeat(longest + 1);
  return `${ticks}${info}\n${text}${text.endsWith("\n") || text === "" ? "" : "\n"}${ticks}`;
}
