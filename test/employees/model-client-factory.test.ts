// createModelClient: it builds the right provider from an employee and the environment, and refuses to
// build one that could not run or could not be costed.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { UnknownPriceError } from "../../src/models/prices.js";
import { createModelClient, isProviderConfigured, ProviderNotConfiguredError } from "../../src/models/providers/index.js";
import { UnsupportedSchemaError } from "../../src/models/json-schema.js";
import { openAIReply, TEST_NOW, testPrices } from "./provider-fixtures.js";

const options = { prices: testPrices(), now: () => TEST_NOW };

describe("createModelClient", () => {
  it("builds a client for each provider that reports its provider and model", () => {
    const env = { OPENAI_API_KEY: "sk", GEMINI_API_KEY: "gm", OLLAMA_HOST: "http://127.0.0.1:11434" };

    const clients = [
      createModelClient({ id: "a", provider: "openai", model: "gpt-4.1" }, env, options),
      createModelClient({ id: "b", provider: "gemini", model: "gemini-2.5-flash" }, env, options),
      createModelClient({ id: "c", provider: "ollama", model: "llama3.2" }, env, options),
    ];

    expect(clients.map((client) => [client.provider, client.model])).toEqual([
      ["openai", "gpt-4.1"],
      ["gemini", "gemini-2.5-flash"],
      ["ollama", "llama3.2"],
    ]);
  });

  it("refuses an employee whose provider key is missing, naming the variable", () => {
    const build = () => createModelClient({ id: "gem", provider: "gemini", model: "gemini-2.5-flash" }, {}, options);

    expect(build).toThrow(ProviderNotConfiguredError);
    expect(build).toThrow(/GEMINI_API_KEY/);
    expect(isProviderConfigured("ollama", {})).toBe(true);
    expect(isProviderConfigured("openai", {})).toBe(false);
  });

  it("refuses a paid model with no price instead of costing it at zero", () => {
    const build = () => createModelClient({ id: "x", provider: "openai", model: "gpt-unlisted" }, { OPENAI_API_KEY: "sk" }, options);

    expect(build).toThrow(UnknownPriceError);
  });

  it("sends requests to OpenAI's own endpoint when OPENAI_BASE_URL is unset", async () => {
    nock("https://api.openai.com").post("/v1/chat/completions").reply(200, openAIReply('{"ok":true}'));
    const client = createModelClient({ id: "a", provider: "openai", model: "gpt-4.1" }, { OPENAI_API_KEY: "sk" }, options);

    const result = await client.generate({ name: "Ok", schema: z.object({ ok: z.boolean() }), messages: [] });

    expect(result.value).toEqual({ ok: true });
  });

  it("rejects a schema it cannot convert before any request is sent", async () => {
    const client = createModelClient({ id: "a", provider: "openai", model: "gpt-4.1" }, { OPENAI_API_KEY: "sk" }, options);

    const outcome = client.generate({ name: "Bad", schema: z.object({ map: z.record(z.string(), z.number()) }), messages: [] });

    await expect(outcome).rejects.toBeInstanceOf(UnsupportedSchemaError);
  });
});
