// Bounded capture of a command's combined output: the head and the tail are kept (the start shows what ran,
// the end holds the test summary and the failure), the middle is dropped, and the sha256 digest covers every
// byte so the evidence can name the full log without storing it.
import { createHash, type Hash } from "node:crypto";

export type CapturedOutput = {
  /** Head and tail of the output, with a marker where bytes were dropped. */
  text: string;
  /** Total bytes produced. */
  totalBytes: number;
  truncated: boolean;
  /** sha256 (hex) of the full output. */
  sha256: string;
};

export class OutputCapture {
  private readonly hash: Hash = createHash("sha256");
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer[] = [];
  private tailBytes = 0;
  private total = 0;
  private readonly headLimit: number;
  private readonly tailLimit: number;

  constructor(maxBytes: number) {
    this.headLimit = Math.floor(maxBytes / 2);
    this.tailLimit = maxBytes - this.headLimit;
  }

  write(chunk: Buffer): void {
    this.hash.update(chunk);
    this.total += chunk.length;
    let rest = chunk;
    if (this.headBytes < this.headLimit) {
      const take = rest.subarray(0, this.headLimit - this.headBytes);
      this.head.push(take);
      this.headBytes += take.length;
      rest = rest.subarray(take.length);
    }
    if (rest.length === 0) return;
    this.tail.push(rest);
    this.tailBytes += rest.length;
    while (this.tailBytes - (this.tail[0]?.length ?? 0) >= this.tailLimit) {
      this.tailBytes -= this.tail.shift()?.length ?? 0;
    }
  }

  finish(): CapturedOutput {
    const tail = Buffer.concat(this.tail);
    const keptTail = tail.subarray(Math.max(0, tail.length - this.tailLimit));
    const dropped = this.total - this.headBytes - keptTail.length;
    const head = Buffer.concat(this.head).toString("utf8");
    const text = dropped > 0 ? `${head}\n… [${dropped} bytes omitted] …\n${keptTail.toString("utf8")}` : head + keptTail.toString("utf8");
    return { text, totalBytes: this.total, truncated: dropped > 0, sha256: this.hash.digest("hex") };
  }
}
