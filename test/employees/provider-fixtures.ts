// Loads the provider reply fixtures (real API response shapes, source named in `_source`) and fills in the
// model's reply text, so each test states only what differs: the JSON the model "wrote".
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import type nock from "nock";
import { z } from "zod";
import { ModelCallError, type ChatMessage } from "../../src/models/model-client.js";
import { parsePriceTable, type PriceTable } from "../../src/models/prices.js";
import { createModelClient } from "../../src/models/providers/index.js";

const fixtureDir = new URL("../fixtures/providers/", import.meta.url);

const JsonObject = z.record(z.string(), z.unknown());

/** A fixture without its `_source` note, as the API would send it. */
export function loadFixture(name: string): Record<string, unknown> {
  const raw = JsonObject.parse(JSON.parse(readFileSync(new URL(name, fixtureDir), "utf8")));
  const { _source: source, ...body } = raw;
  if (typeof source !== "string" || source.length === 0) throw new Error(`fixture ${name} must name its _source`);
  return body;
}

/** A chat completion whose assistant message is `content`. */
export function openAIReply(content: string): Record<string, unknown> {
  const body = loadFixture("openai-chat-completion.json");
  const choices = z.array(z.object({ message: z.record(z.string(), z.unknown()) }).loose()).parse(body.choices);
  return { ...body, choices: choices.map((choice) => ({ ...choice, message: { ...choice.message, content } })) };
}

/** A generateContent response whose first candidate's text is `text`. */
export function geminiReply(text: string): Record<string, unknown> {
  const body = loadFixture("gemini-generate-content.json");
  const candidates = z.array(z.record(z.string(), z.unknown())).parse(body.candidates);
  return {
    ...body,
    candidates: candidates.map((candidate) => ({ ...candidate, content: { role: "model", parts: [{ text }] } })),
  };
}

/** An /api/chat response whose message content is `content`. */
export function ollamaReply(content: string): Record<string, unknown> {
  const body = loadFixture("ollama-chat.json");
  return { ...body, message: { role: "assistant", content } };
}

/** A small price table for the models the tests use, with a price change to prove dating works. */
export function testPrices(): PriceTable {
  return parsePriceTable(`
version: 1
currency: USD
prices:
  - { provider: openai, model: gpt-4.1, effective: "2025-01-01", input: 4.00, cachedInput: 1.00, output: 16.00 }
  - { provider: openai, model: gpt-4.1, effective: "2025-04-14", input: 2.00, cachedInput: 0.50, output: 8.00 }
  - { provider: gemini, model: gemini-2.5-flash, effective: "2025-06-17", input: 0.30, cachedInput: 0.075, output: 2.50 }
`);
}

/** A fixed moment after every test price took effect. */
export const TEST_NOW = new Date("2025-09-01T12:00:00Z");

/** A loopback port nothing listens on, so a connection to it is refused. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** The structured output every provider test asks for: an issue's triage (`owner` optional, so sent as nullable). */
export const Triage = z.object({
  summary: z.string().min(1),
  severity: z.enum(["low", "high"]),
  labels: z.array(z.string()).max(3),
  owner: z.string().optional(),
});

/** The conversation every provider test sends. */
export const triageMessages: ChatMessage[] = [
  { role: "system", content: "You triage issues. Reply with JSON." },
  { role: "user", content: "The login button does nothing on Safari." },
];

/** One scripted HTTP reply of a provider: its status, its JSON body, any headers beyond the content type. */
export type ScriptedReply = { status: number; body: unknown; headers?: Record<string, string> };

/** Answers POSTs to `path` on `scope` with `replies` in order, recording each request body as `parse` reads it. */
export function scriptPosts<T>(scope: nock.Scope, path: string, parse: (body: unknown) => T, replies: ScriptedReply[]): { scope: nock.Scope; bodies: T[] } {
  const bodies: T[] = [];
  for (const reply of replies) {
    scope
      .post(path, (body: unknown) => {
        bodies.push(parse(body));
        return true;
      })
      .reply(reply.status, JSON.stringify(reply.body), { "content-type": "application/json", ...reply.headers });
  }
  return { scope, bodies };
}

/** The ModelCallError `promise` rejects with (anything else, or no rejection, fails the test). */
export async function modelCallFailure(promise: Promise<unknown>): Promise<ModelCallError> {
  const error: unknown = await promise.then(
    () => undefined,
    (rejected: unknown) => rejected,
  );
  if (!(error instanceof ModelCallError)) throw new Error(`expected a ModelCallError, got ${String(error)}`);
  return error;
}

/** Where the provider tests' nock answers each provider. */
export const OPENAI_BASE = "https://gateway.openai.test";
export const GEMINI_BASE = "https://gemini.gateway.test";
export const OLLAMA_HOST = "http://ollama.gateway.test:11434";

const timeout = (timeoutMs: number | undefined) => (timeoutMs ? { defaultTimeoutMs: timeoutMs } : {});

/** The tests' OpenAI employee (gpt-4.1) at OPENAI_BASE (or `baseUrl`), priced by testPrices() at TEST_NOW. */
export function openAIClient(overrides: { baseUrl?: string; timeoutMs?: number } = {}) {
  return createModelClient(
    { id: "openai-senior", provider: "openai", model: "gpt-4.1" },
    { OPENAI_API_KEY: "sk-test", OPENAI_BASE_URL: `${overrides.baseUrl ?? OPENAI_BASE}/v1` },
    { prices: testPrices(), now: () => TEST_NOW, ...timeout(overrides.timeoutMs) },
  );
}

/** The tests' Gemini employee (gemini-2.5-flash) at GEMINI_BASE. */
export function geminiClient(timeoutMs?: number) {
  return createModelClient(
    { id: "gemini-flash", provider: "gemini", model: "gemini-2.5-flash" },
    { GEMINI_API_KEY: "gm-test", GEMINI_BASE_URL: GEMINI_BASE },
    { prices: testPrices(), now: () => TEST_NOW, ...timeout(timeoutMs) },
  );
}

/** The tests' Ollama employee (qwen2.5-coder:7b) at OLLAMA_HOST. testPrices() has no entry for it: ollama models are free without one. */
export function ollamaClient(timeoutMs?: number) {
  return createModelClient(
    { id: "local-coder", provider: "ollama", model: "qwen2.5-coder:7b" },
    { OLLAMA_HOST },
    { prices: testPrices(), now: () => TEST_NOW, ...timeout(timeoutMs) },
  );
}

/** What a turn that must fail rejects with (a turn that succeeds fails the test). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected the turn to fail");
    },
    (error: unknown) => error,
  );
}
