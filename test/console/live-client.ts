// A Server-Sent Events client for tests: reads a stream over real HTTP and parses its events and comments.
import http from "node:http";

export type SseEvent = { id: string | null; event: string; data: string };

export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  status = 0;
  ended = false;
  #buffer = "";
  #waiters: Array<() => void> = [];
  readonly request: http.ClientRequest;

  constructor(url: string, headers: Record<string, string> = {}) {
    this.request = http.get(url, { headers: { Accept: "text/event-stream", ...headers } }, (res) => {
      this.status = res.statusCode ?? 0;
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => this.#take(chunk));
      res.on("close", () => {
        this.ended = true;
        this.#wake();
      });
    });
    this.request.on("error", () => {
      this.ended = true;
      this.#wake();
    });
  }

  #take(chunk: string): void {
    this.#buffer += chunk;
    let end: number;
    while ((end = this.#buffer.indexOf("\n\n")) >= 0) {
      const block = this.#buffer.slice(0, end);
      this.#buffer = this.#buffer.slice(end + 2);
      let id: string | null = null;
      let event = "message";
      const data: string[] = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) this.comments.push(line.slice(1).trim());
        else if (line.startsWith("id: ")) id = line.slice(4);
        else if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      if (data.length > 0) this.events.push({ id, event, data: data.join("\n") });
    }
    this.#wake();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    waiters.forEach((w) => w());
  }

  /** Resolves once `check()` holds; rejects if the stream ends first or after 15 s. */
  async until(check: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!check()) {
      if (this.ended) throw new Error(`the stream ended before ${what}`);
      if (Date.now() > deadline) throw new Error(`no ${what} within 15 s; events: ${JSON.stringify(this.events.slice(-5))}`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  of(event: string): Array<Record<string, unknown>> {
    return this.events.filter((e) => e.event === event).map((e) => JSON.parse(e.data) as Record<string, unknown>);
  }

  close(): void {
    this.request.destroy();
  }
}
