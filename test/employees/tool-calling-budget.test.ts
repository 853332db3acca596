// A turn's budget: budgetedTurn reserves the turn's worst case (its prompt bound with the tool schemas, and
// the full output limit; with re-asks under the action protocol), lets the turn write up to the employee's
// whole limit, and settles what the provider billed, also for a failed turn. Real PostgreSQL for the
// reservation, the real OpenAI SDK with nock for the turns.
import nock from "nock";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { EffectiveBudgets } from "../../src/config/repo-config.js";
import { BudgetExhausted, budgetedTurn, callDeadlineMs, RESERVATION_MARGIN_MS, turnWorstCase } from "../../src/models/budgets.js";
import { ModelCallError } from "../../src/models/model-client.js";
import { turnPromptTokenBound } from "../../src/models/tool-turn.js";
import type { ToolTurnRequest } from "../../src/models/tool-calling.js";
import { loadFixture, openAIReply, TEST_NOW } from "./provider-fixtures.js";
import { gpt4oClient as client, GPT_4O_PRICE as price, ROOMY_BUDGETS as roomy, useSpendSubject } from "./spend-fixtures.js";
import { openAIToolReply, request } from "./tool-calling-fixtures.js";

const MAX_TOKENS_PER_CALL = 8_000;
const TIMEOUT_MS = 60_000;
const spend = useSpendSubject({ taskKey: "agent", employeeId: "gpt-4o" });

const SentLimit = z.object({ max_completion_tokens: z.number() });

/** OpenAI billing the dearest usage the turn's bound allows: every prompt token uncached, and the whole output limit. */
function dearestOpenAI(turn: ToolTurnRequest, bodies: unknown[]): { limits: number[] } {
  const limits: number[] = [];
  nock("https://api.openai.com")
    .post("/v1/chat/completions")
    .reply(200, (_uri, raw) => {
      bodies.push(raw);
      const limit = SentLimit.parse(raw).max_completion_tokens;
      limits.push(limit);
      const prompt = turnPromptTokenBound(turn);
      return {
        ...openAIToolReply([{ id: "call_1", name: "search", arguments: '{"pattern":"x"}' }]),
        usage: { prompt_tokens: prompt, completion_tokens: limit, total_tokens: prompt + limit },
      };
    });
  return { limits };
}

type SpendRow = { state: string; reserved_usd: number; reserved_tokens: number; usd: number; tokens: number; expires_at: Date };

async function spendRow(purpose: string): Promise<SpendRow> {
  const { rows } = await spend.db.pool.query<SpendRow>(
    "SELECT state, reserved_usd::float8 AS reserved_usd, reserved_tokens::float8 AS reserved_tokens, usd::float8 AS usd, tokens::float8 AS tokens, expires_at FROM model_spend WHERE purpose = $1",
    [purpose],
  );
  expect(rows).toHaveLength(1);
  return rows[0] as SpendRow;
}

function input(purpose: string, turn: ToolTurnRequest, budgets: EffectiveBudgets = roomy) {
  return { subject: spend.subject, budgets, purpose, at: TEST_NOW, turn, maxOutputTokens: MAX_TOKENS_PER_CALL, timeoutMs: TIMEOUT_MS, price };
}

describe("budgetedTurn", () => {
  it("reserves the turn's worst case, lets the turn write the employee's full limit, and settles what was billed", async () => {
    // A long observation in the conversation: the prompt bound, not a guess, decides the reservation.
    const turn = request({ messages: [...request().messages, { role: "user", content: "x".repeat(200_000) }] });
    const bodies: unknown[] = [];
    const openai = dearestOpenAI(turn, bodies);
    const seen: SpendRow[] = [];

    const result = await budgetedTurn(spend.db.pool, input("turn-native", turn), async (bounds) => {
      seen.push(await spendRow("turn-native"));
      return client().turn({ ...turn, ...bounds });
    });

    const expected = turnWorstCase({ turn, maxOutputTokens: MAX_TOKENS_PER_CALL, price });
    expect(expected.usd).toBeCloseTo((turnPromptTokenBound(turn) * 2.5 + MAX_TOKENS_PER_CALL * 10) / 1e6, 10);
    expect(seen[0]?.state).toBe("reserved");
    expect(seen[0]?.reserved_usd).toBeCloseTo(expected.usd, 5);
    expect(seen[0]?.reserved_tokens).toBe(expected.tokens);
    expect(seen[0]?.expires_at.getTime()).toBe(TEST_NOW.getTime() + TIMEOUT_MS + RESERVATION_MARGIN_MS);
    expect(openai.limits).toEqual([MAX_TOKENS_PER_CALL]);
    expect(result.toolCalls[0]?.arguments).toEqual({ pattern: "x" });
    const row = await spendRow("turn-native");
    expect(row.state).toBe("settled");
    expect(row.usd).toBeCloseTo(result.costUsd, 5);
    expect(result.costUsd).toBeLessThanOrEqual(expected.usd + 1e-12);
    expect(row.tokens).toBe(result.usage.input + result.usage.cachedInput + result.usage.output);
  });

  it("reserves the re-asks too under the action protocol, for every attempt's deadline", async () => {
    const turn = request({ protocol: "actions" });
    nock("https://api.openai.com")
      .post("/v1/chat/completions")
      .reply(200, openAIReply(JSON.stringify({ thought: "look", tool: "search", arguments_json: '{"pattern":"x"}' })));
    const seen: SpendRow[] = [];

    await budgetedTurn(spend.db.pool, input("turn-actions", turn), async (bounds) => {
      seen.push(await spendRow("turn-actions"));
      return client().turn({ ...turn, ...bounds });
    });

    const native = turnWorstCase({ turn: { ...turn, protocol: "native" }, maxOutputTokens: MAX_TOKENS_PER_CALL, price });
    const actions = turnWorstCase({ turn, maxOutputTokens: MAX_TOKENS_PER_CALL, price });
    expect(actions.usd).toBeGreaterThan(3 * native.usd * 0.9);
    expect(seen[0]?.reserved_usd).toBeCloseTo(actions.usd, 5);
    expect(seen[0]?.expires_at.getTime()).toBe(TEST_NOW.getTime() + callDeadlineMs(TIMEOUT_MS) + RESERVATION_MARGIN_MS);
    expect((await spendRow("turn-actions")).state).toBe("settled");
  });

  it("settles a failed turn with what it used and passes the failure on", async () => {
    const turn = request();
    nock("https://api.openai.com").post("/v1/chat/completions").reply(500, loadFixture("openai-error-500.json"));

    const error = await budgetedTurn(spend.db.pool, input("turn-failed", turn), (bounds) => client().turn({ ...turn, ...bounds })).then(
      () => undefined,
      (rejected: unknown) => rejected,
    );

    expect(error instanceof ModelCallError && error.kind).toBe("server");
    const row = await spendRow("turn-failed");
    expect(row.state).toBe("settled");
    expect(row.usd).toBe(0);
  });

  it("refuses a turn whose worst case does not fit the task's cap, without calling the model", async () => {
    const turn = request();
    const worst = turnWorstCase({ turn, maxOutputTokens: MAX_TOKENS_PER_CALL, price });
    const tight = { ...roomy, perTask: { tokens: 100_000_000, usd: worst.usd / 2 } };
    let called = false;

    const error = await budgetedTurn(spend.db.pool, input("turn-refused", turn, tight), (bounds) => {
      called = true;
      return client().turn({ ...turn, ...bounds });
    }).then(
      () => undefined,
      (rejected: unknown) => rejected,
    );

    expect(error).toBeInstanceOf(BudgetExhausted);
    expect(error instanceof BudgetExhausted && error.scope).toBe("task");
    expect(called).toBe(false);
  });
});
