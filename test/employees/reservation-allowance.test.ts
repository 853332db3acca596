// A reservation pays for what the call will be allowed: the budget reserves the worst case with the same
// prompt bound each attempt's output limit subtracts (one token per UTF-8 byte, plus framing and schema), so a
// huge prompt or a CJK one still gets the employee's full output limit on the first attempt and on every
// re-ask. Real PostgreSQL for the reservation, the real OpenAI SDK with nock for the calls.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { EffectiveBudgets } from "../../src/config/repo-config.js";
import { budgetedCall, reserveSpend, settledCall, worstCase, type SpendSubject } from "../../src/models/budgets.js";
import { toStrictJsonSchema } from "../../src/models/json-schema.js";
import { OutputAllowanceTooSmall, type ChatMessage } from "../../src/models/model-client.js";
import { promptTokenBound } from "../../src/models/structured-output.js";
import { insertRequirement } from "../helpers/services.js";
import { openAIReply, TEST_NOW } from "./provider-fixtures.js";
import { gpt4oClient as client, GPT_4O_PRICE as price, ROOMY_BUDGETS as budgets, useSpendSubject } from "./spend-fixtures.js";

/** The employee's own output limit per call. */
const MAX_TOKENS_PER_CALL = 8_000;
const Triage = z.object({ summary: z.string().min(1), severity: z.enum(["low", "high"]) });
const valid = JSON.stringify({ summary: "Login broken on Safari", severity: "high" });
const schemaBytes = Buffer.byteLength(JSON.stringify(toStrictJsonSchema(Triage)), "utf8");
const spend = useSpendSubject({ taskKey: "big-prompt", employeeId: "gpt-4o" });

const SentBody = z.object({ max_completion_tokens: z.number(), messages: z.array(z.object({ content: z.string() })) });

/**
 * OpenAI answering each request with the next text and the dearest usage it could bill: one prompt token per
 * UTF-8 byte of the messages and schema as sent, and the whole output limit.
 */
function worstCaseOpenAI(texts: string[]): { limits: number[] } {
  const limits: number[] = [];
  const scope = nock("https://api.openai.com");
  for (const text of texts) {
    scope.post("/v1/chat/completions").reply(200, (_uri, raw) => {
      const body = SentBody.parse(raw);
      limits.push(body.max_completion_tokens);
      const prompt = body.messages.reduce((sum, message) => sum + Buffer.byteLength(message.content, "utf8"), schemaBytes);
      const reply = openAIReply(text);
      return { ...reply, usage: { prompt_tokens: prompt, completion_tokens: body.max_completion_tokens, total_tokens: prompt + body.max_completion_tokens } };
    });
  }
  return { limits };
}

async function spendRow(purpose: string): Promise<{ state: string; reserved_usd: number; usd: number }> {
  const { rows } = await spend.db.pool.query<{ state: string; reserved_usd: number; usd: number }>(
    "SELECT state, reserved_usd::float8 AS reserved_usd, usd::float8 AS usd FROM model_spend WHERE purpose = $1",
    [purpose],
  );
  expect(rows).toHaveLength(1);
  return rows[0] ?? { state: "missing", reserved_usd: 0, usd: 0 };
}

/** A reserved call of `messages`, through budgetedCall as the work loop, planning and the advisory review make it. */
const reservedCall = (messages: ChatMessage[], purpose: string) =>
  budgetedCall(
    spend.db.pool,
    {
      subject: spend.subject,
      budgets,
      purpose,
      at: TEST_NOW,
      prompt: { messages, schema: Triage },
      maxOutputTokens: MAX_TOKENS_PER_CALL,
      timeoutMs: 60_000,
      price,
    },
    (bounds) => client().generate({ name: "Triage", schema: Triage, messages, ...bounds }),
  );

// An invalid reply as long in bytes as the output tokens it is billed for (so the worst-case usage above holds).
const invalidReply = "x".repeat(MAX_TOKENS_PER_CALL);

describe("a reservation pays for the output limit of every attempt", () => {
  it("a 400,000-character prompt gets the employee's full 8000 output tokens on the first attempt and on both re-asks", async () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "You triage issues. Reply with JSON." },
      { role: "user", content: `Triage this log:\n${"GET /login 500 Safari 17.4 timeout\n".repeat(11_429)}` },
    ];
    expect(messages[1]?.content.length).toBeGreaterThan(400_000);
    const openai = worstCaseOpenAI([invalidReply, invalidReply, valid]);

    const result = await reservedCall(messages, "big-ascii");

    expect(openai.limits).toEqual([MAX_TOKENS_PER_CALL, MAX_TOKENS_PER_CALL, MAX_TOKENS_PER_CALL]);
    expect(result.attempts).toBe(3);
    const row = await spendRow("big-ascii");
    expect(row.state).toBe("settled");
    expect(row.usd).toBeCloseTo(result.costUsd, 5);
    expect(row.usd).toBeLessThanOrEqual(row.reserved_usd);
  });

  it("a CJK prompt (three UTF-8 bytes a character) gets the full 8000 output tokens on the first attempt and on a re-ask", async () => {
    const messages: ChatMessage[] = [
      { role: "system", content: "你负责分类问题。只用 JSON 回答。" },
      { role: "user", content: `请分类这个问题：${"登录按钮在 Safari 上没有反应。".repeat(8_000)}` },
    ];
    expect(Buffer.byteLength(messages[1]?.content ?? "", "utf8")).toBeGreaterThan(3 * 100_000);
    const openai = worstCaseOpenAI([invalidReply, valid]);

    const result = await reservedCall(messages, "big-cjk");

    expect(openai.limits).toEqual([MAX_TOKENS_PER_CALL, MAX_TOKENS_PER_CALL]);
    expect(result.attempts).toBe(2);
    const row = await spendRow("big-cjk");
    expect(row.usd).toBeLessThanOrEqual(row.reserved_usd);
  });

  it("a call the budget ends is settled with what its attempts cost", async () => {
    const messages: ChatMessage[] = [{ role: "user", content: "The login button does nothing on Safari." }];
    const { reservationId } = await reserveSpend(spend.db.pool, {
      subject: spend.subject,
      budgets,
      amount: { tokens: 5_000, usd: 0.01 },
      purpose: "cut-short",
      deadlineMs: 60_000,
      at: TEST_NOW,
    });
    nock("https://api.openai.com")
      .post("/v1/chat/completions")
      .reply(200, () => {
        const reply = openAIReply('{"summary": "Login bro');
        const choices = z.array(z.record(z.string(), z.unknown())).parse(reply.choices);
        return {
          ...reply,
          choices: choices.map((choice) => ({ ...choice, finish_reason: "length" })),
          usage: { prompt_tokens: 300, completion_tokens: 900, total_tokens: 1_200 },
        };
      });

    const error = await settledCall(spend.db.pool, reservationId, () =>
      client().generate({ name: "Triage", schema: Triage, messages, maxOutputTokens: MAX_TOKENS_PER_CALL, maxCostUsd: 0.01 }),
    ).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(OutputAllowanceTooSmall);
    expect((error as OutputAllowanceTooSmall).details.reason).toBe("truncated");
    const row = await spendRow("cut-short");
    expect(row.state).toBe("settled");
    expect(row.usd).toBeCloseTo((300 * 2.5 + 900 * 10) / 1e6, 10);
  });
});

describe("token caps count volume, dollars count the strict bound", () => {
  it("reserves a 100 KB English context under the default per-task token cap, while the dollars still cover one token per byte", async () => {
    const defaults: EffectiveBudgets = { ...budgets, perTask: { tokens: 400_000, usd: 2 } };
    // A task of its own: the calls above spent their task's dollars.
    const { requirementId, taskIds } = await insertRequirement(spend.db, { issueNumber: 2, tasks: [{ key: "full-context" }] });
    const fresh: SpendSubject = { ...spend.subject, requirementId, taskId: taskIds["full-context"] ?? 0 };
    const messages: ChatMessage[] = [
      { role: "system", content: "You triage issues. Reply with JSON." },
      { role: "user", content: `Context:\n${"export function handler(request) { return render(request.body); }\n".repeat(1_550)}` },
    ];
    const bound = promptTokenBound(messages, Triage);
    expect(bound).toBeGreaterThan(100_000);
    const amount = worstCase({ promptTokens: bound, maxOutputTokens: 16_384, price });
    worstCaseOpenAI([valid]);

    const result = await budgetedCall(
      spend.db.pool,
      {
        subject: fresh,
        budgets: defaults,
        purpose: "full-context",
        at: TEST_NOW,
        prompt: { messages, schema: Triage },
        maxOutputTokens: 16_384,
        timeoutMs: 60_000,
        price,
      },
      (bounds) => client().generate({ name: "Triage", schema: Triage, messages, ...bounds }),
    );

    expect(result.attempts).toBe(1);
    expect(amount.tokens).toBeLessThan(400_000);
    expect(amount.usd).toBeGreaterThanOrEqual((3 * bound * 2.5 + 3 * 16_384 * 10) / 1e6);
    expect((await spendRow("full-context")).state).toBe("settled");
  });
});
