// A stream that keeps what a command writes to it, for the CLI commands' stdout and stderr in tests.
import { PassThrough } from "node:stream";

export function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = "";
  stream.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")));
  return { stream, text: () => text };
}
