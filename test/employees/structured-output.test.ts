// The shared structured-output loop on its own seam (a scripted provider turn): the cases the provider
// tests do not reach through HTTP.
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ModelCallError, type Usage } from "../../src/models/model-client.js";
import { generateStructured, type ProviderReply, type ProviderTurn } from "../../src/models/structured-output.js";

const Answer = z.object({ answer: z.string() });
const usage: Usage = { input: 10, cachedInput: 0, output: 5 };

function scripted(steps: (ProviderReply | Error)[]): ProviderTurn {
  let index = 0;
  return async () => {
    const step = steps[index];
    index += 1;
    if (step === undefined) throw new Error("script exhausted");
    if (step instanceof Error) throw step;
    return step;
  };
}

function run(call: ProviderTurn, signal?: AbortSignal) {
  return generateStructured({
    provider: "ollama",
    model: "llama3.2",
    request: { name: "Answer", schema: Answer, messages: [{ role: "user", content: "hi" }], ...(signal ? { signal } : {}) },
    call,
    classify: () => ({ kind: "server", message: "boom", status: 503 }),
    cost: (u) => u.output * 0.001,
  });
}

describe("generateStructured", () => {
  it("accepts JSON wrapped in a Markdown fence, as some local models write it", async () => {
    const call = scripted([{ text: '```json\n{"answer":"42"}\n```', usage }]);

    const result = await run(call);

    expect(result.value).toEqual({ answer: "42" });
    expect(result.attempts).toBe(1);
  });

  it("reports usage, cost and the re-asks made so far when the provider fails during a re-ask", async () => {
    const call = scripted([{ text: "{}", usage }, new Error("socket hang up")]);

    const error: unknown = await run(call).catch((rejected: unknown) => rejected);

    expect(error).toBeInstanceOf(ModelCallError);
    const failure = error instanceof ModelCallError ? error : undefined;
    expect(failure?.kind).toBe("server");
    expect(failure?.details).toMatchObject({ attempts: 2, usage, status: 503 });
    expect(failure?.details.costUsd).toBeCloseTo(0.005, 12);
    expect(failure?.details.reasks).toHaveLength(1);
  });

  it("passes a caller's abort through as the caller's reason, not as a provider failure", async () => {
    const controller = new AbortController();
    const call: ProviderTurn = ({ signal }) => new Promise((_, reject) => signal.addEventListener("abort", () => reject(new Error("sdk aborted"))));

    const outcome = run(call, controller.signal);
    controller.abort(new Error("requirement closed"));

    await expect(outcome).rejects.toThrow("requirement closed");
  });

  it("tells the model its refusal is not an answer and counts it as a re-ask", async () => {
    const call = scripted([
      { text: "", usage, refusal: "I can't help with that." },
      { text: '{"answer":"ok"}', usage },
    ]);

    const result = await run(call);

    expect(result.reasks).toEqual(["- the model refused: I can't help with that."]);
    expect(result.usage).toEqual({ input: 20, cachedInput: 0, output: 10 });
  });
});
