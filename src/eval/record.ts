// Model traffic kept and replayed (`aura eval run --record DIR` / `--replay DIR`), so an eval is reproducible
// and CI can run the whole pipeline on recorded replies. The process's fetch is wrapped while the eval runs:
// the OpenAI and Ollama SDKs take the global fetch when the app builds their clients, and @google/generative-ai
// calls it on each request. Only requests to the model providers' origins are kept (the app's calls to the local
// GitHub edge pass through). Each reply is one file, DIR/<key>.json, keyed by a SHA-256 of the method, the URL
// and the body with what differs from run to run masked (see `normaliseBody`). A replay never reaches the
// network: a request without a recording gets an HTTP 400 naming it, and the eval stops with that message.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { DEFAULT_OLLAMA_HOST } from "../models/providers/ollama.js";
import { EvalInputError } from "./errors.js";

export type TrafficMode = "record" | "replay";

/** A request made during a replay that has no recording; the eval stops with this message. */
export class ReplayMissing extends Error {
  constructor(
    readonly request: string,
    readonly file: string,
  ) {
    super(
      `No recorded reply for ${request} (expected ${file}). The replay cannot go on without reaching a model: ` +
        `record this eval again with --record, or check that the tasks, employees and policies are the ones recorded.`,
    );
    this.name = "ReplayMissing";
  }
}

type Recording = { method: string; url: string; body: string; status: number; contentType: string | null; response: string };

/** The origins of the model providers the environment names: only their traffic is kept. */
export function modelOrigins(env: NodeJS.ProcessEnv): string[] {
  const origins = ["https://api.openai.com", "https://generativelanguage.googleapis.com"];
  for (const value of [env.OPENAI_BASE_URL, env.OLLAMA_HOST ?? DEFAULT_OLLAMA_HOST]) {
    if (value === undefined || value === "") continue;
    try {
      origins.push(new URL(value).origin);
    } catch {
      // a malformed URL is the provider's to report
    }
  }
  return [...new Set(origins)];
}

/**
 * What differs between two runs of the same eval is masked before hashing: the given paths (the eval's folder,
 * the repository), commit SHAs, a local repository's path hash, timestamps and durations in test output.
 */
export function normaliseBody(body: string, paths: readonly string[] = []): string {
  let text = body;
  for (const value of paths) if (value !== "") text = text.split(value).join("<path>");
  return text
    .replace(/\b[0-9a-f]{40}\b/g, "<sha>")
    .replace(/\b([0-9a-f]{7,12})\.\.([0-9a-f]{7,12})\b/g, "<sha>..<sha>")
    .replace(/(local\/[A-Za-z0-9._-]+?)-[0-9a-f]{8}\b/g, "$1-<hash>")
    .replace(/\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?/g, "<time>")
    .replace(/(duration_ms\\?"?:?\s*)\d+(?:\.\d+)?/g, "$1<n>")
    .replace(/\b\d+(?:\.\d+)?\s?(?:ms|s)\b/g, "<duration>");
}

async function bodyText(input: Parameters<typeof fetch>[0], init: RequestInit | undefined): Promise<string> {
  const body = init?.body;
  if (body === undefined || body === null) return input instanceof Request ? await input.clone().text() : "";
  if (typeof body === "string") return body;
  if (body instanceof URLSearchParams) return body.toString();
  if (body instanceof ArrayBuffer) return Buffer.from(body).toString("utf8");
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8");
  return await new Response(body as BodyInit).text();
}

export type ModelTraffic = {
  mode: TrafficMode;
  dir: string;
  recorded: number;
  replayed: number;
  /** Requests a replay had no recording for, in order. */
  misses: ReplayMissing[];
  /** Aborted at a replay's first miss: local mode stops waiting for work that cannot go on. */
  signal: AbortSignal;
  /** Puts the process's fetch back. */
  restore: () => void;
};

/** Wraps the global fetch to record or replay model traffic in `dir` until `restore()`. */
export function installModelTraffic(options: { mode: TrafficMode; dir: string; env: NodeJS.ProcessEnv; paths?: readonly string[] }): ModelTraffic {
  const dir = path.resolve(options.dir);
  if (options.mode === "replay" && !existsSync(dir))
    throw new EvalInputError(`--replay ${options.dir}: no such folder. Record one first with --record ${options.dir}.`);
  mkdirSync(dir, { recursive: true });
  const origins = modelOrigins(options.env);
  const original = globalThis.fetch;
  const missed = new AbortController();
  const traffic: ModelTraffic = {
    mode: options.mode,
    dir,
    recorded: 0,
    replayed: 0,
    misses: [],
    signal: missed.signal,
    restore: () => void (globalThis.fetch = original),
  };
  const wrapped = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
    const url = input instanceof Request ? input.url : input.toString();
    if (!origins.some((origin) => url.startsWith(origin))) return original(input, init);
    const method = (init?.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
    const body = await bodyText(input, init);
    const key = createHash("sha256")
      .update(`${method}\n${url}\n${normaliseBody(body, options.paths)}`)
      .digest("hex");
    const file = path.join(dir, `${key.slice(0, 32)}.json`);
    if (options.mode === "replay") {
      if (!existsSync(file)) {
        const miss = new ReplayMissing(`${method} ${url} (request key ${key.slice(0, 32)}, body starting ${JSON.stringify(body.slice(0, 120))})`, file);
        traffic.misses.push(miss);
        if (!missed.signal.aborted) missed.abort(miss.message);
        return new Response(JSON.stringify({ error: { message: miss.message, type: "replay_missing" } }), {
          status: 400,
          headers: { "content-type": "application/json" },
        });
      }
      const recording = JSON.parse(readFileSync(file, "utf8")) as Recording;
      traffic.replayed++;
      return new Response(recording.response, { status: recording.status, headers: recording.contentType ? { "content-type": recording.contentType } : {} });
    }
    const response = await original(input, init);
    const text = await response.text();
    const recording: Recording = { method, url, body, status: response.status, contentType: response.headers.get("content-type"), response: text };
    // The first reply for a key is kept: a repeated request replays what the model said the first time.
    if (!existsSync(file)) {
      writeFileSync(`${file}.tmp`, `${JSON.stringify(recording, null, 1)}\n`);
      renameSync(`${file}.tmp`, file);
      traffic.recorded++;
    }
    // The body is already decoded: the length and encoding of the wire no longer describe it.
    const headers = new Headers(response.headers);
    headers.delete("content-encoding");
    headers.delete("content-length");
    return new Response(text, { status: response.status, statusText: response.statusText, headers });
  };
  globalThis.fetch = wrapped as typeof fetch;
  return traffic;
}
